"""The `proxylab` command line.

Each sub-command lives in its own module under :mod:`proxylab.commands` and
registers itself with ``register(subparsers)``; this module only wires them up and
turns the errors users can act on into one clear line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import signal
import sys
import threading

from proxylab import __version__

COMMAND_MODULES = ("lab", "run", "scenarios", "report", "audit", "notebook", "clients", "setup")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with ``only``, that command's alone (what ``main`` builds when
    the first word names one: importing every command module costs a small audit
    ~10% of its time)."""
    parser = argparse.ArgumentParser(
        prog="proxylab",
        description=(
            "Investigate which of a Lambda function's requests cross the HTTP proxy "
            "and which go through VPC endpoints, on a local lab or on AWS."
        ),
        epilog=(
            "start here (as root):\n"
            "  proxylab lab up                  build the local lab (about a second)\n"
            "  proxylab run --catalog seed      the seed's four runs, captures in data/runs/\n"
            "  proxylab report --catalog seed   the same, rendered to reports/seed/\n"
            "  proxylab lab down                remove everything the lab started\n"
            "  proxylab notebook                JupyterLab on the notebooks (127.0.0.1)\n"
            "Each command has its own --help."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"proxylab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only in COMMAND_MODULES else COMMAND_MODULES:
        importlib.import_module(f"proxylab.commands.{name}").register(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C would be: what `timeout`, systemd and CI
    send must clean up exactly as Ctrl-C does (the run under way recorded as failed
    with its evidence, the function reaped, the lab that `run` started brought down)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum: int, _frame: object) -> None:
    # Once: a second signal during clean-up must not abort the clean-up itself.
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Terminated(signum)


def suggest_command(argv: list[str], commands: list[str]) -> str | None:
    """The error for a mistyped sub-command, with the nearest real one(s); ``None``
    when the first word is an option or a real command (argparse handles those)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    if not argv or word is None or word != argv[0] or word in commands:
        return None
    close = difflib.get_close_matches(word, commands, n=2, cutoff=0.6)
    if not close:
        close = [c for c in commands if c.startswith(word[:2])][:2]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown command {word!r}{hint} (commands: {', '.join(commands)})"


def main(argv: list[str] | None = None) -> int:
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, _raise_terminated)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    problem = suggest_command(argv, list(_subparsers(parser).choices))
    if problem:
        parser.print_usage(sys.stderr)
        print(f"proxylab: error: {problem}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from proxylab.errors import UserError

    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"proxylab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated as exc:
        print(f"proxylab: terminated by {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("proxylab: interrupted", file=sys.stderr)
        return 130


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


if __name__ == "__main__":
    sys.exit(main())
