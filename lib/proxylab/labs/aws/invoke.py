"""Run one invocation on AWS: make sure the function holds the right code and handler,
set its environment (function configuration + the scenario's variables), invoke it
with ``LogType=Tail`` and turn the answer into an :class:`Invocation`.

A fresh per-invocation variable (``PROXYLAB_INVOCATION``) makes every run start in a
new execution environment, as the local lab's runs are cold: Lambda replaces its
environments when the configuration changes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import secrets
import zipfile
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from proxylab.grammar.platform import report_numbers
from proxylab.labs.aws.stack import Clock
from proxylab.labs.base import FunctionCode, Invocation, LabError
from proxylab.labs.local.lambda_env import RESERVED_KEYS as RESERVED
from proxylab.vocab import Runtime

PROBE_SOURCE = Path(__file__).resolve().parents[2] / "functions" / "probe.py"
PROBE_HANDLER = "probe.handler"
NONCE_VAR = "PROXYLAB_INVOCATION"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def build_zip(code: FunctionCode | None) -> tuple[bytes, str]:
    """A deterministic zip (fixed dates, sorted names) of the probe or a user's code,
    and its handler. Same bytes, same CodeSha256: unchanged code is not re-uploaded."""
    if code is not None and code.runtime != Runtime.PYTHON3:
        raise LabError(f"the AWS lab runs Python functions only so far, not {code.runtime}")
    if code is None or code.path is None:
        if not PROBE_SOURCE.is_file():
            raise LabError(f"the probe function is missing: {PROBE_SOURCE} not found")
        files = [(PROBE_SOURCE, "probe.py")]
        handler = PROBE_HANDLER
    else:
        root = Path(code.path)
        if root.is_file():
            files = [(root, root.name)]
        elif root.is_dir():
            files = sorted(
                (p, p.relative_to(root).as_posix())
                for p in root.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
            )
        else:
            raise LabError(f"function code {code.path!r}: no such file or directory")
        handler = code.handler
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, arcname in files:
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue(), handler


def code_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def check_env(env: dict[str, str]) -> None:
    bad = sorted(k for k in env if k in RESERVED)
    if bad:
        raise LabError(
            f"scenario env: {', '.join(bad)} reserved by Lambda (the runtime sets it); remove it"
        )
    for k, v in env.items():
        if not isinstance(v, str):
            raise LabError(f"scenario env: {k} must be a string, got {type(v).__name__}")


def wait_updated(
    lam: Any, function_name: str, timeout_s: float, poll_s: float, clock: Clock
) -> None:
    deadline = clock.now() + timeout_s
    while True:
        cfg = lam.get_function_configuration(FunctionName=function_name)
        status = cfg.get("LastUpdateStatus", "Successful")
        if status == "Successful" and cfg.get("State", "Active") in ("Active", "Inactive"):
            return
        if status == "Failed":
            raise LabError(
                f"function {function_name}: update failed: {cfg.get('LastUpdateStatusReason', '')}"
            )
        if clock.now() >= deadline:
            raise LabError(f"function {function_name}: still updating after {timeout_s:.0f} s")
        clock.sleep(poll_s)


def prepare(
    lam: Any,
    function_name: str,
    config_env: dict[str, str],
    env: dict[str, str],
    timeout_s: float,
    code: FunctionCode | None,
    clock: Clock,
    poll_s: float,
) -> dict[str, str]:
    """Upload code when it differs, then set handler, timeout and the environment.
    Returns the environment the function now has."""
    check_env(env)
    data, handler = build_zip(code)
    current = lam.get_function_configuration(FunctionName=function_name)
    if current.get("CodeSha256") != code_sha256(data):
        lam.update_function_code(FunctionName=function_name, ZipFile=data)
        wait_updated(lam, function_name, 120, poll_s, clock)
    variables = {**config_env, **env, NONCE_VAR: secrets.token_hex(8)}
    lam.update_function_configuration(
        FunctionName=function_name,
        Handler=handler,
        Timeout=min(900, max(3, math.ceil(timeout_s))),
        Environment={"Variables": variables},
    )
    wait_updated(lam, function_name, 120, poll_s, clock)
    return variables


def invoke(lam: Any, function_name: str, event: dict[str, Any], clock: Clock) -> Invocation:
    """Invoke once, synchronously. Lambda errors become ``status="error"``; failures to
    invoke at all become ``"lab-error"`` (never an exception: the run is recorded)."""
    started = clock.now()
    try:
        resp = lam.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            LogType="Tail",
            Payload=json.dumps(event).encode(),
        )
    except (ClientError, BotoCoreError) as exc:
        return Invocation(
            status="lab-error",
            request_id="",
            error={"errorType": type(exc).__name__, "errorMessage": str(exc)},
            started_at=started,
            finished_at=clock.now(),
        )
    finished = clock.now()
    raw = resp["Payload"].read()
    try:
        payload: Any = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode("utf-8", "replace")
    tail = base64.b64decode(resp.get("LogResult", "") or b"").decode("utf-8", "replace")
    log_lines = tail.splitlines()
    rid = resp.get("ResponseMetadata", {}).get("RequestId", "")
    duration = init = None
    for line in log_lines:
        rep = report_numbers(line)
        if rep is not None:
            rid = rid or rep.request_id
            duration, init = rep.duration_ms, rep.init_ms
    error = None
    status = "ok"
    if resp.get("FunctionError"):
        status = "error"
        error = payload if isinstance(payload, dict) else {"errorMessage": str(payload)}
        error = {**error, "functionError": resp["FunctionError"]}
    return Invocation(
        status=status,
        request_id=rid,
        payload=payload if status == "ok" else None,
        error=error,
        started_at=started,
        finished_at=finished,
        init_duration_ms=init,
        duration_ms=duration,
        function_log=log_lines,
    )
