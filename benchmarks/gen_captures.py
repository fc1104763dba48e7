"""Copies of real captures under new run ids: the report benchmark's 40 and 400 runs.

Each copy is a fixture capture (its raw files byte for byte, so the checksums its
run.json records still hold) with a new run id, a later start time and the next
repeat index, as ``proxylab run --repeat N`` would have written it. The copies are
as real as their source: nothing is generated, only renamed.

    .venv/bin/python benchmarks/gen_captures.py OUT N [--from tests/fixtures/captures/...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "captures"
# The seed's four local-lab runs: what `make report` captures.
SEED = ("20261124T153210Z-seed-1-a1b2", "20261124T153230Z-seed-2-c3d4",
        "20261124T153250Z-seed-3-e5f6", "20261124T153310Z-seed-4-a7b8")


def copies(out: Path, n: int, sources: list[Path] | None = None) -> list[Path]:
    """``n`` captures in ``out``: the sources in turn, repeat ``i // len(sources)``."""
    sources = sources or [FIX / s for s in SEED]
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(n):
        src = sources[i % len(sources)]
        data = json.loads((src / "run.json").read_text(encoding="utf-8"))
        shift = 60.0 * (i // len(sources))  # a repeat a minute after the last
        for key in ("started_at", "finished_at"):
            data[key] = float(data[key]) + shift
        data["repeat_index"] = i // len(sources)
        scenario = data["scenario"]["id"]
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(data["started_at"]))
        data["run_id"] = f"{stamp}-{scenario}-{i:04x}"
        dest = out / data["run_id"]
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir()
        for f in src.iterdir():
            if f.name != "run.json":
                shutil.copyfile(f, dest / f.name)
        (dest / "run.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
        made.append(dest)
    return made


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("n", type=int)
    p.add_argument("--from", dest="sources", type=Path, nargs="+",
                   help="captures to copy (default: the seed's four fixture runs)")
    args = p.parse_args(argv)
    made = copies(args.out, args.n, args.sources)
    print(f"{len(made)} captures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
