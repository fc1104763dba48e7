"""Run one cold Lambda invocation inside a network namespace, from Python.

The lab calls :func:`run_invocation` with the command prefix that enters the Lambda
subnet (``['ip', 'netns', 'exec', 'proxylab-lambda']``) and an
:class:`InvocationSpec`. The spec goes to a temp file, ``python -m
proxylab.labs.local.lambda_host`` runs under the prefix with a clean environment and
writes RESULT.json, and an outer deadline bounds the whole thing. Function failures
(raise, timeout, import error) are *results*; only a host that could not run at all
yields ``status="lab-error"``, with its output kept as evidence. Never raises for
either.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxylab.labs.base import Invocation
from proxylab.vocab import Runtime, parse_enum

DEFAULT_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAPROXYLABLOCAL000",
    "AWS_SECRET_ACCESS_KEY": "proxylab-local-lab-secret-not-a-real-key",
    "AWS_SESSION_TOKEN": "proxylab-local-lab-session-token",
}
HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8"}


@dataclass
class InvocationSpec:
    """Everything one cold invocation needs; JSON-serialisable.

    ``task_root`` is the function's code: a directory (LAMBDA_TASK_ROOT) or a single
    ``.py`` file, copied alone into a fresh task root for the invocation.
    ``env`` is the scenario's variables, ``plumbing_env`` the lab's own (CA bundle);
    neither may set a Lambda reserved key (refused as Lambda refuses it).
    ``timeout_s`` is the function's configured timeout, ``init_timeout_s`` Lambda's
    10 s limit for the init phase.

    ``runtime`` (a :class:`~proxylab.vocab.Runtime` value) picks the runtime client:
    ``python`` runs ``python -m awslambdaric``; a Node runtime runs ``node`` with
    ``aws-lambda-ric`` from ``ric_dir`` (both resolved by the lab, see
    :mod:`proxylab.labs.local.node`). A single ``.mjs``/``.js`` task root is copied
    like a ``.py`` one, and ``node_modules`` (a cached dependency directory) is linked
    into that fresh task root as Lambda's package would carry it.
    """

    handler: str
    task_root: str
    env: dict[str, str] = field(default_factory=dict)
    plumbing_env: dict[str, str] = field(default_factory=dict)
    event: Any = field(default_factory=dict)
    timeout_s: float = 3.0
    init_timeout_s: float = 10.0
    memory_mb: int = 128
    function_name: str = "proxylab-probe"
    region: str = "ap-northeast-1"
    account_id: str = "123456789012"
    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CREDENTIALS))
    runtime_api_port: int = 9001
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    python: str = field(default_factory=lambda: sys.executable)
    stop_grace_s: float = 1.0
    runtime: str = Runtime.PYTHON3
    node: str = ""
    ric_dir: str = ""
    node_modules: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "spec") -> InvocationSpec:
        """Build and check a spec; ValueError names ``source`` and the field."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{source}: unknown field(s): {', '.join(unknown)}")
        for name in ("handler", "task_root"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"{source}: field {name!r} is required (a non-empty string)")
        runtime = data.get("runtime", Runtime.PYTHON3)
        if parse_enum(Runtime, runtime) is None:
            raise ValueError(f"{source}: field 'runtime' must be one of "
                             f"{', '.join(Runtime)}, not {runtime!r}")
        if parse_enum(Runtime, runtime) is not Runtime.PYTHON3 and not all(
                isinstance(data.get(k), str) and data[k] for k in ("node", "ric_dir")):
            raise ValueError(f"{source}: a {runtime} spec needs 'node' and 'ric_dir'")
        for name in ("env", "plumbing_env", "credentials"):
            value = data.get(name, {})
            if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise ValueError(f"{source}: field {name!r} must map strings to strings")
        for name in ("timeout_s", "init_timeout_s", "stop_grace_s"):
            value = data.get(name, 1.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{source}: field {name!r} must be a positive number")
        for name in ("memory_mb", "runtime_api_port"):
            value = data.get(name, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{source}: field {name!r} must be a non-negative integer")
        creds = data.get("credentials")
        if creds is not None:
            missing = sorted(set(DEFAULT_CREDENTIALS) - set(creds))
            if missing:
                raise ValueError(f"{source}: field 'credentials' lacks {', '.join(missing)}")
        return cls(**data)


def invocation_from_dict(data: dict[str, Any]) -> Invocation:
    """RESULT.json -> Invocation (extra keys such as ``report`` are ignored here)."""
    names = {f.name for f in dataclasses.fields(Invocation)}
    return Invocation(**{k: v for k, v in data.items() if k in names})


def _lab_error(spec: InvocationSpec, message: str, started: float, **evidence: Any) -> Invocation:
    return Invocation(
        status="lab-error",
        request_id=spec.request_id,
        error={"errorType": "Lab.HostError", "errorMessage": message, **evidence},
        started_at=started,
        finished_at=time.time(),
    )


def _host_env() -> dict[str, str]:
    """The host process's environment: a clean PATH/LANG, and where proxylab lives so
    the host imports it whatever python runs it. Nothing else of ours.

    Bytecode is cached as Python does by default (``__pycache__`` beside the source,
    ignored by git): with PYTHONDONTWRITEBYTECODE every cold start compiled the
    host's modules again, ~15 ms of each invocation."""
    lib = str(Path(__file__).resolve().parents[3])
    return {**HOST_ENV, "PYTHONPATH": lib}


def run_invocation(
    prefix: list[str],
    spec: InvocationSpec,
    timeout_s: float | None = None,
    keep_dir: str | None = None,
) -> Invocation:
    """Run ``spec`` once, cold, under ``prefix`` (``[]`` = this namespace).

    ``timeout_s`` is the outer deadline (default: init + function timeout + 15 s).
    The spec and RESULT.json live in a temp dir, removed afterwards unless
    ``keep_dir`` names a directory to keep them in.
    """
    import tempfile  # here, not at the top: the Lambda host imports this module too

    started = time.time()
    deadline = timeout_s or (spec.init_timeout_s + spec.timeout_s + 15.0)
    workdir = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="proxylab-invoke-"))
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path, out_path = workdir / "spec.json", workdir / "result.json"
    try:
        spec_path.write_text(json.dumps(spec.to_dict(), indent=1))
        argv = [*prefix, spec.python, "-m", "proxylab.labs.local.lambda_host",
                "--spec", str(spec_path), "--out", str(out_path)]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=_host_env(),
                                    start_new_session=True)
        except OSError as exc:
            return _lab_error(spec, f"cannot start the Lambda host: {exc}", started,
                              argv=argv)
        try:
            output, _ = proc.communicate(timeout=deadline)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            output = _stop(proc)
        except BaseException:
            # Ctrl-C, SIGTERM (raised as KeyboardInterrupt by the CLI): the host runs in
            # its own session, so nothing else would stop it and its function would
            # hold the Runtime API port for the next run. Reap both, then go on up.
            _stop(proc)
            raise
        text = output.decode("utf-8", "replace")[-8000:]
        try:
            result = invocation_from_dict(json.loads(out_path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            why = (f"the Lambda host did not finish within {deadline:.0f} s" if timed_out
                   else f"the Lambda host exited {proc.returncode} without a valid result "
                        f"({exc})")
            return _lab_error(spec, why, started, host_output=text, argv=argv)
        if timed_out and result.status != "lab-error":
            result.status = "lab-error"
            result.error = {"errorType": "Lab.HostTimeout",
                            "errorMessage": f"outer deadline of {deadline:.0f} s reached",
                            "inner": result.error}
        if result.status == "lab-error" and text and isinstance(result.error, dict):
            result.error.setdefault("host_output", text)
        return result
    finally:
        if not keep_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> bytes:
    """SIGTERM first (the host kills its function and still writes RESULT.json), then
    SIGKILL; returns what the host printed."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=5)
    return output or b""


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
