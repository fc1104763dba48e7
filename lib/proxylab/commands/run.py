"""`proxylab run`: run a scenario catalogue on a lab, one capture per run."""

from __future__ import annotations

import argparse
import json
import sys

from proxylab.labs.registry import available_backends


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run scenarios on a lab and write captures to data/runs/",
        description=(
            "Run each scenario of a catalogue (--repeat times) on a lab: apply its "
            "endpoint layout, invoke the function with its variables, and write the "
            "run's evidence to <runs-dir>/<run-id>/. The catalogue is checked before "
            "any lab starts. The lab is brought up if needed, and down afterwards "
            "unless --keep-lab (a lab that was already up stays up)."
        ),
    )
    p.add_argument(
        "--catalog",
        default="seed",
        metavar="seed|examples|PATH",
        help="a packaged catalogue name or a YAML file (default: seed)",
    )
    p.add_argument(
        "--scenario",
        dest="scenarios",
        action="extend",
        nargs="+",
        metavar="ID",
        help="run only these scenarios, in this order (repeatable)",
    )
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="runs per scenario")
    p.add_argument("--keep-lab", action="store_true", help="leave the lab up afterwards")
    p.add_argument("--backend", default="local", choices=available_backends())
    p.add_argument("--name", default=None, metavar="LAB", help="lab name (default: the backend's)")
    p.add_argument(
        "--region",
        default=None,
        help="AWS region (aws: any; local: any commercial region, default ap-northeast-1)",
    )
    p.add_argument(
        "--yes", action="store_true", help="create/delete AWS resources without asking (aws)"
    )
    p.add_argument("--runs-dir", default=None, metavar="DIR", help="where captures go (data/runs)")
    p.add_argument("--json", action="store_true", help="print one JSON summary per run on stdout")
    p.add_argument("--wait", action="store_true",
                   help="if another run is using the lab, queue behind it instead of refusing")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when a run does not match its scenario's expectations",
    )
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from proxylab.runner import RunSummary, run_catalog

    summaries: list[RunSummary] = []

    def on_run(summary: RunSummary) -> None:
        summaries.append(summary)
        if args.json:
            print(json.dumps(summary.to_dict()), flush=True)

    run_catalog(
        args.catalog,
        scenario_ids=args.scenarios,
        repeat=args.repeat,
        backend=args.backend,
        lab_options=_lab_options(args),
        keep_lab=args.keep_lab,
        runs_dir=args.runs_dir,
        progress=not args.quiet,
        on_run=on_run,
        wait=args.wait,
    )
    failed = [s for s in summaries if s.status == "failed"]
    unexpected = [s for s in summaries if s.expected is False]
    if not args.quiet:
        print(
            f"{len(summaries)} run(s): {len(failed)} failed, {len(unexpected)} not as expected",
            file=sys.stderr,
        )
    if failed:
        return 1
    if args.strict and unexpected:
        return 3
    return 0


def _lab_options(args: argparse.Namespace) -> dict[str, object]:
    """Only the options given, so each backend keeps its own defaults."""
    options: dict[str, object] = {}
    if args.name:
        options["name"] = args.name
    if args.region:
        options["region"] = args.region
    if args.yes:
        options["assume_yes"] = True
    return options
