"""Time of the seed's four runs on the local lab: warm (lab already up) and cold
(lab brought up and down by the run). Issue 3 aims for under 2 s per run warm.
Prints medians; per-stage medians (apply, describe, mark, invoke, collect, write)
come from the captures' run.json timings.

    .venv/bin/python benchmarks/bench_runs.py [--warm 5] [--cold 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from proxylab.capture import read_capture
from proxylab.labs import get_lab
from proxylab.runner import run_catalog

LAB = "benchruns"


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=5, help="warm batches of the four runs")
    parser.add_argument("--cold", type=int, default=2, help="cold batches (up + runs + down)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    lab = get_lab("local", name=LAB)
    lab.down()
    per_run: list[float] = []
    per_scenario: dict[str, list[float]] = defaultdict(list)
    stages: dict[str, list[float]] = defaultdict(list)
    cold_batches: list[float] = []
    warm_batches: list[float] = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix="proxylab-bench-") as tmp:
        try:
            for i in range(max(0, args.cold)):
                t0 = time.perf_counter()
                paths = run_catalog(
                    "seed", lab=lab, runs_dir=Path(tmp) / f"cold{i}", progress=False
                )
                cold_batches.append(time.perf_counter() - t0)
                failed += sum(read_capture(p).record.status == "failed" for p in paths)
            lab.up()
            # One untimed batch first: the first invocations warm file caches.
            run_catalog("seed", lab=lab, keep_lab=True, runs_dir=Path(tmp) / "w", progress=False)
            for i in range(max(1, args.warm)):
                t0 = time.perf_counter()
                paths = run_catalog(
                    "seed", lab=lab, keep_lab=True, runs_dir=Path(tmp) / f"warm{i}", progress=False
                )
                warm_batches.append(time.perf_counter() - t0)
                for p in paths:
                    rec = read_capture(p).record
                    failed += rec.status == "failed"
                    total = rec.finished_at - rec.started_at
                    per_run.append(total)
                    per_scenario[rec.scenario.id].append(total)
                    for k, v in rec.timings.items():
                        stages[k].append(v)
        finally:
            left = lab.down()
    result = {
        "benchmark": "runs",
        "warm_batches": len(warm_batches),
        "cold_batches": len(cold_batches),
        "warm_per_run_median_s": _median(per_run),
        "warm_per_run_max_s": round(max(per_run), 3) if per_run else None,
        "warm_batch_of_4_median_s": _median(warm_batches),
        "cold_batch_of_4_median_s": _median(cold_batches),
        "per_scenario_median_s": {k: _median(v) for k, v in sorted(per_scenario.items())},
        "stage_median_s": {k: _median(v) for k, v in stages.items()},
        "failed_runs": failed,
        "left_behind": left,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"warm: median {result['warm_per_run_median_s']:.2f} s per run "
            f"(max {result['warm_per_run_max_s']:.2f} s; target < 2 s), "
            f"{result['warm_batch_of_4_median_s']:.2f} s per batch of 4, "
            f"{len(warm_batches)} batches"
        )
        if cold_batches:
            print(
                f"cold: median {result['cold_batch_of_4_median_s']:.2f} s for lab up + 4 runs + "
                f"lab down, {len(cold_batches)} batches"
            )
        print(
            "per scenario (warm): "
            + ", ".join(f"{k} {v:.2f} s" for k, v in result["per_scenario_median_s"].items())
        )
        print(
            "per stage (warm):    "
            + ", ".join(
                f"{k.removesuffix('_s')} {v:.3f} s" for k, v in result["stage_median_s"].items()
            )
        )
        if failed:
            print(f"{failed} run(s) failed", file=sys.stderr)
    return 1 if failed or left else 0


if __name__ == "__main__":
    sys.exit(main())
