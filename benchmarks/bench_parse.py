"""Parse throughput of the capture parsers, and the report's wall time.

    python benchmarks/bench_parse.py                 # 1M-line Squid log, 3 repeats
    python benchmarks/bench_parse.py --lines 200000 --repeat 5
    python benchmarks/bench_parse.py --make-report   # also `make report` from cold (root, lab)

Prints medians. The Squid log is generated (seeded, reproducible): native lines
with varied padding, IPv4/IPv6 clients, CONNECT and absolute-URL requests,
NONE_NONE and HIER_NONE failures, and 0.1% malformed lines.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from proxylab.logs import squid  # noqa: E402

HOSTS = ["www.google.com", "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com",
         "q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com", "api.github.com",
         "pypi.org", "files.pythonhosted.org", "sts.ap-northeast-1.amazonaws.com"]


def generate(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    t = 1795534330.0
    out = []
    for i in range(n):
        t += rng.random() * 0.05
        client = "10.1.143.211" if rng.random() < 0.9 else "2001:db8::5"
        r = rng.random()
        if r < 0.001:
            out.append(f"{t:.3f} {rng.randint(0, 9)} {client} TCP_TUNNEL/200")  # truncated
            continue
        pad = " " * rng.randint(1, 6)
        host = rng.choice(HOSTS)
        if r < 0.02:
            line = (f"{t:.3f}{pad}0 {client} NONE_NONE/000 0 - error:transaction-end-before-headers"
                    f" - HIER_NONE/- -")
        elif r < 0.05:
            line = f"{t:.3f}{pad}3 {client} TCP_TUNNEL/503 0 CONNECT {host}:443 - HIER_NONE/- -"
        elif r < 0.15:
            line = (f"{t:.3f}{pad}{rng.randint(1, 900)} {client} TCP_MISS/200 "
                    f"{rng.randint(100, 90000)} GET http://{host}/p/{i} - "
                    f"HIER_DIRECT/198.18.1.{rng.randint(1, 250)} text/html")
        else:
            line = (f"{t:.3f}{pad}{rng.randint(1, 5000)} {client} TCP_TUNNEL/200 "
                    f"{rng.randint(100, 900000)} CONNECT {host}:443 - "
                    f"HIER_DIRECT/198.18.16.{rng.randint(1, 250)} -")
        out.append(line)
    return out


def bench_squid(lines: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log"
        path.write_text("\n".join(generate(lines)) + "\n")
        size = path.stat().st_size
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = squid.parse_lines(path.read_text().splitlines(), run_id="bench")
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"squid native, {lines:,} lines ({size / 1e6:.0f} MB): median {med:.2f} s "
              f"= {lines / med:,.0f} lines/s  (rows {len(res.frame):,}, malformed "
              f"{res.malformed_count:,}; runs {', '.join(f'{t:.2f}' for t in times)})")


def bench_report_from_fixtures(repeat: int) -> None:
    fixtures = sorted((ROOT / "tests" / "fixtures" / "captures").glob("2026*-seed-[1-4]-????"))
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "proxylab.cli", "report", "--from",
                            *map(str, fixtures), "--out", tmp, "--quiet"],
                           check=True, stdout=subprocess.DEVNULL, cwd=ROOT, timeout=600)
            times.append(time.perf_counter() - t0)
    print(f"proxylab report --from (4 fixture runs, 4 notebooks + render): median "
          f"{statistics.median(times):.1f} s (runs {', '.join(f'{t:.1f}' for t in times)})")


def bench_make_report() -> None:
    """`make report` from cold: no reports/seed, lab down. Needs root and the lab."""
    shutil.rmtree(ROOT / "reports" / "seed", ignore_errors=True)
    subprocess.run(["make", "-s", "lab-down"], cwd=ROOT, check=False, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.perf_counter()
    subprocess.run(["make", "report"], cwd=ROOT, check=True, timeout=1800)
    print(f"make report from cold: {time.perf_counter() - t0:.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--make-report", action="store_true")
    args = ap.parse_args()
    bench_squid(args.lines, args.repeat)
    bench_report_from_fixtures(min(args.repeat, 3))
    if args.make_report:
        bench_make_report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
