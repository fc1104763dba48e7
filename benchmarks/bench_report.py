"""`proxylab report --from` on 4, 40 and 400 captures: wall time, peak RSS and PSS of
the whole process tree (the CLI, its kernel and Chromium printing the PDF, sampled),
and the size of index.html.
Issue 16 aims for 4 captures <= 6 s; 400 captures <= 60 s, <= 800 MB, index.html
<= 5 MB.

The 40 and 400 are copies of the seed's four fixture captures under new run ids
(benchmarks/gen_captures.py). Each repetition starts with an empty derived-tables
cache ("cold": everything parsed); ``warm`` repeats one render on the cache the cold
one left (what a second render of the same set, e.g. in another language, costs).
``--against CHECKOUT`` (repeatable) runs another checkout's proxylab (e.g. /work/main)
on the same captures in the same minutes, so a loaded machine compares like with like;
each is named by its directory.

    .venv/bin/python benchmarks/bench_report.py [--sizes 4 40 400] [--repeat 3]
        [--against /work/main] [--against-sizes 4 40] [--no-pdf] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen_captures import copies  # noqa: E402


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """RSS and PSS summed over the tree. RSS counts a page once per process that maps
    it, so Chromium's processes (one binary, forked from one zygote) count its
    libraries many times over; PSS shares each page among the processes mapping it."""
    rss = pss = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            mem = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        rss += mem.rss
        pss += getattr(mem, "pss", mem.rss)
    return rss, pss


def _knows_pdf(checkout: Path | None) -> bool:
    """Whether that checkout's `report` prints PDFs (and so takes --no-pdf)."""
    cli = (checkout or HERE.parent) / "lib" / "proxylab" / "commands" / "report.py"
    return "--no-pdf" in cli.read_text(encoding="utf-8")


def render(captures: Path, out: Path, tables: Path, checkout: Path | None,
           timeout: float = 1800, pdf: bool = True) -> dict[str, float]:
    """One `proxylab report --from`: seconds, peak tree RSS (MB), index.html (MB)."""
    env = {**os.environ, "PROXYLAB_TABLES": str(tables)}
    cwd = None
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout / "lib")
        cwd = str(checkout)
    cmd = [sys.executable, "-m", "proxylab.cli", "report", "--from", str(captures),
           "--out", str(out), "--quiet"]
    if not pdf and _knows_pdf(checkout):
        cmd.append("--no-pdf")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    peak = peak_pss = 0
    while proc.poll() is None:
        rss, pss = _tree_rss(ps)
        peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"report on {captures} took over {timeout} s")
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"report failed ({proc.returncode}): {proc.stderr.read()[-2000:]!r}")
    return {"seconds": round(seconds, 2), "peak_mb": round(peak / 2**20, 1),
            "peak_pss_mb": round(peak_pss / 2**20, 1),
            # (checkouts before --out named the report's own directory wrote below it)
            "html_mb": round(next(out.rglob("index.html")).stat().st_size / 2**20, 2)}


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[4, 40, 400])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--against", type=Path, action="append", default=[],
                   help="another checkout to compare with (repeatable)")
    p.add_argument("--against-sizes", type=int, nargs="+",
                   help="sizes to run the other checkout on (default: all; 400 took "
                        "~340 s before issue 16)")
    p.add_argument("--no-pdf", dest="pdf", action="store_false",
                   help="no PDF (as before the report printed one; default: a PDF when "
                        "Chromium is installed, as `proxylab report` does)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="proxylab-bench-report-") as tmp:
        root = Path(tmp)
        for n in args.sizes:
            caps = root / f"c{n}"
            copies(caps, n)
            contenders: list[tuple[str, Path | None]] = [("this", None)]
            if args.against_sizes is None or n in args.against_sizes:
                contenders += [(c.resolve().name, c.resolve()) for c in args.against]
            # Alternating, one repetition of each in turn: on a shared machine the load
            # changes by the minute, and both sides then meet the same load.
            cold: dict[str, list[dict[str, float]]] = {name: [] for name, _ in contenders}
            loads = []
            for i in range(args.repeat):
                for name, checkout in contenders:
                    cold[name].append(render(caps, root / f"out-{name}-{n}-{i}",
                                             root / f"tables-{name}-{n}-{i}", checkout,
                                             pdf=args.pdf))
                    loads.append(os.getloadavg()[0])
            for name, checkout in contenders:
                warm = render(caps, root / f"out-{name}-{n}-warm",
                              root / f"tables-{name}-{n}-{args.repeat - 1}", checkout,
                              pdf=args.pdf)
                results.setdefault(str(n), {})[f"{name} cold"] = _median(cold[name])
                results[str(n)][f"{name} warm"] = warm
                if not args.json:
                    print(f"{n:4d} captures  {name:10s} cold median of {len(cold[name])}: "
                          f"{_median(cold[name])}  warm: {warm}  "
                          f"(load {min(loads):.1f}-{max(loads):.1f})", flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
