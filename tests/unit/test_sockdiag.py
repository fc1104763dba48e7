"""sock_diag's view of TCP sockets against sockets this test makes itself, and
against the kernel's other view of the same sockets, /proc/net/tcp."""

from __future__ import annotations

import socket
import sys

import pytest

from proxylab.labs.local import sockdiag

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux netlink")


def _proc_states(port: int) -> list[int]:
    states = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        states.append(int(fields[3], 16))
        except OSError:
            continue
    return sorted(states)


def _diag_states(port: int) -> list[int]:
    return sorted(s.state for s in sockdiag.tcp_sockets(port))


def test_a_listening_socket_then_its_connection_through_every_close():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    assert not sockdiag.listening(port)  # bound, not listening: no LISTEN state
    server.listen()
    try:
        assert sockdiag.listening(port)
        assert not sockdiag.connections_open(port)
        assert _diag_states(port) == _proc_states(port) == [sockdiag.LISTEN]

        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        accepted, _ = server.accept()
        assert sockdiag.connections_open(port)  # the accepted end, ESTABLISHED
        assert _diag_states(port) == _proc_states(port) == sorted(
            [sockdiag.LISTEN, sockdiag.ESTABLISHED])

        client.close()  # the peer hangs up; the server has not noticed yet
        assert sockdiag.CLOSE_WAIT in _diag_states(port)
        assert sockdiag.connections_open(port)

        accepted.close()  # the server closes its end too: nothing left to log
        assert not sockdiag.connections_open(port)
        assert sockdiag.listening(port)
    finally:
        server.close()
    assert not sockdiag.listening(port)


def test_only_the_asked_port_and_both_families():
    v4 = socket.socket()
    v4.bind(("127.0.0.1", 0))
    v4.listen()
    try:
        v6 = socket.socket(socket.AF_INET6)
        v6.bind(("::1", 0))
        v6.listen()
    except OSError:
        v6 = None
    try:
        ports = {v4.getsockname()[1]} | ({v6.getsockname()[1]} if v6 else set())
        listed = {s.local_port: s.family for s in sockdiag.tcp_sockets()
                  if s.local_port in ports}
        assert listed[v4.getsockname()[1]] == socket.AF_INET
        if v6 is not None:
            assert listed[v6.getsockname()[1]] == socket.AF_INET6
        assert all(s.local_port == v4.getsockname()[1]
                   for s in sockdiag.tcp_sockets(v4.getsockname()[1]))
    finally:
        v4.close()
        if v6 is not None:
            v6.close()
