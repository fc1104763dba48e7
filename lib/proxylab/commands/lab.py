"""`proxylab lab up | down | status | exec | attach`: manage a lab of any backend."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from proxylab.errors import UserError
from proxylab.labs import EndpointLayout, Lab, LabDescription, get_lab
from proxylab.labs.proxy_policy import DEFAULT_SQUID, SQUID_VERSIONS, ProxyPolicy
from proxylab.labs.registry import available_backends

PLACES = ("lambda", "proxy", "internet", "aws")


def register(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser(
        "lab",
        help="bring a lab up or down, show it, run commands inside it",
        description="Manage the lab: the seed topology (Lambda VPC, proxy VPC with Squid, "
        "DNS, S3 and API Gateway with VPC endpoints), locally or on AWS.",
    )
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--backend",
            default="local",
            choices=available_backends(),
            help="local (network namespaces, default) or aws",
        )
        p.add_argument("--name", default=None, help="lab name (default: proxylab)")
        p.add_argument(
            "--region",
            default=None,
            help="AWS region (aws: any; local: any commercial region, default ap-northeast-1)",
        )

    up = lab_sub.add_parser(
        "up",
        help="create the lab (idempotent)",
        description="Create the lab and wait until every service answers.",
    )
    common(up)
    up.add_argument(
        "--no-s3-gateway", action="store_true", help="start without the S3 gateway endpoint"
    )
    up.add_argument(
        "--no-execute-api-endpoint",
        action="store_true",
        help="start without the execute-api interface endpoint",
    )
    up.add_argument(
        "--no-private-dns", action="store_true", help="interface endpoint without private DNS"
    )
    up.add_argument(
        "--private-api-public-dns",
        choices=("nxdomain", "front"),
        default="nxdomain",
        help="what public DNS answers for a private API id: NXDOMAIN (seed: Squid 503) "
        "or the public front (403)",
    )
    up.add_argument(
        "--squid",
        choices=SQUID_VERSIONS,
        default=DEFAULT_SQUID,
        help=f"Squid major version (local backend; default {DEFAULT_SQUID}, the seed's "
        "behaviour; 6 needs `proxylab lab setup --squid 6` once)",
    )
    up.add_argument(
        "--web-host",
        default=None,
        help="the name of the lab's web site, WEB_URL's host (local backend; "
        "default www.google.com)",
    )
    up.add_argument("--yes", action="store_true", help="do not ask for confirmation (aws backend)")
    up.add_argument("--json", action="store_true", help="print the lab description as JSON")
    up.set_defaults(func=cmd_up)

    setup = lab_sub.add_parser(
        "setup",
        help="one-time preparation of the local lab (Squid 6's Debian 13 root)",
        description="Make what the local lab needs once per machine: for Squid 6, a minimal "
        "Debian 13 root holding Debian 13's squid package, made with mmdebstrap from Debian's "
        "mirror and cached (PROXYLAB_SQUID6_ROOT, default /var/cache/proxylab/squid6-trixie). "
        "Safe to repeat and to interrupt.",
    )
    setup.add_argument("--squid", choices=SQUID_VERSIONS, default="6")
    setup.add_argument("--force", action="store_true", help="make the root again")
    setup.set_defaults(func=cmd_setup)

    down = lab_sub.add_parser(
        "down",
        help="remove the lab and everything it started",
        description="Stop every lab process and delete namespaces, links and "
        "state. Safe to repeat; also cleans up after a crash.",
    )
    common(down)
    down.add_argument("--all", action="store_true", help="every local lab found on this machine")
    down.add_argument("--quiet", action="store_true")
    down.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (aws backend)"
    )
    down.set_defaults(func=cmd_down)

    status = lab_sub.add_parser("status", help="show topology, endpoints and service health")
    common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    ex = lab_sub.add_parser(
        "exec",
        help="run a command inside a lab place with a clean environment",
        description="Run CMD inside a place of the lab (default: the Lambda subnet) with a clean "
        "environment: none of your shell's proxy or CA variables, the lab CA trusted, lab AWS "
        "credentials and region set. With --scenario, the lab switches to that scenario's "
        "endpoint layout and the command gets the function's configuration and the "
        "scenario's variables.\n\n"
        "example: proxylab lab exec -- curl -sS https://www.google.com/\n"
        "         proxylab lab exec --scenario seed-4 -- env",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(ex)
    ex.add_argument(
        "--in",
        dest="place",
        default="lambda",
        choices=PLACES,
        help="where to run (default: lambda)",
    )
    ex.add_argument("--scenario", help="run under this scenario's endpoints and variables")
    ex.add_argument("--catalog", default="seed", help="catalogue for --scenario (default: seed)")
    ex.add_argument("--timeout", type=float, default=None, help="stop the command after N seconds")
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    ex.set_defaults(func=cmd_exec)

    attach = lab_sub.add_parser("attach", help="find and check an existing lab (aws backend)")
    common(attach)
    attach.add_argument("--resources", help="JSON file mapping resource names to ids")
    attach.add_argument("--json", action="store_true")
    attach.set_defaults(func=cmd_attach)


def _lab(args: argparse.Namespace) -> Lab:
    options: dict[str, Any] = {}
    if args.name:
        options["name"] = args.name
    if getattr(args, "region", None):
        options["region"] = args.region
    if getattr(args, "yes", False):
        options["assume_yes"] = True
    if getattr(args, "web_host", None):
        if args.backend != "local":
            raise UserError(
                "--web-host is for the local lab: on AWS the function calls the real site"
            )
        options["web_host"] = args.web_host
    return get_lab(args.backend, **options)


def _say(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    layout = EndpointLayout(
        s3_gateway=not args.no_s3_gateway,
        execute_api_interface=not args.no_execute_api_endpoint,
        execute_api_private_dns=not args.no_private_dns,
        private_api_public_dns=args.private_api_public_dns,
        proxy=ProxyPolicy(squid=args.squid),
    )
    lab = _lab(args)
    started = time.monotonic()
    print(f"bringing lab {lab.name!r} up ({lab.backend})…", file=sys.stderr, flush=True)
    desc = lab.up(layout, progress=_say)
    if args.json:
        print(json.dumps(desc.to_dict(), indent=2))
    else:
        print_description(desc)
        print(
            f"\nlab {lab.name!r} is up ({time.monotonic() - started:.1f}s). "
            f"Try: proxylab lab exec -- curl -sS -x {desc.resources.get('proxy_url', '')} "
            f"{desc.resources.get('web_url', '')}"
        )
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    if args.squid == "5":
        print("Squid 5 is Debian 12's own package: `make setup` installs it", file=sys.stderr)
        return 0
    from proxylab.labs.local import squid_root

    squid_root.create(say=_say, force=args.force)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    if args.all and args.backend == "local":
        from proxylab.labs.local.lab import all_labs

        names = all_labs()
    else:
        names = [args.name] if args.name else [None]
    left: list[str] = []
    for name in names:
        ns = argparse.Namespace(**{**vars(args), "name": name})
        lab = _lab(ns)
        started = time.monotonic()
        from proxylab.labs.lock import stop_holder

        stopped = stop_holder(lab.backend, lab.name)
        if stopped and not args.quiet:
            print(f"stopped the run that was using lab {lab.name!r} (pid {stopped})",
                  file=sys.stderr)
        left += lab.down()
        if not args.quiet:
            print(f"lab {lab.name!r} is down ({time.monotonic() - started:.1f}s)", file=sys.stderr)
    if left:
        raise UserError("some lab parts could not be removed:\n  " + "\n  ".join(left))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    desc = _lab(args).describe()
    if args.json:
        print(json.dumps(desc.to_dict(), indent=2))
    else:
        print_description(desc)
    if not desc.up:
        return 3
    return 0 if all(s.healthy for s in desc.services) else 1


def cmd_exec(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UserError("nothing to run: `proxylab lab exec [--in PLACE] -- CMD ...`")
    lab = _lab(args)
    env: dict[str, str] = {}
    if args.scenario:
        from proxylab.scenarios import load_catalog

        scenario = load_catalog(args.catalog).get(args.scenario)
        desc = lab.describe()
        if scenario.region is not None and scenario.region != desc.region:
            raise UserError(
                f"scenario {scenario.id!r} runs in {scenario.region}, the lab is in "
                f"{desc.region}: `proxylab lab up --region {scenario.region}` first")
        env = scenario.resolve_env(desc.resources)
        # Exactly the scenario's settings: its endpoint layout, and the function's
        # own configuration (BUCKET_NAME, API_GATEWAY_URL, ...) under its variables.
        lab.apply(scenario.endpoints)
        env = {**lab.function_configuration(scenario.function), **env}
    return lab.exec(args.place, argv, env=env, timeout_s=args.timeout)


def cmd_attach(args: argparse.Namespace) -> int:
    desc = _lab(args).attach(resources=args.resources)  # the local lab refuses
    if args.json:
        print(json.dumps(desc.to_dict(), indent=2))
    else:
        print_description(desc)
    return 0


def print_description(desc: LabDescription) -> None:
    """The topology as tables (rich), readable in a terminal and in a notebook."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False, soft_wrap=False)
    state = "[green]up[/green]" if desc.up else "[red]down[/red]"
    console.print(f"lab [bold]{desc.name}[/bold] ({desc.backend}, {desc.region}): {state}")
    if not desc.up:
        missing = [s.name for s in desc.services if s.detail == "missing"]
        if missing:
            console.print("  partial: missing " + ", ".join(missing)
                          + ". Rebuild it with: proxylab lab up (or remove it: proxylab lab down)")
        else:
            console.print("  nothing is running. Start it with: proxylab lab up")
        return
    places = Table(title="places", show_lines=True)
    for col in ("place", "stands for", "addresses", "routes"):
        places.add_column(col)
    for p in desc.places:
        places.add_row(p.name, p.stands_for, "\n".join(p.addresses), "\n".join(p.routes))
    console.print(places)
    ep = desc.endpoints
    endpoints = Table(title="VPC endpoints (Lambda VPC)")
    endpoints.add_column("endpoint")
    endpoints.add_column("state")
    endpoints.add_row("S3 gateway endpoint", _on(ep.s3_gateway))
    endpoints.add_row("execute-api interface endpoint", _on(ep.execute_api_interface))
    endpoints.add_row("  private DNS", _on(ep.execute_api_private_dns and ep.execute_api_interface))
    endpoints.add_row("public DNS for private API ids", ep.private_api_public_dns)
    if ep.dynamodb_gateway:
        endpoints.add_row("DynamoDB gateway endpoint", _on(True))
    for i in ep.interfaces:
        endpoints.add_row(f"{i.service} interface endpoint",
                          "on, private DNS " + ("on" if i.private_dns else "off"))
    if ep.internet_hosts:
        endpoints.add_row("internet hosts", ", ".join(ep.internet_hosts))
    pol = ep.proxy
    endpoints.add_row(
        "proxy",
        f"Squid {desc.resources.get('squid_version', pol.squid)}"
        + (f", own config {pol.config}" if pol.config else "")
        + (", allowlist" if pol.allowlist else "")
        + (f", basic auth ({len(pol.users)} user(s))" if pol.users else ""),
    )
    console.print(endpoints)
    services = Table(title="services")
    for col in ("service", "place", "answers at", "healthy", "detail"):
        services.add_column(col)
    for s in desc.services:
        services.add_row(s.name, s.place, s.address, _on(bool(s.healthy), "yes", "NO"), s.detail)
    console.print(services)
    res = Table(title="resources")
    res.add_column("name")
    res.add_column("value")
    for k, v in desc.resources.items():
        res.add_row(k, v)
    console.print(res)


def _on(flag: bool, yes: str = "on", no: str = "off") -> str:
    return f"[green]{yes}[/green]" if flag else f"[red]{no}[/red]"
