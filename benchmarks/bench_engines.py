"""`proxylab audit --engine NAME` on one machine: the in-process readers (polars, the
compiled c) against the SQL engines (DuckDB, chDB, Spark local mode), on the generated
5M-line log.

    python benchmarks/bench_engines.py                      # 5M lines, 3 repeats
    python benchmarks/bench_engines.py --lines 1000000 --repeat 5 --engines polars,spark

Each measurement is a separate process (``proxylab audit FILE --format json --engine
NAME --save-aggregates F``), so Spark's figure includes its JVM start-up (~10-20 s) as a
user would pay it; peak RSS is the whole process tree's (the JVM included), as in
bench_audit.py. Every run's aggregates are compared with the in-process engine's, so
a fast wrong answer cannot pass for a result. Prints medians and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_audit import _tree, audit_cmd, ensure_log, run_measured  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(cmd: list[str]) -> tuple[float, int, int, float]:
    """run_measured, with CPU seconds summed over the whole process tree as last seen
    in /proc (Spark's JVM is a grandchild that wait4's children total never sees)."""
    import threading

    seen: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in _tree(os.getpid()):
                if pid == os.getpid():
                    continue
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                seen[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
            stop.wait(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        wall, peak, code, cpu, _ = run_measured(cmd)
    finally:
        stop.set()
        t.join()
    return wall, peak, code, max(cpu, sum(seen.values()))


def _same(a: Path, b: Path) -> bool:
    from proxylab.audit import aggfile

    x, y = aggfile.read(a), aggfile.read(b)
    return (x.lines, x.parsed, x.malformed) == (y.lines, y.parsed, y.malformed) and all(
        getattr(x, t).sort(getattr(x, t).columns).equals(getattr(y, t).sort(getattr(y, t).columns))
        for t in ("by_request", "by_time", "by_client"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engines", default="polars,c,duckdb,chdb,spark")
    args = ap.parse_args(argv)
    path = ensure_log(args.lines)
    size = path.stat().st_size
    names = args.engines.split(",")
    if names[0] != "polars":
        names.insert(0, "polars")  # the oracle every engine is compared with
    print(f"{path.name}: {args.lines:,} lines, {size / 1e6:.0f} MB; load average at start "
          f"{os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs", flush=True)
    out = Path(tempfile.mkdtemp(prefix="bench-engines-"))
    print("| engine | wall (median) | min-max | lines/s | CPU s | peak RSS | same aggregates |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        walls, cpus, rss, same = [], [], [], True
        for k in range(args.repeat):
            agg = out / f"{name}-{k}.json"
            cmd = audit_cmd(path) + ["--engine", name, "--save-aggregates", str(agg)]
            wall, peak, code, cpu = tree_cpu(cmd)
            if code:
                same = False
                break
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
            same = same and _same(agg, out / "polars-0.json")
        if not walls:
            print(f"| {name} | failed | | | | | |", flush=True)
            continue
        med = statistics.median(walls)
        print(f"| {name} | {med:.1f} s | {min(walls):.1f}-{max(walls):.1f} s | "
              f"{args.lines / med / 1e6:.2f} M | {statistics.median(cpus):.1f} | "
              f"{statistics.median(rss) / 1e6:.0f} MB | {'yes' if same else 'NO'} |", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
