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
            "down afterwards unless --keep-lab. Writes matrix.json and the report "
            "(matrix.{en,ja}.{md,html}, with the changes since the previous matrix.json in "
            "--out) to --out. With --env/--from-env/--scenario it checks a NO_PROXY "
            "value instead, entry by entry and client by client, against --host names "
            "or a --capture's hosts (no lab needed)."
        ),
    )
    p.add_argument("--client", dest="clients", action="extend", nargs="+", metavar="NAME",
                   help="only these clients (repeatable; see --list)")
    p.add_argument("--case", dest="cases", action="extend", nargs="+", metavar="ID",
                   help="only these cases (repeatable; see --list)")
    p.add_argument("--add-client", action="append", metavar="NAME=COMMAND",
                   help="a client of your own: a command template with {url} (and {timeout}, "
                   "{ca}), e.g. my-curl='curl -sS --max-time {timeout} {url}' (repeatable)")
    p.add_argument("--clients-file", metavar="YAML",
                   help="clients of your own from a catalogue (see docs/clients.md)")
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
    p.add_argument("--previous", metavar="FILE",
                   help="compare with this matrix.json (default: the one already in --out)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    chk = p.add_argument_group("check my NO_PROXY")
    chk.add_argument("--env", action="append", metavar="NAME=VALUE",
                     help="a proxy variable to check (repeatable: NO_PROXY=..., HTTPS_PROXY=...)")
    chk.add_argument("--from-env", action="store_true",
                     help="check this shell's proxy variables")
    chk.add_argument("--scenario", metavar="ID", help="check a scenario's variables "
                     "(from --catalog; lab references resolved against the local lab)")
    chk.add_argument("--catalog", default="seed", metavar="REF",
                     help="the catalogue --scenario is read from (default: seed)")
    chk.add_argument("--host", dest="hosts", action="append", metavar="HOST",
                     help="a host the function calls (repeatable)")
    chk.add_argument("--capture", metavar="RUN_DIR", help="check the hosts of this capture")
    p.set_defaults(func=cmd_clients)


def cmd_clients(args: argparse.Namespace) -> int:
    from proxylab.clients import cases, document, registry, render
    from proxylab.clients.measure import measure
    from proxylab.clients.words import LANGS
    from proxylab.labs.registry import get_lab

    if args.env or args.from_env or args.scenario:
        return _check(args)
    from proxylab.clients import catalog

    user = catalog.from_args(args.add_client) + (
        catalog.from_file(args.clients_file) if args.clients_file else [])
    clash = [c.name for c in user if c.name in registry.CLIENTS]
    if clash:
        from proxylab.errors import UserError

        raise UserError(f"client name {clash[0]!r} is taken by a built-in client")
    # With clients of your own, the built-ins run only when named (--client).
    named = [n for n in args.clients or [] if n not in {c.name for c in user}]
    chosen_clients = registry.select(named) if named or not user else []
    chosen_clients += user
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
    previous = _previous(Path(args.previous) if args.previous else out / "matrix.json", say)
    if previous is not None and not args.previous:
        (out / "previous.json").write_text(json.dumps(previous.to_dict(), indent=2) + "\n")
    (out / "matrix.json").write_text(json.dumps(matrix.to_dict(), indent=2) + "\n")
    for lang in LANGS:
        (out / f"matrix.{lang}.md").write_text(document.markdown(matrix, lang, previous))
        (out / f"matrix.{lang}.html").write_text(document.html_page(matrix, lang, previous))
    if args.json:
        print(json.dumps(matrix.to_dict(), indent=2))
    else:
        print(render.text(matrix), end="")
    say(f"{len(matrix.cells)} cell(s) in {time.monotonic() - started:.1f}s; "
        f"wrote {out / 'matrix.json'} and matrix.{{{','.join(LANGS)}}}.{{md,html}}")
    return 0


def _previous(path: Path, say) -> object:
    """The matrix of an earlier run, or None (absent or unreadable: said, not fatal)."""
    from proxylab.clients.matrix import Matrix

    if not path.is_file():
        return None
    try:
        return Matrix.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        say(f"cannot read the previous matrix {path} ({exc}); no changes shown")
        return None


def _check(args: argparse.Namespace) -> int:
    from proxylab.clients import check
    from proxylab.errors import UserError

    env = check.env_from(args.env, args.from_env)
    if args.scenario:
        env = {**_scenario_env(args.catalog, args.scenario), **env}
    hosts = list(args.hosts or [])
    if args.capture:
        hosts += check.hosts_of_capture(args.capture)
    if not hosts:
        raise UserError("name the hosts to check: --host HOST (repeatable) or --capture RUN_DIR")
    if not check.no_proxy_value(env):
        raise UserError("no NO_PROXY / no_proxy to check: --env NO_PROXY=... (or --from-env)")
    result = check.check(env, hosts, args.clients)
    if args.json:
        import dataclasses

        print(json.dumps(dataclasses.asdict(result), indent=2, default=str))
    else:
        print(check.text(result), end="")
    return 0


def _scenario_env(catalog: str, scenario_id: str) -> dict[str, str]:
    """A scenario's variables as its function sees them (references to the lab's
    resources resolved against the local lab's description)."""
    from proxylab.labs.registry import get_lab
    from proxylab.scenarios.loader import load_catalog

    scenario = load_catalog(catalog).get(scenario_id)
    return scenario.resolve_env(get_lab("local").describe().resources)
