"""The probe function's deployment in the local lab: two variants, as in the seed.

Like the seed's two Lambda functions, the variants differ only in which API the
probe calls (``API_GATEWAY_URL``). A scenario's variables go on top of this
configuration, the lab's CA plumbing beside it, and Lambda's reserved variables on
top of everything (:mod:`lambda_env`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import proxylab.functions
from proxylab.labs.base import FunctionCode, Invocation, LabError
from proxylab.labs.local import netns
from proxylab.labs.local import topology as t
from proxylab.labs.local.invoker import DEFAULT_CREDENTIALS, InvocationSpec, run_invocation

if TYPE_CHECKING:
    from proxylab.labs.local.lab import LocalLab

VARIANTS = {"regional": t.REGIONAL_API_ID, "private": t.PRIVATE_API_ID}
PROBE_HANDLER = "probe.handler"


def function_name(variant: str) -> str:
    return f"proxylab-probe-{variant}"


def configuration(variant: str, web_host: str) -> dict[str, str]:
    """The function's own configuration variables (what the seed set on each function)."""
    if variant not in VARIANTS:
        raise LabError(f"unknown function variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    return {
        "BUCKET_NAME": t.BUCKET,
        "SOURCE_KEY": t.SOURCE_KEY,
        "API_GATEWAY_URL": t.api_url(VARIANTS[variant]),
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
    if code is not None:
        path = Path(code.path)
        if not path.exists():
            raise LabError(f"function code {path} does not exist")
        task_root = str(path if path.is_dir() else path.parent)
        handler = code.handler
    spec = InvocationSpec(
        handler=handler,
        task_root=task_root,
        env={**configuration(variant, lab.web_host), **env},
        plumbing_env=lab.plumbing_env(),
        event=event,
        timeout_s=timeout_s,
        function_name=function_name(variant),
        region=t.REGION,
        account_id=t.ACCOUNT_ID,
        credentials=dict(DEFAULT_CREDENTIALS),
    )
    return run_invocation(netns.exec_prefix(lab.ns("lambda")), spec)
