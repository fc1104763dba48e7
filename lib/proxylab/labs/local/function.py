"""The probe function's deployment in the local lab: two variants, as in the seed.

Like the seed's two Lambda functions, the variants differ only in which API the
probe calls (``API_GATEWAY_URL``). A scenario's variables go on top of this
configuration, the lab's CA plumbing beside it, and Lambda's reserved variables on
top of everything (:mod:`lambda_env`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import proxylab.functions
from proxylab.labs.base import FunctionCode, Invocation, LabError
from proxylab.labs.local import netns, node
from proxylab.labs.local import topology as t
from proxylab.labs.local.invoker import DEFAULT_CREDENTIALS, InvocationSpec, run_invocation
from proxylab.labs.local.regions import RegionNames
from proxylab.vocab import Runtime

if TYPE_CHECKING:
    from proxylab.labs.local.lab import LocalLab

VARIANTS = {"regional": t.REGIONAL_API_ID, "private": t.PRIVATE_API_ID}
PROBE_HANDLER = "probe.handler"
# The Node probe: index.mjs (handler index.handler) and the package.json naming its
# one dependency, installed into the Node cache by `proxylab setup node`.
NODE_PROBE_DIR = Path(proxylab.functions.__file__).parent / "node"
NODE_PROBE_HANDLER = "index.handler"


def function_name(variant: str) -> str:
    return f"proxylab-probe-{variant}"


def configuration(variant: str, web_host: str, names: RegionNames) -> dict[str, str]:
    """The function's own configuration variables (what the seed set on each function)."""
    if variant not in VARIANTS:
        raise LabError(f"unknown function variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    return {
        "BUCKET_NAME": t.BUCKET,
        "SOURCE_KEY": t.SOURCE_KEY,
        "API_GATEWAY_URL": names.api_url(VARIANTS[variant]),
        "WEB_URL": f"https://{web_host}",
    }


def invoke_in_lab(
    lab: LocalLab,
    variant: str,
    env: dict[str, str],
    event: dict[str, Any],
    timeout_s: float,
    code: FunctionCode | None = None,
) -> Invocation:
    task_root, handler = str(Path(proxylab.functions.__file__).parent), PROBE_HANDLER
    runtime = Runtime(code.runtime) if code is not None else Runtime.PYTHON3
    node_fields: dict[str, str] = {}
    if runtime is not Runtime.PYTHON3:
        # NodeMissing names the command that installs what is missing.
        node_fields = node.resolve(runtime).spec_fields()
    if code is not None and code.path is None and runtime is not Runtime.PYTHON3:
        task_root, handler = str(NODE_PROBE_DIR / "index.mjs"), NODE_PROBE_HANDLER
        node_fields["node_modules"] = str(node.installed_deps(NODE_PROBE_DIR / "package.json"))
    elif code is not None and code.path is not None:
        path = Path(code.path)
        if not path.exists():
            raise LabError(f"function code {path} does not exist")
        if runtime is Runtime.PYTHON3:
            task_root = str(path if path.is_dir() else path.parent)
        else:  # a single Node file is copied alone into a fresh task root by the host
            task_root = str(path)
            pj = node.wanted_deps(path) if path.is_dir() else None
            if pj is not None:
                # Installed from the npm registry once (host side, before the
                # invocation), then linked into a fresh copy of the directory.
                (modules,) = node.install_deps(
                    [pj], log=lambda line: print(f"proxylab: {line}", file=sys.stderr,
                                                 flush=True))
                node_fields["node_modules"] = str(modules)
        handler = code.handler or handler
    spec = InvocationSpec(
        handler=handler,
        task_root=task_root,
        env={**configuration(variant, lab.web_host, lab.names), **env},
        plumbing_env=lab.plumbing_env(),
        event=event,
        timeout_s=timeout_s,
        function_name=function_name(variant),
        region=lab.region,
        account_id=t.ACCOUNT_ID,
        credentials=dict(DEFAULT_CREDENTIALS),
        **node_fields,
    )
    return run_invocation(netns.exec_prefix(lab.ns("lambda")), spec)
