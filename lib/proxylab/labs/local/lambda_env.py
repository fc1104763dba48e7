"""The environment a Lambda function process gets: exactly Lambda's, nothing of the host's.

Layers, later wins:

1. Lambda's *unreserved* defaults (``PATH``, ``LANG``, ``PYTHONPATH`` or, for Node,
   ``NODE_PATH``, X-Ray addresses): a function configuration may override these, as
   on Lambda.
2. The lab's plumbing (``SSL_CERT_FILE`` / ``AWS_CA_BUNDLE`` / ``NODE_EXTRA_CA_CERTS``
   pointing at the lab CA):
   what the real service would not need, kept apart so reports can show it.
3. The scenario's variables.
4. Lambda's *reserved* variables (``AWS_REGION``, ``AWS_LAMBDA_RUNTIME_API``,
   credentials, ``_HANDLER``, ...). Lambda refuses a function configuration that sets
   one of them (``InvalidParameterValueException``), so layers 2 and 3 are checked
   with :func:`reserved_keys_in` and refused the same way before anything runs; they
   can never silently lose against layer 4.

Nothing is read from ``os.environ``: the host's ``SSL_CERT_FILE``, proxies, CA
bundles, ``HOME`` etc. cannot leak into the function.
"""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

# Lambda's documented reserved keys ("cannot be set in your function configuration").
RESERVED_KEYS = frozenset({
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
})

# Lambda's message when a configuration sets reserved keys (CreateFunction /
# UpdateFunctionConfiguration answer InvalidParameterValueException).
RESERVED_MESSAGE = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided contains reserved keys that are currently not supported "
    "for modification. Reserved keys used in this request: {keys}"
)


def reserved_keys_in(env: dict[str, str]) -> list[str]:
    """The reserved keys ``env`` tries to set, sorted (empty: Lambda would accept it).
    Scenario validation can call this to refuse such a scenario before the lab starts."""
    return sorted(k for k in env if k in RESERVED_KEYS)


def log_stream_name(now: datetime.datetime | None = None) -> str:
    """``2026/11/24/[$LATEST]<32 hex>``, the shape of a Lambda log stream."""
    now = now or datetime.datetime.now(datetime.UTC)
    return f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def function_env(
    *,
    handler: str,
    task_root: str,
    runtime_dir: str,
    bin_dir: str,
    runtime_api: str,
    function_name: str,
    memory_mb: int,
    region: str,
    credentials: dict[str, str],
    runtime_id: str,
    log_stream: str,
    plumbing_env: dict[str, str] | None = None,
    scenario_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """Build the function's environment (see the module doc for the layers).

    ``runtime_id`` is what follows ``AWS_Lambda_`` in ``AWS_EXECUTION_ENV``:
    ``python3.11`` (the interpreter's version) or ``nodejs20.x``; ``bin_dir`` holds
    the runtime's binary (Lambda: /var/lang/bin). Raises ValueError when
    ``plumbing_env`` or ``scenario_env`` sets a reserved key.
    """
    for layer in (plumbing_env or {}, scenario_env or {}):
        bad = reserved_keys_in(layer)
        if bad:
            raise ValueError(RESERVED_MESSAGE.format(keys=", ".join(bad)))
    if runtime_id.startswith("nodejs"):
        # Lambda: /opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:
        # /var/runtime/node_modules:/var/runtime:/var/task (layers' /opt kept as Lambda's)
        major = runtime_id.removeprefix("nodejs").removesuffix(".x")
        search = {"NODE_PATH": f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:"
                               f"{runtime_dir}/node_modules:{runtime_dir}:{task_root}"}
    else:
        search = {"PYTHONPATH": runtime_dir}
    env = {
        # Lambda: /var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LANG": "en_US.UTF-8",
        **search,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
    }
    env.update(plumbing_env or {})
    env.update(scenario_env or {})
    env.update({
        "_HANDLER": handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime_id}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_ACCESS_KEY_ID": credentials["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": credentials["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": credentials["AWS_SESSION_TOKEN"],
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "TZ": ":UTC",
    })
    return env


def runtime_dir_of(awslambdaric_init: str) -> str:
    """Where the runtime's libraries live (Lambda: /var/runtime): the site-packages
    directory holding awslambdaric."""
    return str(Path(awslambdaric_init).resolve().parent.parent)
