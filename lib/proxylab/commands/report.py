"""`proxylab report`: run the scenarios (or take existing captures), execute the
notebooks, render ``reports/<name>/index.html`` and ``report.md``.

With ``--from`` nothing touches a lab, so no root is needed: a capture copied from
a colleague renders the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from proxylab.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="run scenarios (or read captures) and render the report",
        description=(
            "Run a catalogue's scenarios on a lab (or read existing captures with --from), "
            "execute the notebooks with papermill into reports/<name>/, and render "
            "index.html (self-contained), report.md (images as files), Markdown for Zenn, "
            "Qiita or dev.to (--md-flavor) and report.pdf (headless Chromium)."
        ),
    )
    p.add_argument("--catalog",
                   help="run this catalogue on a lab: an id (seed, examples) or a YAML path")
    p.add_argument("--scenario", action="append", dest="scenarios", metavar="ID",
                   help="only this scenario (repeatable)")
    p.add_argument("--repeat", type=int, default=1, help="runs per scenario (default 1)")
    p.add_argument("--backend", default="local", help="lab backend (default: local)")
    p.add_argument("--from", dest="from_", action="extend", nargs="+", metavar="PATH",
                   help="existing capture directories (or a runs directory): no lab, no root")
    p.add_argument("--lang", choices=("en", "ja"), default="en", help="prose language")
    p.add_argument("--redact", action="store_true",
                   help="replace account/bucket/API/vpce/request ids and addresses "
                        "with stable placeholders")
    p.add_argument("--name", help="report name: reports/<name>/ (default: the catalogue id, "
                                  "or the --from directory's name)")
    p.add_argument("--out", metavar="DIR",
                   help="write the report into DIR itself (default: reports/<name>/)")
    p.add_argument("--open", action="store_true",
                   help="open index.html in a browser when done (nothing happens without one)")
    p.add_argument("--md-flavor", action="append", dest="md_flavors", metavar="FLAVOR",
                   choices=("github", "zenn", "qiita", "devto"),
                   help="Markdown for this platform (repeatable; default github: report.md "
                        "and report_files/). zenn: zenn/articles/ + zenn/images/ for the Zenn "
                        "CLI; qiita: qiita/public/ for the Qiita CLI; devto: devto/")
    p.add_argument("--image-url", metavar="URL",
                   help="link the Markdown's images to URL/<name>.png (where you upload the "
                        "image folder; Qiita and dev.to take images only as URLs)")
    pdf = p.add_mutually_exclusive_group()
    pdf.add_argument("--pdf", action="store_true", default=None,
                     help="insist on report.pdf (default: printed when Chromium is installed)")
    pdf.add_argument("--no-pdf", action="store_false", dest="pdf", help="no PDF")
    p.add_argument("--runs-dir", help="where new captures go (default: data/runs)")
    p.add_argument("--title", help="report title")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def _say(quiet: bool):
    def say(text: str) -> None:
        if not quiet:
            print(f"proxylab report: {text}", file=sys.stderr, flush=True)
    return say


def run(args: argparse.Namespace) -> int:
    from proxylab.capture import find_captures
    from proxylab.report import render

    say = _say(args.quiet)
    t0 = time.monotonic()
    if not args.from_ and not args.catalog:
        raise UserError(
            "say what to report on:\n"
            "  --catalog seed      run the seed scenarios on the local lab (needs root), "
            "then render\n"
            "  --from data/runs    render existing captures (no lab, no root)\n"
            "(`make report` is `proxylab report --catalog seed`)")
    if args.out and args.name:
        raise UserError("--out DIR is the report's own directory and --name only names "
                        "reports/<name>/: pass one of them (e.g. --out reports/blog)")
    if args.from_:
        missing = [p for p in args.from_ if not Path(p).exists()]
        if missing:
            raise UserError(f"--from: no such directory: {', '.join(missing)}")
        caps = find_captures(*[Path(p) for p in args.from_])
        if args.scenarios:
            wanted = set(args.scenarios)
            caps = [c for c in caps if c.record.scenario.id in wanted]
        if not caps:
            raise UserError(f"--from {' '.join(args.from_)}: no captures (directories with "
                            "run.json) found" + (" for the chosen scenarios" if args.scenarios
                                                 else ""))
        # Without a scenario filter the notebooks get the directories as given, so they
        # find (and the report names) the captures that could not be read, too.
        captures = [str(c.path) for c in caps] if args.scenarios else list(args.from_)
        name = args.name or _name_from(args.from_)
        say(f"{len(caps)} capture(s) from {', '.join(args.from_)}")
    else:
        from proxylab.runner import run_catalog

        say(f"running catalogue {args.catalog!r} on the {args.backend} lab")
        paths = run_catalog(args.catalog, args.scenarios, repeat=args.repeat,
                            backend=args.backend, runs_dir=args.runs_dir,
                            progress=not args.quiet)
        captures = [str(p) for p in paths]
        name = args.name or _name_from_catalog(args.catalog)
    out_dir = Path(args.out) if args.out else Path("reports") / name
    done = render.execute(captures, out_dir, lang=args.lang, redact=args.redact,
                          title=args.title, progress=None if args.quiet else say,
                          flavors=args.md_flavors or ["github"], image_url=args.image_url,
                          pdf=args.pdf, name=name)
    say(f"done in {time.monotonic() - t0:.1f}s")
    for page in done.pages:  # stdout: one path per line, for scripts
        print(page)
    if args.open:
        _open(done.html, say)
    return 0


def _open(page: Path, say) -> bool:
    """Open the page in the user's graphical browser if there is one. Without a display
    (a server, CI, ssh) nothing is started - ``webbrowser`` would otherwise run a text
    browser such as lynx in the foreground - and the file's address is said instead."""
    import webbrowser

    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    try:
        opened = not headless and webbrowser.open(page.resolve().as_uri())
    except webbrowser.Error:
        opened = False
    if not opened:
        say(f"no browser to open; the report is {page.resolve().as_uri()}")
    return opened


def _name_from(paths: list[str]) -> str:
    p = Path(paths[0]).resolve()
    return p.name if not (p / "run.json").exists() else p.parent.name


def _name_from_catalog(catalog: str) -> str:
    p = Path(catalog)
    return p.stem if p.suffix in (".yaml", ".yml") else catalog
