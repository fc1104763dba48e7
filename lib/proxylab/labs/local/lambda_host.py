"""One Lambda execution environment, for one cold invocation.

``python -m proxylab.labs.local.lambda_host --spec SPEC.json --out RESULT.json``,
started by the lab inside the Lambda subnet's namespace. It serves the Runtime API
(:mod:`runtime_api`), starts the function with the real runtime interface client
(``python -m awslambdaric <handler>``; for Node runtimes ``node <aws-lambda-ric>/bin/
index.mjs <handler>``, what ``npx aws-lambda-ric`` runs; cwd = task root) and exactly Lambda's
environment (:mod:`lambda_env`), delivers the event, and writes the platform lines
as CloudWatch shows them around the function's own output::

    START RequestId: <id> Version: $LATEST
    <the function's lines>
    END RequestId: <id>
    REPORT RequestId: <id>\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t...

The platform lines are written through :mod:`proxylab.grammar.platform`, the module
the tables and the AWS lab read them with. (Over 500 lines: the init / invoke /
failure paths of one environment share its state and its output stream; split by
phase they would pass that state around instead.)

Failures are reported the way Lambda reports them: a raising handler through the
runtime's own ``/error`` post; a timeout as ``<ts> <id> Task timed out after N.NN
seconds`` with a ``Sandbox.Timedout`` error; an import failure through ``/init/error``
(``Runtime.ImportModuleError``, ``INIT_REPORT`` line); a runtime that dies as
``Runtime.ExitError``. Afterwards the function's whole process group is stopped
(SIGTERM, then SIGKILL) and reaped, so its keep-alive connections close: Squid logs
a CONNECT only when its tunnel closes.

Known differences from Lambda (documented in functions/README.md): no memory limit
is enforced (Max Memory Used is the runtime process's peak RSS); a failed init is
not retried in the invoke phase; no INIT_START line; the function runs as the
host's user and shares its /tmp.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from proxylab.grammar.platform import end_line, init_report_line, report_line, start_line
from proxylab.labs.base import Invocation
from proxylab.labs.local import lambda_env
from proxylab.labs.local.invoker import InvocationSpec
from proxylab.labs.local.runtime_api import Invoke, RuntimeAPI
from proxylab.vocab import Runtime

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)
HARD_EXTRA_S = 20.0  # beyond init + function timeout, the host gives up on itself


class HostInterrupted(Exception):
    """SIGTERM/SIGINT/SIGALRM reached the host: clean up and report a lab-error."""


def _child_setup() -> None:
    """In the forked child, before exec (the host is single-threaded at that moment):
    die with the host, whatever kills it."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class OutputCapture:
    """The function's stdout+stderr (one pipe, as Lambda merges them), with byte
    offsets where platform lines go.

    A mark drains the pipe first, under the same lock the reader uses: whatever the
    runtime wrote before it called the Runtime API is already in the pipe, so a line
    printed at init can never land after START, nor one printed by the handler
    after the timeout line.
    """

    # What a capture keeps of one invocation's output. Past it the pipe is still
    # drained (a blocked writer would hang the function) but the bytes are counted,
    # not kept: memory stays bounded whatever the function prints.
    MAX_BYTES = 16 << 20

    def __init__(self, fd: int, max_bytes: int | None = None) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.buf = bytearray()
        self.max_bytes = self.MAX_BYTES if max_bytes is None else max_bytes
        self.dropped = 0
        self.marks: list[tuple[int, str]] = []
        self.eof = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="function-output", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _drain(self) -> None:
        while not self.eof.is_set():
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.eof.set()
                return
            room = self.max_bytes - len(self.buf)
            if room < len(chunk):
                self.dropped += len(chunk) - max(room, 0)
                chunk = chunk[: max(room, 0)]
            self.buf += chunk

    def _run(self) -> None:
        while not self.eof.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
            except (OSError, ValueError):
                break
            if ready:
                with self._lock:
                    self._drain()

    def mark(self, line: str) -> None:
        """Put a platform line at the current end of the function's output."""
        with self._lock:
            self._drain()
            self.marks.append((len(self.buf), line))

    def finish(self, timeout: float) -> None:
        """Wait for EOF (every writer gone), bounded; then take what is left."""
        self.eof.wait(timeout)
        self._thread.join(1)
        with self._lock:
            self._drain()

    def lines(self) -> list[str]:
        """Function lines and marked platform lines, in stream order. The runtime joins
        the lines of one error event with CR; each becomes its own line here."""
        out: list[str] = []
        pos = 0
        for offset, line in [*self.marks, (len(self.buf), None)]:
            if offset > pos:
                text = self.buf[pos:offset].decode("utf-8", "replace")
                if text.endswith("\n"):
                    text = text[:-1]
                for part in text.split("\n"):
                    part = part.removesuffix("\r")  # the runtime ends some entries CR LF
                    out += part.split("\r") if "\r" in part else [part]
                pos = offset
            if line is not None:
                out.append(line)
        if self.dropped:
            note = (f"[proxylab] the function printed {self.dropped} more bytes after the "
                    f"first {self.max_bytes} ({self.max_bytes >> 20} MiB); they are not kept")
            # Before the END/REPORT lines the dropped output belonged to.
            at = next((i for i, ln in enumerate(out) if ln.startswith(("END RequestId",
                                                                       "REPORT RequestId"))),
                      len(out))
            out.insert(at, note)
        return out


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _peak_rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _children_of(parent: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def _trace_id() -> str:
    # os.urandom is what secrets.token_hex reads; importing secrets (hmac, hashlib)
    # would cost every cold start a few ms.
    return (f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};"
            f"Parent={os.urandom(8).hex()};Sampled=0")


def _exit_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name.lower().removeprefix("sig")
        except ValueError:
            name = str(sig)
        return f"signal: {name}"
    return f"exit status {os.WEXITSTATUS(status) if os.WIFEXITED(status) else status}"


class Environment:
    """One sandbox: the runtime process, its Runtime API and its log."""

    def __init__(self, spec: InvocationSpec) -> None:
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self.api: RuntimeAPI | None = None
        self.output: OutputCapture | None = None
        self.wait_status: int | None = None
        self.rusage_maxrss_kb: int | None = None
        self.peak_kb: int | None = None
        self.notes: list[str] = []
        self.tmp_task_root: Path | None = None
        self.pidfd: int | None = None  # readable once the runtime process has exited

    # -- process control -------------------------------------------------------------

    def _poll(self) -> bool:
        """True once the runtime process has exited (reaped here, with its rusage)."""
        if self.wait_status is not None:
            return True
        assert self.proc is not None
        pid, status, rusage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.wait_status = status
        self.rusage_maxrss_kb = rusage.ru_maxrss
        self.proc.returncode = status  # Popen must not wait for it again
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        return True

    def _await_exit(self, timeout_s: float) -> None:
        """Sleep until the runtime process exits or ``timeout_s`` passes: woken by its
        pidfd the moment it exits (10 ms steps where there is none)."""
        timeout_s = max(0.0, timeout_s)
        if self.pidfd is not None:
            select.select([self.pidfd], [], [], timeout_s)
        else:
            time.sleep(min(0.01, timeout_s))

    def stop(self) -> None:
        """SIGTERM the runtime's process group, SIGKILL what is left, reap. Bounded."""
        if self.proc is None:
            return
        if self.wait_status is None:
            peak = _peak_rss_kb(self.proc.pid)
            self.peak_kb = max(self.peak_kb or 0, peak or 0) or None
        for sig, wait_s in ((signal.SIGTERM, self.spec.stop_grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)  # the group: the handler's children too
            except ProcessLookupError:
                pass
            end = time.monotonic() + wait_s
            while not self._poll() and time.monotonic() < end:
                self._await_exit(end - time.monotonic())
            if self.wait_status is not None and sig == signal.SIGTERM:
                # the leader is gone; anything it left in its group goes now
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                break
        if self.wait_status is None:
            self.notes.append(f"runtime process {self.proc.pid} could not be reaped")
        self._reap_orphans()

    def _reap_orphans(self) -> None:
        """The handler's own children: killed with the group, or (if they left it with
        setsid) killed here, since as subreaper this process inherits them. All reaped:
        nothing the function started outlives the host."""
        end = time.monotonic() + 3.0
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid:
                continue
            if time.monotonic() > end:
                self.notes.append("some of the function's processes could not be reaped")
                return
            for child in _children_of(os.getpid()):
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    # -- the invocation ----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        spec = self.spec
        started_at = time.time()
        if spec.runtime != Runtime.PYTHON3:
            runtime_dir, bin_dir = spec.ric_dir, str(Path(spec.node).parent)
            runtime_id = spec.runtime
            argv = [spec.node, str(Path(spec.ric_dir) / "bin" / "index.mjs"), spec.handler]
            suffixes: tuple[str, ...] = (".mjs", ".js", ".cjs")
            if not Path(argv[1]).is_file():
                return self._result("lab-error", started_at, error={
                    "errorType": "Lab.RuntimeMissing",
                    "errorMessage": f"no aws-lambda-ric at {spec.ric_dir} (proxylab setup node)"})
        else:
            try:
                runtime_dir = lambda_env.runtime_dir_of(_awslambdaric_init(spec.python))
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                return self._result("lab-error", started_at, error={
                    "errorType": "Lab.RuntimeMissing", "errorMessage": str(exc)})
            bin_dir = str(Path(spec.python).parent)
            runtime_id = f"python{sys.version_info.major}.{sys.version_info.minor}"
            argv = [spec.python, "-m", "awslambdaric", spec.handler]
            suffixes = (".py",)
        task_root = Path(spec.task_root)
        if task_root.is_file() and task_root.suffix in suffixes:
            # A single handler file: unpacked alone into a fresh task root, as Lambda
            # unpacks a deployment package into /var/task (with its node_modules).
            self.tmp_task_root = _fresh_task_root()
            shutil.copy2(task_root, self.tmp_task_root / task_root.name)
            if spec.node_modules:
                (self.tmp_task_root / "node_modules").symlink_to(spec.node_modules)
            task_root = self.tmp_task_root
        elif task_root.is_dir() and spec.node_modules:
            # A function directory whose dependencies are in the cache: a fresh copy
            # of it with them linked in, as `npm install` would have put them there.
            self.tmp_task_root = _fresh_task_root()
            shutil.copytree(task_root, self.tmp_task_root, dirs_exist_ok=True, symlinks=True,
                            ignore=shutil.ignore_patterns("node_modules"))
            (self.tmp_task_root / "node_modules").symlink_to(spec.node_modules)
            task_root = self.tmp_task_root
        if not task_root.is_dir():
            return self._result("lab-error", started_at, error={
                "errorType": "Lab.BadSpec",
                "errorMessage": f"task_root {spec.task_root!r} is neither a directory "
                                f"nor a {'/'.join(suffixes)} file"})
        try:
            env = lambda_env.function_env(
                handler=spec.handler,
                task_root=str(task_root.resolve()),
                runtime_dir=runtime_dir,
                bin_dir=bin_dir,
                runtime_api="127.0.0.1:0",  # replaced once the port is bound
                function_name=spec.function_name,
                memory_mb=spec.memory_mb,
                region=spec.region,
                credentials=_default_session(spec.credentials),
                runtime_id=runtime_id,
                log_stream=lambda_env.log_stream_name(),
                plumbing_env=spec.plumbing_env,
                scenario_env=spec.env,
            )
        except ValueError as exc:
            return self._result("lab-error", started_at, error={
                "errorType": "InvalidParameterValueException", "errorMessage": str(exc)})

        invoke = Invoke(
            request_id=spec.request_id,
            event=json.dumps(spec.event).encode(),
            timeout_s=spec.timeout_s,
            function_arn=(f"arn:aws:lambda:{spec.region}:{spec.account_id}:function:"
                          f"{spec.function_name}"),
            trace_id=_trace_id(),
        )
        try:
            self.api = RuntimeAPI(invoke, port=spec.runtime_api_port,
                                  on_next=self._on_next)
        except OSError as exc:
            return self._result("lab-error", started_at, error={
                "errorType": "Lab.RuntimeApiBind",
                "errorMessage": f"cannot serve the Runtime API on 127.0.0.1:"
                                f"{spec.runtime_api_port}: {exc}"})
        env["AWS_LAMBDA_RUNTIME_API"] = self.api.address

        t_spawn = time.monotonic()
        started_at = time.time()
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=env["LAMBDA_TASK_ROOT"], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_child_setup,
            )
        except OSError as exc:
            self.api.close()
            return self._result("lab-error", started_at, error={
                "errorType": "Lab.RuntimeStart",
                "errorMessage": f"cannot start {' '.join(argv[:-1])}: {exc}"})
        try:
            self.pidfd = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):  # Linux < 5.3: stop() polls instead
            self.pidfd = None
        assert self.proc.stdout is not None
        self.output = OutputCapture(self.proc.stdout.fileno())
        self.output.start()
        self.api.start()
        try:
            return self._invoke(invoke, t_spawn, started_at)
        finally:
            self.stop()
            self.output.finish(timeout=2.0)
            self.api.close()

    def _on_next(self) -> None:
        assert self.output is not None
        self.output.mark(start_line(self.spec.request_id))

    def _wait(self, until: float, done) -> bool:
        """Wait until ``done()`` or the runtime exits or ``until`` (monotonic)."""
        assert self.api is not None
        while time.monotonic() < until:
            if done() or self._poll():
                return done()
            self.api.changed.wait(0.02)
            self.api.changed.clear()
        return done()

    def _invoke(self, invoke: Invoke, t_spawn: float, started_at: float) -> dict[str, Any]:
        spec, api, out = self.spec, self.api, self.output
        assert api is not None and out is not None
        rid = spec.request_id

        # Init phase: until the runtime asks for the event (or fails to start).
        self._wait(t_spawn + spec.init_timeout_s,
                   lambda: invoke.next_at is not None or api.posted is not None)
        if invoke.next_at is None:
            now = time.monotonic()
            init_ms = (now - t_spawn) * 1000
            posted = api.posted if api.posted and api.posted.kind == "init_error" else None
            if posted is not None:
                self._wait(now + 1.0, lambda: False)  # let it exit and flush
                error = _json_or_text(posted.body)
                etype = posted.error_type or error.get("errorType") or "Runtime.Unknown"
                status_tail = f"Status: error\tError Type: {etype}"
            elif self.wait_status is not None:
                etype = "Runtime.ExitError"
                error = {"errorType": etype, "errorMessage": (
                    f"RequestId: {rid} Error: Runtime exited with error: "
                    f"{_exit_text(self.wait_status)}")}
                status_tail = f"Status: error\tError Type: {etype}"
            else:
                etype = "Sandbox.Timedout"
                error = {"errorType": etype, "errorMessage": (
                    f"RequestId: {rid} Error: Task timed out after "
                    f"{spec.init_timeout_s:.2f} seconds")}
                status_tail = "Status: timeout"
            self.stop()
            out.finish(timeout=2.0)
            out.mark(init_report_line(init_ms, status_tail))
            out.mark(start_line(rid))
            if etype == "Runtime.ExitError":
                out.mark(error["errorMessage"])
            out.mark(end_line(rid))
            out.mark(self._report(0.0, None, status_tail))
            return self._result("error", started_at, error=error, init_ms=None,
                                duration_ms=0.0)

        init_ms = (invoke.next_at - t_spawn) * 1000
        deadline = invoke.next_at + spec.timeout_s
        self._wait(deadline, lambda: api.posted is not None)
        posted = api.posted
        status_tail = None
        payload = None
        if posted is not None and posted.kind in ("response", "error"):
            duration_ms = (posted.at - invoke.next_at) * 1000
            if posted.kind == "response":
                status = "ok"
                payload, error = _json_or_text(posted.body, keep_text=True), None
            else:
                status, error = "error", _json_or_text(posted.body)
                if posted.error_type == "Function.ResponseSizeTooLarge":
                    status_tail = "Status: error\tError Type: Function.ResponseSizeTooLarge"
            # Let the runtime finish its turn (it calls `next` again), then freeze it.
            self._wait(time.monotonic() + 0.5,
                       lambda: any(r.endswith("-> held") for r in invoke.requests))
        elif self.wait_status is None:
            now = time.monotonic()
            duration_ms = (now - invoke.next_at) * 1000
            message = f"Task timed out after {duration_ms / 1000:.2f} seconds"
            out.mark(f"{_iso(time.time())} {rid} {message}")
            status, status_tail = "error", "Status: timeout"
            error = {"errorType": "Sandbox.Timedout",
                     "errorMessage": f"RequestId: {rid} Error: {message}"}
        else:
            duration_ms = (time.monotonic() - invoke.next_at) * 1000
            etype = "Runtime.ExitError"
            message = (f"RequestId: {rid} Error: Runtime exited with error: "
                       f"{_exit_text(self.wait_status)}")
            status, status_tail = "error", f"Status: error\tError Type: {etype}"
            error = {"errorType": etype, "errorMessage": message}
            out.finish(timeout=1.0)
            out.mark(message)
        self.stop()
        out.finish(timeout=2.0)
        out.mark(end_line(rid))
        out.mark(self._report(duration_ms, init_ms, status_tail))
        return self._result(status, started_at, payload=payload, error=error,
                            init_ms=init_ms, duration_ms=duration_ms)

    def _report(self, duration_ms: float, init_ms: float | None, tail: str | None) -> str:
        peak_kb = self.peak_kb or self.rusage_maxrss_kb or 0
        self.max_memory_mb = max(1, round(peak_kb / 1024)) if peak_kb else 0
        self.billed_ms = max(1, math.ceil(duration_ms))
        return report_line(self.spec.request_id, duration_ms, self.billed_ms,
                           self.spec.memory_mb, self.max_memory_mb, init_ms, tail)

    def _result(self, status: str, started_at: float, *, payload: Any = None,
                error: dict | None = None, init_ms: float | None = None,
                duration_ms: float | None = None) -> dict[str, Any]:
        inv = Invocation(
            status=status,
            request_id=self.spec.request_id,
            payload=payload,
            error=error,
            started_at=started_at,
            finished_at=time.time(),
            init_duration_ms=round(init_ms, 2) if init_ms is not None else None,
            duration_ms=round(duration_ms, 2) if duration_ms is not None else None,
            function_log=self.output.lines() if self.output else [],
        )
        data = asdict(inv)
        data["report"] = {
            "memory_size_mb": self.spec.memory_mb,
            "max_memory_used_mb": getattr(self, "max_memory_mb", None),
            "billed_duration_ms": getattr(self, "billed_ms", None),
        }
        data["runtime"] = {
            "pid": self.proc.pid if self.proc else None,
            "exit": _exit_text(self.wait_status) if self.wait_status is not None else None,
            "requests": self.api.invoke.requests if self.api else [],
            "notes": self.notes,
        }
        return data


def _fresh_task_root() -> Path:
    """A new empty task root. (tempfile is imported here: most invocations run a
    function directory in place and never need it.)"""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="proxylab-task-"))


def _default_session(creds: dict[str, str]) -> dict[str, str]:
    """Lambda always hands the function a session token (role credentials)."""
    out = dict(creds)
    out.setdefault("AWS_SESSION_TOKEN", "proxylab-local-lab-session-token")
    return out


def _awslambdaric_init(python: str) -> str:
    """awslambdaric's location for the function's interpreter (usually this one)."""
    if Path(python).resolve() == Path(sys.executable).resolve():
        import importlib.util

        found = importlib.util.find_spec("awslambdaric")  # locate it without loading it
        if found is None or not found.origin:
            raise ValueError(f"{python} cannot import awslambdaric (pip install awslambdaric)")
        return found.origin
    proc = subprocess.run([python, "-c", "import awslambdaric; print(awslambdaric.__file__)"],
                          capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    if proc.returncode != 0:
        raise ValueError(f"{python} cannot import awslambdaric: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def _json_or_text(body: bytes, keep_text: bool = False) -> Any:
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text if keep_text else {"errorType": "Runtime.Unknown", "errorMessage": text}


def _interrupt(signum: int, _frame: object) -> None:
    raise HostInterrupted(signal.Signals(signum).name)


def _write_result(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambda_host", description=__doc__.split("\n")[0])
    parser.add_argument("--spec", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    started = time.time()

    def lab_error(message: str, request_id: str = "") -> dict[str, Any]:
        return asdict(Invocation(status="lab-error", request_id=request_id,
                                 error={"errorType": "Lab.HostError", "errorMessage": message},
                                 started_at=started, finished_at=time.time()))

    try:
        spec = InvocationSpec.from_dict(json.loads(args.spec.read_text()), source=str(args.spec))
    except (OSError, ValueError, TypeError) as exc:
        _write_result(args.out, lab_error(f"bad spec: {exc}"))
        return 2

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(sig, _interrupt)
    # Orphans of the function (its own subprocesses) come to us, not to pid 1.
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.alarm(int(spec.init_timeout_s + spec.timeout_s + spec.stop_grace_s + HARD_EXTRA_S))
    environment = Environment(spec)
    try:
        result = environment.run()
    except HostInterrupted as exc:
        result = lab_error(f"host interrupted by {exc}", spec.request_id)
    except Exception:  # noqa: BLE001 - recorded as evidence, never a hang
        import traceback

        result = lab_error(traceback.format_exc(limit=8), spec.request_id)
    finally:
        signal.alarm(0)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)  # finish cleanup and the write
        environment.stop()
        if environment.tmp_task_root is not None:
            shutil.rmtree(environment.tmp_task_root, ignore_errors=True)
    if result.get("status") == "lab-error" and environment.output is not None:
        result["function_log"] = environment.output.lines()
    _write_result(args.out, result)
    return 0 if result["status"] != "lab-error" else 1


if __name__ == "__main__":
    code = main()
    # RESULT.json is written and every child of the function reaped: the interpreter's
    # own teardown (~20 ms of freeing modules and objects) would only delay the lab.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

