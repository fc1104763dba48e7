"""`proxylab notebook`: JupyterLab on the project's notebooks, on 127.0.0.1 with a token.

The server is bound to loopback only and protected by a fresh random token (passed
through the environment, so it is not in ``ps`` output); the URL with the token is
printed before the server starts. ``PROXYLAB_ROOT`` is set for the kernels so the
notebooks find ``data/runs`` and the fixtures from the project root, whatever
directory JupyterLab starts each kernel in.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from proxylab.errors import UserError

DEFAULT_PORT = 8888


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notebook",
        help="open JupyterLab on the notebooks (127.0.0.1, with a token)",
        description=(
            "Start JupyterLab on the project's notebooks/, bound to 127.0.0.1 with a fresh "
            "token, and print the URL to open. Ctrl-C stops it. Outputs you save stay in "
            "your files; git stores the notebooks without them (make setup installs the "
            "filter)."
        ),
    )
    p.add_argument("--port", type=int, default=None,
                   help=f"port (default: the first free one from {DEFAULT_PORT})")
    p.add_argument("--open", action="store_true", help="also open it in a browser")
    p.add_argument("--print-url", action="store_true",
                   help="print the URL and command line, start nothing (for scripts)")
    p.set_defaults(func=run)


def free_port(start: int = DEFAULT_PORT, tries: int = 50) -> int:
    """The first port from ``start`` that nothing listens on at 127.0.0.1."""
    for port in range(start, start + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise UserError(f"no free port in {start}-{start + tries - 1}; pass --port")


def command(root: Path, port: int, open_browser: bool = False) -> list[str]:
    """The JupyterLab command line (the token travels in ``JUPYTER_TOKEN``)."""
    cmd = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--ServerApp.root_dir={root}", "--LabApp.default_url=/lab/tree/notebooks",
           "--ServerApp.answer_yes=True"]  # one Ctrl-C stops it, no y/n prompt
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # the lab needs root; so, often, does its user
    return cmd


def run(args: argparse.Namespace) -> int:
    from proxylab.report.render import project_root

    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        raise UserError("JupyterLab is not installed in this environment: run `make venv` "
                        "(or pip install -e .)") from None
    root = project_root()
    port = args.port or free_port()
    token = secrets.token_hex(24)
    url = f"http://127.0.0.1:{port}/lab/tree/notebooks?token={token}"
    cmd = command(root, port, args.open)
    print(f"JupyterLab on {root / 'notebooks'}\n  open: {url}\n  stop: Ctrl-C", flush=True)
    if args.print_url:
        print(" ".join(cmd))
        return 0
    env = {**os.environ, "JUPYTER_TOKEN": token, "PROXYLAB_ROOT": str(root)}
    proc = subprocess.Popen(cmd, env=env, cwd=root)
    try:
        return proc.wait()
    except KeyboardInterrupt:  # JupyterLab got the same SIGINT; give it time to stop
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return 130
