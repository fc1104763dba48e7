"""`proxylab clients`: run real HTTP clients in the Lambda subnet under proxy-variable
cases and show which way each request went."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from proxylab.clients import DEFAULT_TIMEOUT_S, DEFAULT_WORKERS

    p = sub.add_parser(
        "clients",
        help="the client matrix: which clients honour which proxy variables, measured",
        description=(
            "Run each HTTP client (urllib, botocore, requests, httpx, curl, wget, Node "
            "fetch/https) inside the lab's Lambda subnet under each proxy-variable case, "
            "and read from Squid's log and the service fronts which way each request "
            "went: proxy, direct or failed. A client that is not installed is shown "
            "with the command that installs it. The lab is brought up if needed and "
            "down afterwards unless --keep-lab. Writes matrix.json and matrix.md to --out."
        ),
    )
    p.add_argument("--client", dest="clients", action="extend", nargs="+", metavar="NAME",
                   help="only these clients (repeatable; see --list)")
    p.add_argument("--case", dest="cases", action="extend", nargs="+", metavar="ID",
                   help="only these cases (repeatable; see --list)")
    p.add_argument("--list", action="store_true", help="list the clients and cases, run nothing")
    p.add_argument("--json", action="store_true", help="print the matrix as JSON on stdout")
    p.add_argument("--out", default="reports/clients", metavar="DIR",
                   help="where matrix.json and matrix.md go (default: reports/clients)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"per-request timeout in seconds (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, metavar="N",
                   help=f"cells run at a time (default {DEFAULT_WORKERS})")
    p.add_argument("--keep-lab", action="store_true", help="leave the lab up afterwards")
    p.add_argument("--name", default=None, metavar="LAB", help="local lab name")
    p.add_argument("--wait", action="store_true",
                   help="if another run is using the lab, queue behind it instead of refusing")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_clients)


def cmd_clients(args: argparse.Namespace) -> int:
    from proxylab.clients import cases, registry, render
    from proxylab.clients.measure import measure
    from proxylab.labs.registry import get_lab

    chosen_clients = registry.select(args.clients)
    chosen_cases = cases.select(args.cases)
    if args.list:
        for c in chosen_clients:
            print(f"client {c.name:16} {c.version() or 'not installed: ' + c.install:24} "
                  f"{c.summary}")
        for case in chosen_cases:
            print(f"case   {case.id:20} {case.target:12} {case.summary}")
        return 0

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    # Only the local lab can run a command in the Lambda subnet (the AWS lab's exec
    # reaches the proxy host only).
    lab = get_lab("local", **({"name": args.name} if args.name else {}))
    started = time.monotonic()
    matrix = measure(lab, chosen_clients, chosen_cases, timeout_s=args.timeout,
                     workers=args.workers, keep_lab=args.keep_lab, say=say, wait=args.wait)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "matrix.json").write_text(json.dumps(matrix.to_dict(), indent=2) + "\n")
    (out / "matrix.md").write_text(render.markdown(matrix))
    if args.json:
        print(json.dumps(matrix.to_dict(), indent=2))
    else:
        print(render.text(matrix), end="")
    say(f"{len(matrix.cells)} cell(s) in {time.monotonic() - started:.1f}s; "
        f"wrote {out / 'matrix.json'} and {out / 'matrix.md'}")
    return 0
