"""`proxylab audit` throughput and memory against GoAccess 1.7, and the engine choice.

    python benchmarks/bench_audit.py                      # 1M and 5M lines, 3 repeats
    python benchmarks/bench_audit.py --lines 1000000 --repeat 5
    python benchmarks/bench_audit.py --engines            # also the engine comparison
    python benchmarks/bench_audit.py --no-goaccess
    python benchmarks/bench_audit.py --against /tmp/before   # another checkout, same run

Rows: ``proxylab audit`` (default reader: the compiled one when built), the same with
``--engine polars``, any ``--against`` checkouts, chDB's equal-work query (the grammar's
pattern) and a looser whitespace split (benchmarks/chdb_audit.py), GoAccess.
Logs are generated once into benchmarks/out/ (git-ignored) with
benchmarks/gen_squid_log.py and reused. Each measurement is a separate process
(``proxylab audit FILE --format json``, and GoAccess with a custom --log-format, since
its SQUID preset expects a syslog prefix); peak RSS is that of the whole process
tree, worker processes included (see run_measured). Prints medians: wall seconds,
lines/s, MB/s, peak RSS and the ratio to GoAccess, plus the CPU seconds (user+sys,
children included) each took, which a busy neighbour on a shared machine does not
inflate: lines per CPU-second x cores is the throughput the
tool reaches when it has the cores to itself. The load average is printed too.

``--engines`` times the candidate parsing engines in-process on the first log,
each computing the same per-(host, status) requests/bytes, plus the shipped pipeline
with each reader and how each reader scales with threads, to show why polars with
the padding fill was chosen (see proxylab/audit/parse.py).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
GOACCESS_FORMAT = "%x.%^ %~%L %h %^/%s %b %m %U %^ %^ %^"


# Issue 16's shape: ~2,000 hosts, 400 clients, 12% plain-HTTP URLs (the project's own
# generator defaults to ~250 hosts and 4 clients).
WIDE = ("--extra-hosts", "1950", "--clients", "400", "--http-ratio", "0.12")


def ensure_log(lines: int, span_days: float | None = None, wide: bool = False) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    tag = (f"-{span_days:g}d" if span_days else "") + ("-wide" if wide else "")
    path = OUT / f"squid-{lines // 1000}k{tag}.log"
    if not path.exists() or path.stat().st_size == 0:
        tmp = path.with_suffix(".tmp")
        cmd = [sys.executable, str(ROOT / "benchmarks" / "gen_squid_log.py"), str(tmp),
               "--lines", str(lines), *(WIDE if wide else ())]
        if span_days:
            cmd += ["--span-days", str(span_days)]
        subprocess.run(cmd, check=True, timeout=3600)
        tmp.rename(path)
    return path


def ensure_gzip(plain: Path) -> Path:
    """``plain`` gzip-compressed (level 6, gzip(1)'s default, as logrotate writes it)."""
    gz = plain.with_name(plain.name + ".gz")
    if not gz.exists():
        subprocess.run(f"gzip -6 -c {plain} > {gz}.tmp && mv {gz}.tmp {gz}", shell=True,
                       check=True, timeout=3600)
    return gz


def ensure_rotated(plain: Path, parts: int = 4) -> Path:
    """``plain`` cut into a rotated set: ``access.log``, ``access.log.1`` and older
    ``access.log.N.gz`` (as logrotate with delaycompress leaves it)."""
    d = plain.with_name(plain.stem + "-rotated")
    if d.is_dir() and any(d.iterdir()):
        return d
    d.mkdir(exist_ok=True)
    data = plain.read_bytes()
    cuts = [0]
    for k in range(1, parts):
        cuts.append(data.index(b"\n", len(data) * k // parts) + 1)
    cuts.append(len(data))
    for k in range(parts):  # newest last in the file = access.log
        part = data[cuts[parts - 1 - k]: cuts[parts - k]]
        name = d / ("access.log" if k == 0 else f"access.log.{k}")
        if k >= 2:
            with gzip.open(f"{name}.gz", "wb", compresslevel=6) as fh:
                fh.write(part)
        else:
            name.write_bytes(part)
    return d


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants started by main threads (/proc/<p>/task/<p>/children;
    audit workers are started by the main thread). One read per process keeps the
    sampler's own CPU use small on a 2-core machine."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


def _status_kb(pid: int, *keys: str) -> list[int]:
    vals = dict.fromkeys(keys, 0)
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                k = line.split(":", 1)[0]
                if k in vals:
                    vals[k] = int(line.split()[1])
    except OSError:
        pass
    return [vals[k] for k in keys]


def run_measured(cmd: list[str], timeout: float = 1800,
                 env: dict[str, str] | None = None) -> tuple[float, int, int, float, int]:
    """(wall s, peak RSS bytes, exit code, CPU s, sampled peak of the tree's summed RSS).

    ``proxylab audit`` runs worker processes on a large file, and wait4()'s ru_maxrss is
    the largest *single* process (children included only as a max), so memory is also
    sampled every 10 ms over the whole process tree: the peak RSS reported is the larger
    of (a) the peak of the summed RSS and (b) the sum of each process's own peak (VmHWM,
    as last seen) -- (b) is an upper bound, since processes need not peak together.
    Not wait4's ru_maxrss: Linux keeps a process's pre-exec high-water mark in it, and a
    child spawned from this (large) benchmark process starts in this one's memory.
    CPU seconds include reaped children (wait4 accumulates them).
    """
    t0 = time.perf_counter()
    peak_sum = 0
    hwm: dict[int, int] = {}
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null, stderr=subprocess.PIPE,
                                env=None if env is None else {**os.environ, **env})
        execd: set[int] = set()
        with open("/proc/self/cmdline", "rb") as fh:
            own = fh.read()
        root_cmdline = own
        for _ in range(1000):  # the command's own, once it has exec'd
            try:
                with open(f"/proc/{proc.pid}/cmdline", "rb") as fh:
                    root_cmdline = fh.read()
            except OSError:
                break
            if root_cmdline != own:
                break
            time.sleep(0.001)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            total = 0
            for p in _tree(proc.pid):
                if p != proc.pid and p not in execd:
                    # a child between fork and exec shares (and shows) its parent's
                    # memory: counted once it runs its own program
                    try:
                        with open(f"/proc/{p}/cmdline", "rb") as fh:
                            if fh.read() == root_cmdline:
                                continue
                    except OSError:
                        continue
                    execd.add(p)
                rss, peak = _status_kb(p, "VmRSS", "VmHWM")
                total += rss
                hwm[p] = max(hwm.get(p, 0), peak)
            peak_sum = max(peak_sum, total)
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise TimeoutError(" ".join(cmd))
            time.sleep(0.01)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(f"  ! {' '.join(cmd[:3])}... exited {code}: {err.strip()[-300:]}", file=sys.stderr)
    bound = max(sum(hwm.values()), peak_sum) * 1024
    return wall, bound, code, usage.ru_utime + usage.ru_stime, peak_sum * 1024


def audit_cmd(path: Path, *extra: str) -> list[str]:
    exe = shutil.which("proxylab", path=str(Path(sys.executable).parent)) or "proxylab"
    return [exe, "audit", str(path), "--format", "json", "--no-progress", *extra]


def against_cmd(path: Path, checkout: Path) -> tuple[list[str], dict[str, str]]:
    """Another checkout's ``proxylab audit`` (its ``lib`` first on PYTHONPATH, this venv's
    interpreter): the same logs, the same minutes, e.g. the revision before a change."""
    cmd = [sys.executable, "-m", "proxylab.cli", "audit", str(path), "--format", "json",
           "--no-progress"]
    return cmd, {"PYTHONPATH": str(checkout / "lib")}


def chdb_cmd(path: Path, variant: str) -> list[str] | None:
    try:
        import chdb  # noqa: F401
    except ImportError:
        return None
    target = f"{path}/*" if path.is_dir() else str(path)
    # the same work as the audit in one query: see benchmarks/chdb_audit.py
    return [sys.executable, str(ROOT / "benchmarks" / "chdb_audit.py"), target, variant, "3600"]


def goaccess_cmd(path: Path, out: Path) -> list[str] | None:
    exe = shutil.which("goaccess")
    if not exe or path.is_dir() or path.suffix == ".gz":
        return None
    return [exe, str(path), "--no-global-config", f"--log-format={GOACCESS_FORMAT}",
            "--date-format=%s", "--time-format=%s", "-o", str(out)]


def goaccess_version() -> str:
    try:
        out = subprocess.run(["goaccess", "--version"], capture_output=True, text=True,
                             timeout=10).stdout
        return out.splitlines()[0].strip()
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "not installed"


def row(name: str, lines: int, size: int, walls: list[float], rss: list[int],
        cpus: list[float], sampled: list[int]) -> dict:
    w = statistics.median(walls)
    return {"tool": name, "wall": w, "lines_s": lines / w, "mb_s": size / 1e6 / w,
            "rss_mb": max(rss) / 1e6, "runs": len(walls), "cpu": statistics.median(cpus),
            "sampled_mb": max(sampled) / 1e6}


def measure(name: str, cmd: list[str] | None, repeat: int, lines: int, size: int,
            env: dict[str, str] | None = None) -> dict | None:
    if not cmd:
        return None
    walls, rss, cpus, sampled = [], [], [], []
    for _ in range(repeat):
        w, r, code, c, smp = run_measured(cmd, env=env)
        if code == 0:
            walls.append(w)
            rss.append(r)
            cpus.append(c)
            sampled.append(smp)
    return row(name, lines, size, walls, rss, cpus, sampled) if walls else None


def bench_file(path: Path, lines: int, repeat: int, goaccess: bool, ga_repeat: int,
               chdb: bool, against: tuple[Path, ...] = ()) -> list[dict]:
    """Every tool on one input, one after the other (same minute, same load); the
    tools alternate per repeat so a load change hits them alike."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    size = sum(f.stat().st_size for f in files)
    with tempfile.TemporaryDirectory() as tmp:
        tools = [("proxylab audit", audit_cmd(path), repeat, None),
                 ("  --engine polars", audit_cmd(path, "--engine", "polars"), repeat, None)]
        for checkout in against:
            cmd, env = against_cmd(path, checkout)
            tools.append((f"  @{checkout.name}"[:16], cmd, repeat, env))
        if chdb:
            tools += [("chdb (grammar)", chdb_cmd(path, "grammar"), repeat, None),
                      ("chdb (split)", chdb_cmd(path, "split"), repeat, None)]
        if goaccess:
            tools.append(("goaccess", goaccess_cmd(path, Path(tmp) / "ga.json"), ga_repeat,
                          None))
        results: dict[str, list] = {name: [] for name, *_ in tools}
        for k in range(max(r for _, _, r, _ in tools)):
            for name, cmd, r, env in tools:
                if cmd and k < r:
                    m = measure(name, cmd, 1, lines, size, env)
                    if m:
                        results[name].append(m)
    rows = []
    for name, ms in results.items():
        if ms:
            rows.append(row(name, lines, size, [m["wall"] for m in ms],
                            [int(m["rss_mb"] * 1e6) for m in ms], [m["cpu"] for m in ms],
                            [int(m["sampled_mb"] * 1e6) for m in ms]))
    label = path.name + ("/ (" + ", ".join(f.name for f in files) + ")" if path.is_dir() else "")
    print(f"\n{label}: {lines:,} lines, {size / 1e6:.0f} MB on disk")
    ref = {r["tool"]: r for r in rows}
    ga, ch = ref.get("goaccess"), ref.get("chdb (grammar)")
    print(f"  {'tool':<16}{'wall s':>9}{'M lines/s':>11}{'peak RSS MB':>13}"
          f"{'(sampled)':>11}{'CPU s':>8}{'M lines/CPU-s':>15}{'chDB/x':>8}"
          f"{'GoAcc/x':>9}{'runs':>6}")
    for r in rows:
        vs_ch = f"{ch['wall'] / r['wall']:.2f}" if ch else "-"
        vs_ga = f"{ga['wall'] / r['wall']:.1f}" if ga else "-"
        print(f"  {r['tool']:<16}{r['wall']:>9.2f}{r['lines_s'] / 1e6:>11.2f}"
              f"{r['rss_mb']:>13.0f}{r['sampled_mb']:>11.0f}{r['cpu']:>8.2f}"
              f"{lines / r['cpu'] / 1e6:>15.2f}{vs_ch:>8}{vs_ga:>9}{r['runs']:>6}")
    print("  chDB/x, GoAcc/x: that tool's median wall time over this row's (> 1: this row is "
          "faster); peak RSS: the whole process tree (sum of per-process peaks, an upper "
          "bound); (sampled): peak of the summed RSS, sampled every 10 ms")
    return rows


# ----------------------------------------------------------------- engine comparison

def engines(path: Path, repeat: int) -> None:
    """Same aggregation, per candidate engine, in-process; medians of ``repeat`` runs."""
    import numpy as np

    data = path.read_bytes()
    n_lines = data.count(b"\n")
    regex = (r"^(?P<ts>\d+\.\d+) +(?P<elapsed>-?\d+) (?P<client>\S+) (?P<code>[A-Z_]+)/"
             r"(?P<status>\d{3}) (?P<bytes>\d+) (?P<method>\S+) (?:[A-Za-z][A-Za-z0-9+.-]*://)?"
             r"(?P<host>[^\s:/?#]+)\S* \S+ \S+ \S+$")

    def plain_python():
        agg: dict = {}
        for line in data.decode().splitlines():
            f = line.split()
            if len(f) != 10:
                continue
            k = (f[6], f[3])
            a = agg.setdefault(k, [0, 0])
            a[0] += 1
            a[1] += int(f[4])
        return len(agg)

    def pyarrow_regex():
        import pyarrow as pa
        import pyarrow.compute as pc

        a = np.frombuffer(data, np.uint8)
        nl = np.flatnonzero(a == 10)
        offs = np.concatenate(([0], nl + 1)).astype(np.int64)
        arr = pa.LargeStringArray.from_buffers(len(nl), pa.py_buffer(offs), pa.py_buffer(data))
        st = pc.extract_regex(arr, regex)
        t = pa.table({"host": pc.struct_field(st, "host"), "status": pc.struct_field(st, "status"),
                      "bytes": pc.cast(pc.struct_field(st, "bytes"), pa.int64())})
        return t.group_by(["host", "status"]).aggregate([("bytes", "sum"),
                                                         ("bytes", "count")]).num_rows

    def polars_regex():
        import polars as pl

        df = pl.read_csv(data, has_header=False, separator="\x1f", quote_char=None,
                         schema={"line": pl.String})
        return (df.select(pl.col("line").str.extract_groups(regex).alias("s")).unnest("s")
                .group_by("host", "status").agg(pl.col("bytes").cast(pl.Int64).sum(), pl.len())
                .height)

    def duckdb_regex():
        import duckdb

        con = duckdb.connect()
        try:
            return len(con.execute(
                f"select s.host, s.status, sum(cast(s.bytes as bigint)), count(*) from (select "
                f"regexp_extract(line, '{regex}', ['ts','elapsed','client','code','status',"
                f"'bytes','method','host']) s from read_csv("
                f"'{path}', columns={{'line':'VARCHAR'}}, delim='\x1f', quote='', escape='', "
                f"header=false, auto_detect=false)) where s.host <> '' group by all").fetchall())
        finally:
            con.close()

    filled = None

    def fill():
        nonlocal filled
        from proxylab.audit.parse import fill_padding

        b = bytearray(data)
        fill_padding(b)
        filled = bytes(b)

    def pyarrow_csv_filled():
        import pyarrow as pa
        import pyarrow.csv as pcsv

        names = ["ts", "el", "client", "cs", "bytes", "method", "url", "user", "hier", "ctype"]
        t = pcsv.read_csv(pa.py_buffer(filled), read_options=pcsv.ReadOptions(
            column_names=names), parse_options=pcsv.ParseOptions(delimiter=" ", quote_char=False,
                                                                  invalid_row_handler=lambda r:
                                                                  "skip"),
            convert_options=pcsv.ConvertOptions(include_columns=["ts", "client", "cs", "bytes",
                                                                 "method", "url"]))
        return t.group_by(["url", "cs"]).aggregate([("bytes", "sum"), ("bytes", "count")]).num_rows

    def duckdb_csv_filled():
        import duckdb

        with tempfile.NamedTemporaryFile(suffix=".log", dir=OUT) as tmp:
            tmp.write(filled)
            tmp.flush()
            con = duckdb.connect()
            t0 = time.perf_counter()
            n = len(con.execute(
                f"select column6, column3, sum(try_cast(column4 as bigint)), count(*) "
                f"from read_csv('{tmp.name}', "
                f"delim=' ', quote='', escape='', header=false, ignore_errors=true, "
                f"null_padding=true) group by all").fetchall())
            con.close()
            return n, time.perf_counter() - t0

    def proxylab_ingest(engine: str, processes: int = 1):  # the shipped pipeline
        from proxylab.audit.ingest import IngestOptions, ingest

        opts = IngestOptions(engine=engine, processes=processes)
        return lambda: ingest([str(path)], opts).by_request.height

    cands = [("plain Python (str.split)", plain_python), ("pyarrow regex", pyarrow_regex),
             ("polars regex", polars_regex), ("duckdb regex", duckdb_regex),
             ("pyarrow CSV after fill (+fill)", None), ("duckdb CSV after fill (+fill)", None),
             ("proxylab ingest, polars, 1 process", proxylab_ingest("polars")),
             ("proxylab ingest, --engine arrow, 1 process", proxylab_ingest("arrow")),
             ("proxylab ingest, polars, 2 processes (default)", proxylab_ingest("polars", 2))]
    print(f"\nengines on {path.name} ({n_lines:,} lines), in-process, median of {repeat}:")
    fill_times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fill()
        fill_times.append(time.perf_counter() - t0)
    fill_s = statistics.median(fill_times)
    for name, fn in cands:
        times, cpus = [], []
        try:
            for _ in range(repeat if fn is not plain_python else 1):
                if name.startswith("pyarrow CSV"):
                    t0 = time.perf_counter()
                    pyarrow_csv_filled()
                    times.append(time.perf_counter() - t0 + fill_s)
                elif name.startswith("duckdb CSV"):
                    times.append(duckdb_csv_filled()[1] + fill_s)
                else:
                    t0, c0 = time.perf_counter(), time.process_time()
                    fn()
                    times.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)  # this process only
        except ImportError as exc:
            print(f"  {name:<36} skipped ({exc.name} not installed)")
            continue
        med = statistics.median(times)
        cpu = f"  (CPU {statistics.median(cpus):.2f} s)" if cpus else ""
        print(f"  {name:<48}{med:>7.2f} s {n_lines / med / 1e6:>7.2f} M lines/s{cpu}")
    threads_scaling(data)


def threads_scaling(data: bytes) -> None:
    """Why the Arrow reader: polars' read_csv on an in-memory buffer holds the GIL and
    uses one thread; Arrow's releases the GIL and splits a chunk over its thread pool."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from proxylab.audit.parse import parse_native, prepare_chunk

    chunk = data[: 16 << 20]
    chunk = chunk[: chunk.rfind(b"\n") + 1]
    bufs = []
    for _ in range(8):
        b = bytes(bytearray(chunk))
        prepare_chunk(b, "native")
        bufs.append(b)

    def arrow(b: bytes, threads: bool) -> None:
        pcsv.read_csv(pa.py_buffer(b), read_options=pcsv.ReadOptions(
            column_names=[f"c{i}" for i in range(10)], use_threads=threads),
            parse_options=pcsv.ParseOptions(delimiter=" ", quote_char=False,
                                            invalid_row_handler=lambda r: "skip"))

    import threading

    def timed(fn, parallel: int) -> float:
        t0 = time.perf_counter()
        if parallel == 1:
            for b in bufs:
                fn(b)
        else:
            ts = [threading.Thread(target=lambda part=bufs[i::parallel]: [fn(b) for b in part])
                  for i in range(parallel)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        return time.perf_counter() - t0

    print("\nreader scaling, 8 x 16 MB chunks (s; lower is better):")
    print(f"  polars read_csv        1 thread {timed(parse_native, 1):.2f}"
          f"   2 Python threads {timed(parse_native, 2):.2f}")
    print(f"  Arrow read_csv         1 thread {timed(lambda b: arrow(b, False), 1):.2f}"
          f"   2 Python threads {timed(lambda b: arrow(b, False), 2):.2f}"
          f"   Arrow's own threads {timed(lambda b: arrow(b, True), 1):.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--goaccess-repeat", type=int, default=1)
    ap.add_argument("--no-goaccess", action="store_true")
    ap.add_argument("--no-chdb", action="store_true")
    ap.add_argument("--no-extra", action="store_true",
                    help="only the --lines logs (no 35-day, wide, gzip and rotated sets)")
    ap.add_argument("--engines", action="store_true")
    ap.add_argument("--against", type=Path, nargs="+", default=[], metavar="CHECKOUT",
                    help="also run these checkouts' proxylab audit (their lib/ on PYTHONPATH)")
    args = ap.parse_args(argv)
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f} goaccess: {goaccess_version()}")
    runs = [(ensure_log(n), n) for n in args.lines]
    if not args.no_extra:
        base = ensure_log(1_000_000)
        runs += [(ensure_log(5_000_000, span_days=35), 5_000_000),
                 (ensure_log(5_000_000, wide=True), 5_000_000),
                 (ensure_gzip(base), 1_000_000), (ensure_rotated(base), 1_000_000)]
    for path, n in runs:
        # GoAccess 1.7 stalls in a futex wait on the 20M-line log (seen twice: 2.2 of its
        # 2.7 GB read after 13 minutes, 10% CPU), so it runs up to 5M lines
        bench_file(path, n, args.repeat, not args.no_goaccess and n <= 5_000_000,
                   args.goaccess_repeat, not args.no_chdb, tuple(args.against))
    if args.engines:
        engines(ensure_log(args.lines[0]), args.repeat)
    print(f"\nload after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
