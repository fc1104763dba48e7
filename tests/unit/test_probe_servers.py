"""Small loopback servers for the probe's tests (helpers only, no tests here).

Each stands for one way a path can answer: a web site, a 403, a proxy refusing
CONNECT, a peer that never answers, an address whose SYNs are dropped. All bind
127.0.0.1 only.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        code = 403 if self.path.startswith("/forbidden") else 200
        body = b'{"message":"Forbidden"}' if code == 403 else b"hello from the lab\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def web_server(tls_cert=None) -> Iterator[http.server.ThreadingHTTPServer]:
    """200 on every path, 403 under /forbidden; TLS when ``tls_cert`` (trustme) is given."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.paths = []  # type: ignore[attr-defined]
    if tls_cert is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_cert.configure_cert(ctx)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def refusing_proxy(status: bytes = b"503 Service Unavailable") -> Iterator[tuple[int, list[str]]]:
    """An HTTP proxy that answers every CONNECT with ``status`` (what Squid does for a
    name it cannot resolve); yields (port, request lines received)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.1)
    seen: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    seen.append(data.split(b"\r\n", 1)[0].decode())
                    conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(5)
        srv.close()


@contextmanager
def silent_server() -> Iterator[int]:
    """Completes the TCP handshake (kernel backlog) and then never says a word:
    read and TLS-handshake timeouts."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()


@contextmanager
def dropping_port() -> Iterator[int]:
    """A port whose SYNs are dropped, like a blackholed address: the listener's
    accept queue is full (listen(0) plus fillers), so Linux drops new SYNs and a
    client's connect times out. Stays on loopback."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    try:
        yield port
    finally:
        for s in fillers:
            s.close()
        srv.close()


def closed_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
