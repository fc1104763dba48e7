"""Bring-up and tear-down time of the local lab (issue 2: aim for up < 5 s, down < 2 s
on a 2-core machine). Prints the median of N cycles.

    .venv/bin/python benchmarks/bench_lab.py [--cycles 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from proxylab.labs import get_lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    lab = get_lab("local", name="bench")
    lab.down()
    ups, downs = [], []
    for _ in range(max(1, args.cycles)):
        t0 = time.perf_counter()
        lab.up()
        ups.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        left = lab.down()
        downs.append(time.perf_counter() - t0)
        if left:
            print(f"down left: {left}", file=sys.stderr)
            return 1
    result = {
        "benchmark": "lab",
        "cycles": len(ups),
        "up_median_s": round(statistics.median(ups), 3),
        "up_max_s": round(max(ups), 3),
        "down_median_s": round(statistics.median(downs), 3),
        "down_max_s": round(max(downs), 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"lab up:   median {result['up_median_s']:.2f} s (max {result['up_max_s']:.2f} s)"
            f" over {len(ups)} cycles\n"
            f"lab down: median {result['down_median_s']:.2f} s (max {result['down_max_s']:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
