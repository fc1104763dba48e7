"""``host:port`` and request targets: the one place an authority is split.

Squid's ``%ru`` is a CONNECT authority (``host:port``, ``[v6]:port``), an absolute
URL (``scheme://[user@]host[:port]/...``), an origin-form path or Squid's own
``error:...`` pseudo-URL; a service front's ``Host`` header is an authority too.
Callers: :func:`split_target` for a request target, :func:`split_authority` for a
bare authority, :func:`host_of` when only the host name matters.
"""

from __future__ import annotations

from functools import lru_cache

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}


def _port(text: str) -> int | None:
    """A port is 1-5 ASCII digits ('²' and Arabic-Indic digits are not digits here)."""
    if text.isascii() and text.isdigit() and len(text) <= 5:
        return int(text)
    return None


def split_authority(authority: str) -> tuple[str | None, int | None]:
    """(host, port) of ``host[:port]`` or ``[v6][:port]``; a bare IPv6 address (more
    than one colon, no brackets) is all host. The host is returned as written."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None, None
        host, rest = authority[1:end], authority[end + 1 :]
        return host, (_port(rest[1:]) if rest.startswith(":") else None)
    if authority.count(":") == 1:
        host, _, port = authority.partition(":")
        return (host or None), _port(port)
    return (authority or None), None


@lru_cache(maxsize=65536)
def split_target(url: str) -> tuple[str | None, int | None]:
    """(lower-case host, port) of a request target; the scheme's default port when
    an absolute URL names none; (None, None) for ``-``, paths and ``error:...``."""
    if not url or url == "-":
        return None, None
    scheme = None
    if "://" in url:
        scheme, _, rest = url.partition("://")
        authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        authority = authority.rpartition("@")[2]
        scheme = scheme.lower()
    elif url.startswith("error:") or url.startswith("/"):
        return None, None
    else:
        authority = url
    host, port = split_authority(authority)
    if port is None and scheme is not None:
        port = DEFAULT_PORTS.get(scheme)
    return (host.lower() if host else None), port


def host_of(authority: str) -> str | None:
    """The lower-case host of an authority (a ``Host`` header), without its port."""
    host = split_authority(authority)[0]
    return host.lower() if host else None
