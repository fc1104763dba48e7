"""The Lambda Runtime API (2018-06-01) for one cold invocation.

The real runtime interface client (``awslambdaric``) asks ``GET
/runtime/invocation/next`` for the event and posts the outcome to
``/runtime/invocation/<id>/response`` or ``/error``, or to ``/runtime/init/error``
when the handler cannot be loaded. This server answers exactly one invocation: the
first ``next`` gets the event, with Lambda's headers; a second ``next`` (the runtime
asking for more work after answering) is held open until the server closes, as a
frozen Lambda environment would hold it.

The server only records what the runtime said and when (``time.monotonic()``); the
execution environment (:mod:`lambda_host`) decides what it means.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100  # Lambda's synchronous payload limit (6291556)
MAX_BODY_BYTES = 16 * 1024 * 1024  # what we read at all from a request
_INVOCATION = re.compile(rf"^{PREFIX}/invocation/([^/]+)/(response|error)$")


@dataclass
class Posted:
    """What the runtime posted: ``kind`` is response, error or init_error."""

    kind: str
    body: bytes
    error_type: str | None
    at: float


@dataclass
class Invoke:
    """The one invocation this API serves."""

    request_id: str
    event: bytes
    timeout_s: float
    function_arn: str
    trace_id: str
    deadline_ms: int | None = None
    next_at: float | None = None
    requests: list[str] = field(default_factory=list)  # "GET /path -> 200", for diagnosis


class RuntimeAPI:
    """Bind at construction (so a child started right after can connect at once:
    the kernel queues it), serve from :meth:`start`, stop with :meth:`close`.

    ``on_next`` is called in the server thread when the runtime first asks for the
    event, before the event is sent: the host marks the log there (START line).
    """

    def __init__(
        self,
        invoke: Invoke,
        host: str = "127.0.0.1",
        port: int = 9001,
        on_next: Callable[[], None] | None = None,
    ) -> None:
        self.invoke = invoke
        self.on_next = on_next
        self.posted: Posted | None = None
        self.changed = threading.Event()  # set on every state change
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.timeout = 0.05  # handle_request() never waits longer than that
        self._server.api = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()  # close() wakes the serving loop with it

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="runtime-api", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        """serve_forever, woken by :meth:`close` instead of polling: its
        ``shutdown()`` waits for the next poll (up to ``poll_interval``) at the end of
        every invocation."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._server, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self.closing.is_set():
                ready = selector.select()
                if self.closing.is_set():
                    break
                if any(key.fileobj is self._server for key, _ in ready):
                    self._server.handle_request()  # the socket is readable: no wait

    def close(self) -> None:
        """Release a held ``next`` and stop serving; bounded."""
        self.closing.set()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        self._server.server_close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1

    # -- called from handler threads -------------------------------------------------

    def first_next(self) -> bool:
        """True for the runtime's first ``next`` (which gets the event)."""
        with self._lock:
            if self.invoke.next_at is not None:
                return False
            self.invoke.next_at = time.monotonic()
            self.invoke.deadline_ms = int((time.time() + self.invoke.timeout_s) * 1000)
        if self.on_next is not None:
            self.on_next()
        self.changed.set()
        return True

    def post(self, kind: str, body: bytes, error_type: str | None) -> bool:
        """Record the first outcome; later ones are refused (False)."""
        with self._lock:
            if self.posted is not None:
                return False
            self.posted = Posted(kind, body, error_type, time.monotonic())
        self.changed.set()
        return True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "proxylab-runtime-api"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + the client's
        # delayed ACK stall every answer by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def api(self) -> RuntimeAPI:
        return self.server.api  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base name
        pass

    def _reply(self, code: int, payload: object, headers: dict[str, str] | None = None,
               raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.api.invoke.requests.append(f"{self.command} {self.path} -> {code}")

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while len(out) <= MAX_BODY_BYTES:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            return bytes(out)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY_BYTES)) if length > 0 else b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        if not self.api.first_next():
            # The runtime answered and asks for more: hold it, as a frozen sandbox would.
            self.api.invoke.requests.append(f"GET {self.path} -> held")
            self.api.changed.set()
            self.api.closing.wait()
            self.close_connection = True
            return
        inv = self.api.invoke
        self._reply(200, None, raw=inv.event, headers={
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
            "Lambda-Runtime-Trace-Id": inv.trace_id,
        })

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self._body()
        error_type = self.headers.get(ERROR_TYPE_HEADER)
        if self.path == f"{PREFIX}/init/error":
            ok = self.api.post("init_error", body, error_type)
            self._reply(202 if ok else 403, {"status": "OK"} if ok else {
                "errorType": "InvalidStateTransition", "errorMessage": "already reported"})
            return
        m = _INVOCATION.match(self.path)
        if not m:
            self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        request_id, kind = m.groups()
        if request_id != self.api.invoke.request_id or self.api.invoke.next_at is None:
            self._reply(400, {"errorType": "InvalidRequestID",
                              "errorMessage": f"Invalid request ID: {request_id}"})
            return
        if kind == "response" and len(body) > MAX_RESPONSE_BYTES:
            too_large = json.dumps({
                "errorMessage": f"Response payload size ({len(body)} bytes) exceeded "
                                f"maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }).encode()
            self.api.post("error", too_large, "Function.ResponseSizeTooLarge")
            self._reply(413, {"errorType": "RequestEntityTooLarge",
                              "errorMessage": "response payload too large"})
            return
        ok = self.api.post(kind, body, error_type)
        self._reply(202 if ok else 403, {"status": "OK"} if ok else {
            "errorType": "InvalidStateTransition", "errorMessage": "already reported"})
