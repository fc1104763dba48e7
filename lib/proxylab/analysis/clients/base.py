"""The records and helpers every client rule shares (see :mod:`proxylab.analysis.clients`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from proxylab.vocab import MatrixClient, MeasuredRoute


@dataclass(frozen=True)
class Request:
    """What a client is asked to fetch: the URL, and for SDK clients the bucket and the
    region (botocore decides against its endpoint, which it builds from them)."""

    url: str
    bucket: str = ""
    region: str = ""

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme or "https"

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


@dataclass(frozen=True)
class Decision:
    """One client's proxy choice for one request, as facts (no sentences).

    ``proxy`` is the proxy URL as the client will use it (None: direct);
    ``usable`` is False when the client cannot use that value at all (it fails before
    any connection); ``tls_to_proxy`` is whether it speaks TLS to an ``https://``
    proxy (urllib and wget ignore the scheme and send a plain CONNECT)."""

    client: MatrixClient
    proxy: str | None
    reads_env: bool = True
    proxy_variable: str | None = None
    no_proxy_variable: str | None = None
    matched: str | None = None  # the NO_PROXY entry (or "*") that sent it direct
    compared: str = ""  # the host (or host:port) the client tested against NO_PROXY
    usable: bool = True
    tls_to_proxy: bool = True
    note: str = ""  # a rule-specific fact, e.g. "decided on endpoint s3.eu-west-1..."

    @property
    def direct(self) -> bool:
        return self.proxy is None


Rule = Callable[[dict[str, str], Request, str | None], Decision | None]


def with_scheme(value: str) -> str:
    """A proxy value without ``scheme://`` as most clients read it: plain HTTP."""
    return value if "://" in value else f"http://{value}"


def expected_route(decision: Decision, proxy: str, proxy_tls: bool = False) -> MeasuredRoute:
    """The route the lab shows for ``decision`` when ``proxy`` (``scheme://host:port``)
    is the one proxy that answers (``proxy_tls``: whether it speaks TLS itself): any
    other proxy address refuses the connection (``failed``); so does TLS spoken to a
    plain-HTTP proxy port."""
    if decision.proxy is None:
        return MeasuredRoute.DIRECT
    if not decision.usable:
        return MeasuredRoute.FAILED
    chosen, live = urlsplit(with_scheme(decision.proxy)), urlsplit(proxy)
    if chosen.scheme == "https" and decision.tls_to_proxy and not proxy_tls:
        return MeasuredRoute.FAILED
    if (chosen.hostname, chosen.port) != (live.hostname, live.port):
        return MeasuredRoute.FAILED
    return MeasuredRoute.PROXY


def first_set(env: dict[str, str], *names: str) -> tuple[str | None, str | None]:
    """(name, value) of the first of ``names`` set to a non-empty value."""
    for name in names:
        if env.get(name):
            return name, env[name]
    return None, None


def version_tuple(version: str | None) -> tuple[int, ...]:
    """``"go1.19.8"`` / ``"0.27.5"`` / ``"20.20.2"`` as a tuple of ints (() if none)."""
    import re

    match = re.search(r"(\d+(?:\.\d+)*)", version or "")
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()
