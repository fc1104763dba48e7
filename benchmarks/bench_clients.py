"""Wall time of `proxylab clients` on the default set (every client x every case) on
the local lab, lab already up. Issue 12 aims for under 2 minutes (median). Also
prints the slowest cells, where the time goes (a direct cell is its timeout).

    .venv/bin/python benchmarks/bench_clients.py [--repeat 3] [--workers 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from proxylab.clients import cases, registry
from proxylab.clients.measure import DEFAULT_WORKERS, measure
from proxylab.labs import get_lab

LAB = "benchclients"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    lab = get_lab("local", name=LAB)
    walls: list[float] = []
    cells = 0
    slowest: list[tuple[float, str]] = []
    try:
        lab.up()
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            m = measure(lab, registry.select(None), cases.select(None), workers=args.workers,
                        keep_lab=True)
            walls.append(time.perf_counter() - t0)
            ran = [c for c in m.cells if c.elapsed_s is not None]
            cells = len(ran)
            slowest = sorted(((c.elapsed_s or 0.0, f"{c.client} x {c.case}") for c in ran),
                             reverse=True)[:5]
    finally:
        lab.down()
    result = {"cells": cells, "workers": args.workers,
              "wall_s_median": round(statistics.median(walls), 2),
              "wall_s": [round(w, 2) for w in walls],
              "slowest_cells": [{"cell": name, "s": s} for s, name in slowest]}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"clients matrix: {cells} cells, {args.workers} at a time: median "
              f"{result['wall_s_median']} s over {len(walls)} ({result['wall_s']})")
        for s, name in slowest:
            print(f"  slowest: {name} {s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
