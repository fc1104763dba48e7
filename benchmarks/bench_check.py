"""What checking a capture against its ``expect`` adds to each run of ``proxylab run``.

The runner reads every capture it writes back through the shared parsers
(:func:`proxylab.logs.tables.load_tables`) and the one expectation checker, so the
progress line and the report agree. This times both halves on the fixture
captures (local and AWS shaped); no lab needed. Prints medians in milliseconds.

    .venv/bin/python benchmarks/bench_check.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from proxylab.analysis.expectations import check_run, observed_run  # noqa: E402
from proxylab.logs.tables import load_tables  # noqa: E402
from proxylab.runner import summarize  # noqa: E402
from proxylab.scenarios.model import Scenario  # noqa: E402

CAPTURES = sorted(p for p in (ROOT / "tests" / "fixtures" / "captures").iterdir() if p.is_dir())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    scenario = Scenario(id="bench", title="", function="regional")
    load_tables(CAPTURES[:1])  # imports and first-call caches out of the timings
    tables_ms, check_ms, summary_ms = [], [], []
    for _ in range(args.repeat):
        for run in CAPTURES:
            t0 = time.perf_counter()
            tables = load_tables([run])
            t1 = time.perf_counter()
            (record,) = tables.records.values()
            check_run(record, observed_run(tables, record.run_id))
            t2 = time.perf_counter()
            summarize(run, "bench", scenario, 0)
            t3 = time.perf_counter()
            tables_ms.append((t1 - t0) * 1e3)
            check_ms.append((t2 - t1) * 1e3)
            summary_ms.append((t3 - t2) * 1e3)
    print(f"{len(CAPTURES)} captures x {args.repeat}: per run, median "
          f"load_tables {statistics.median(tables_ms):.1f} ms, "
          f"check {statistics.median(check_ms):.2f} ms, "
          f"runner summarize (both) {statistics.median(summary_ms):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
