"""The TCP sockets of the calling thread's network namespace, from the kernel's
sock_diag netlink interface (what ``ss`` reads).

The lab asks two questions about Squid's port without connecting to it (Squid logs
every bare connect): does it listen yet (health), and does Squid still hold a
client connection it has not closed, so its access-log line is still to come
(``collect``). /proc/net/tcp answers them too, but the kernel walks its whole
socket hash table for every read of it: 4-7 ms each on this machine, per address
family; a sock_diag dump takes ~0.3 ms.

Run it in a thread that has joined the lab namespace (``netns.call_in``): a netlink
socket belongs to the namespace of the thread that opens it.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
_NLMSG = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_REQ = struct.Struct("=BBBBI48x")  # inet_diag_req_v2: family, protocol, ext, pad,
#                                    states; an empty inet_diag_sockid (a dump)
_MSG = struct.Struct("=BBBB")  # inet_diag_msg head: family, state, timer, retrans
_PORTS = struct.Struct("!HH")  # then its sockid's ports, in network order
ALL_STATES = 0xFFFFFFFF

# TCP states (include/net/tcp_states.h).
ESTABLISHED, SYN_RECV, CLOSE_WAIT, LISTEN = 1, 3, 8, 10


@dataclass(frozen=True)
class TcpSocket:
    family: int
    state: int
    local_port: int
    remote_port: int


def tcp_sockets(port: int | None = None, timeout_s: float = 2.0) -> list[TcpSocket]:
    """Every TCP socket (IPv4 and IPv6) of this thread's namespace, or those whose
    local port is ``port``. Raises OSError when the kernel refuses the dump."""
    out: list[TcpSocket] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(timeout_s)
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), start=1):
            req = _REQ.pack(family, socket.IPPROTO_TCP, 0, 0, ALL_STATES)
            nl.send(_NLMSG.pack(_NLMSG.size + len(req), SOCK_DIAG_BY_FAMILY,
                                NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + req)
            out += _read_dump(nl, port)
    return out


def _read_dump(nl: socket.socket, port: int | None) -> list[TcpSocket]:
    out: list[TcpSocket] = []
    while True:
        data = nl.recv(1 << 16)
        if not data:
            raise OSError("sock_diag: the netlink socket closed mid-dump")
        offset = 0
        while offset + _NLMSG.size <= len(data):
            length, kind, _flags, _seq, _pid = _NLMSG.unpack_from(data, offset)
            if kind == NLMSG_DONE:
                return out
            if kind == NLMSG_ERROR:
                (errno,) = struct.unpack_from("=i", data, offset + _NLMSG.size)
                raise OSError(-errno, "sock_diag dump refused")
            if length < _NLMSG.size + _MSG.size + _PORTS.size:
                raise OSError("sock_diag: short message")
            family, state, _timer, _retrans = _MSG.unpack_from(data, offset + _NLMSG.size)
            sport, dport = _PORTS.unpack_from(data, offset + _NLMSG.size + _MSG.size)
            if port is None or sport == port:
                out.append(TcpSocket(family, state, sport, dport))
            offset += (length + 3) & ~3


def listening(port: int) -> bool:
    """A TCP socket listens on ``port``."""
    return any(s.state == LISTEN for s in tcp_sockets(port))


def connections_open(port: int) -> bool:
    """A connection on local ``port`` is not yet closed by its owner: established,
    half open, or hung up by the peer and not yet noticed (CLOSE_WAIT)."""
    return any(s.state in (ESTABLISHED, SYN_RECV, CLOSE_WAIT) for s in tcp_sockets(port))
