"""A small threaded HTTPS server for WSGI apps, with HTTP/1.1 keep-alive.

Why not werkzeug's server: it always answers ``Connection: close``. Real S3 and API
Gateway keep connections open, and a client such as boto3 then sends its next
request through the same proxy tunnel; Squid writes one CONNECT line per tunnel,
when it closes. With a closing server every request became its own tunnel, so the
lab's proxy log would not look like the seed's.
"""

from __future__ import annotations

import io
import socket
import ssl
import sys
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
MAX_BODY = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is closed after this
    server: TLSWSGIServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + the client's
        # delayed ACK held every answer with a body (S3 GetObject, any error page) for
        # ~40 ms, which AWS's own fronts do not.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # the fronts log for themselves
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large for the lab")
        return self.rfile.read(length) if length else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.server.ctx is not None else "http",
            # The address the connection was accepted on: how the fronts tell an
            # interface endpoint's ENI from a public front on one wildcard socket.
            "proxylab.local_ip": self.connection.getsockname()[0],
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if self.headers.get("Content-Type"):
            environ["CONTENT_TYPE"] = self.headers["Content-Type"]
        for key, value in self.headers.items():
            name = key.upper().replace("-", "_")
            if name not in ("CONTENT_TYPE", "CONTENT_LENGTH", "TRANSFER_ENCODING"):
                environ.setdefault(f"HTTP_{name}", value)
        return environ

    def _run(self) -> None:
        try:
            body = self._body()
        except ValueError:
            self.send_error(400)
            return
        response: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            response["status"], response["headers"] = status, headers
            return lambda data: response.setdefault("early", []).append(data)

        result = self.server.app(self._environ(body), start_response)
        try:
            payload = b"".join(response.get("early", [])) + b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        code, _, reason = response["status"].partition(" ")
        self.send_response(int(code), reason)
        for key, value in response["headers"]:
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _run


class TLSWSGIServer(ThreadingHTTPServer):
    """One listening address; the TLS handshake happens in the connection's own
    thread, so a slow client never holds up the others. ``ctx`` None: plain HTTP
    (the internet stand-in's port 80)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: str, port: int, app: WSGIApp,
                 ctx: ssl.SSLContext | None) -> None:
        self.app = app
        self.ctx = ctx
        super().__init__((address, port), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.ctx is None:
            return sock, addr
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-request (the function was stopped) is normal.
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            super().handle_error(request, client_address)
