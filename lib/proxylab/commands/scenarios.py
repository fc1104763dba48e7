"""`proxylab scenarios list | show | validate`: read and check catalogues, no lab needed."""

from __future__ import annotations

import argparse
import json
import sys

from proxylab.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scenarios",
        help="list, show and validate scenario catalogues",
        description="Scenario catalogues are YAML files (docs/scenarios.md). "
        "'seed' and 'examples' are packaged; any other value is a file path.",
    )
    ss = p.add_subparsers(dest="scenarios_command", metavar="ACTION", required=True)

    ls = ss.add_parser("list", help="the scenarios of a catalogue (default: every packaged one)")
    ls.add_argument("--catalog", default=None, metavar="seed|examples|PATH")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    show = ss.add_parser("show", help="one scenario in full")
    show.add_argument("scenario", metavar="ID")
    show.add_argument("--catalog", default="seed", metavar="seed|examples|PATH")
    show.add_argument(
        "--resolve",
        action="store_true",
        help="replace ${...} references with a lab's resources (--backend/--name)",
    )
    show.add_argument("--backend", default="local")
    show.add_argument("--name", default=None, metavar="LAB")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    val = ss.add_parser(
        "validate",
        help="check catalogues; every problem is listed with file, line, scenario, field",
    )
    val.add_argument("paths", nargs="*", metavar="PATH", help="catalogue files")
    val.add_argument("--catalog", action="append", default=[], metavar="seed|examples|PATH")
    val.set_defaults(func=cmd_validate)


def cmd_list(args: argparse.Namespace) -> int:
    from proxylab.scenarios import load_catalog, packaged_catalogs

    refs = [args.catalog] if args.catalog else list(packaged_catalogs())
    catalogs = [load_catalog(r) for r in refs]
    if args.json:
        out = [
            {
                "catalog": c.id,
                "path": str(c.path),
                "title": c.title,
                "scenarios": [
                    {"id": s.id, "function": s.function, "title": s.title} for s in c.scenarios
                ],
            }
            for c in catalogs
        ]
        print(json.dumps(out, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for c in catalogs:
        table = Table(title=f"{c.id}: {c.title}", title_justify="left")
        table.add_column("id", no_wrap=True)
        table.add_column("function")
        table.add_column("title")
        table.add_column("expects")
        for s in c.scenarios:
            expects = ""
            if s.expect is not None:
                parts = [f"{k}={v}" for k, v in s.expect.steps.items() if v != "ok"]
                if s.expect.status and s.expect.status != "ok":
                    parts.insert(0, s.expect.status)
                expects = " ".join(parts) or "all ok"
            table.add_row(s.id, s.function, s.title, expects)
        console.print(table)
        console.print(f"[dim]{c.path}[/dim]")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from proxylab.scenarios import load_catalog

    cat = load_catalog(args.catalog)
    s = cat.get(args.scenario)
    data = s.to_dict()
    if args.resolve:
        from proxylab.labs.registry import get_lab

        lab = get_lab(args.backend, **({"name": args.name} if args.name else {}))
        resources = lab.describe().resources
        data["env"] = s.resolve_env(resources)
        if s.expect is not None:
            data["expect"] = s.expect.resolved(resources).to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    import yaml

    print(f"# {cat.id} / {s.id}  ({s.source}:{s.line})")
    print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from proxylab.scenarios import packaged_catalogs, validate_catalog

    refs = [*args.paths, *args.catalog] or list(packaged_catalogs())
    bad = 0
    for ref in refs:
        catalog, problems = validate_catalog(ref)
        if problems:
            bad += 1
            for p in problems:
                print(str(p) if p.file else p.message, file=sys.stderr)
        elif catalog is not None:
            print(
                f"{catalog.path}: ok: catalogue {catalog.id!r}, {len(catalog.scenarios)} scenarios"
            )
    if bad:
        raise UserError(f"{bad} of {len(refs)} catalogue(s) have problems (listed above)")
    return 0
