"""`proxylab setup node`: install, once, what Node.js functions need in the local lab.

The real runtime interface client (``aws-lambda-ric`` from the npm registry, native
build included) for each Node.js major this machine has, and the probe's npm
dependencies, into a cache outside the repository. Invocations only look these up.
"""

from __future__ import annotations

import argparse
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="install optional runtimes for the local lab (node)")
    ss = p.add_subparsers(dest="setup_command", metavar="WHAT", required=True)
    node = ss.add_parser(
        "node",
        help="the Node.js runtime interface client and the Node probe's dependencies",
        description="Fetches aws-lambda-ric and @aws-sdk/client-s3 from the npm registry into "
        "$PROXYLAB_NODE_CACHE (default /var/cache/proxylab/node), once; builds the RIC's "
        "native client (installs cmake, autoconf, automake, libtool, g++ with apt if missing).",
    )
    node.set_defaults(func=cmd_node)


def cmd_node(args: argparse.Namespace) -> int:
    from proxylab.labs.local import node
    from proxylab.labs.local.function import NODE_PROBE_DIR

    t0 = time.monotonic()
    ready = node.setup([NODE_PROBE_DIR / "package.json"],
                       log=lambda line: print(f"proxylab setup node: {line}", flush=True))
    print(f"proxylab setup node: ready: {', '.join(ready) or 'none'} "
          f"(cache {node.cache_root()}, {time.monotonic() - t0:.0f} s)")
    return 0 if ready else 1
