"""Go net/http's proxy rule (``http.ProxyFromEnvironment`` ->
golang.org/x/net/http/httpproxy ``FromEnvironment`` / ``useProxy``), Go 1.x.

- **Uppercase first**: ``HTTPS_PROXY`` then ``https_proxy`` (the first non-empty),
  likewise ``HTTP_PROXY`` (not under CGI: ``REQUEST_METHOD`` set) and ``NO_PROXY``.
  Read once per process.
- ``localhost`` and loopback addresses never use a proxy.
- NO_PROXY entries, trimmed and lowercased: ``*`` anywhere disables the proxy; a
  CIDR or an address matches IP-literal hosts; ``host:port`` matches that port only
  (the URL's default port counts); ``*.x`` is read as ``.x``; ``.x`` matches only
  subdomains of x; a bare ``x`` matches x and its subdomains.
- A value that does not parse with a known scheme is retried as ``http://value``;
  an ``https://`` proxy is spoken TLS to.
"""

from __future__ import annotations

import ipaddress

from proxylab.analysis.clients.base import Decision, Request, first_set, with_scheme
from proxylab.vocab import MatrixClient

DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(entry: str) -> tuple[str, str]:
    if entry.startswith("[") or entry.count(":") != 1:
        return entry, ""
    host, _, port = entry.partition(":")
    return host, port


def no_proxy_entry(no: str, host: str, port: int) -> str | None:
    """The NO_PROXY entry that makes Go connect directly to ``host:port``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return raw.strip()
        try:
            net = ipaddress.ip_network(entry, strict=False) if "/" in entry else None
        except ValueError:
            net = None
        if net is not None:
            if address is not None and address in net:
                return raw.strip()
            continue
        try:
            if address is not None and address == ipaddress.ip_address(entry):
                return raw.strip()
            ipaddress.ip_address(entry)
            continue
        except ValueError:
            pass
        phost, pport = _split(entry)
        if pport and pport != str(port):
            continue
        if phost.startswith("*."):
            phost = phost[1:]
        match_host = not phost.startswith(".")
        suffix = phost if phost.startswith(".") else "." + phost
        if host.endswith(suffix) or (match_host and host == suffix[1:]):
            return raw.strip()
    return None


def rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    scheme = req.scheme
    if scheme == "https":
        variable, proxy = first_set(env, "HTTPS_PROXY", "https_proxy")
    elif "REQUEST_METHOD" in env:
        variable, proxy = None, None
    else:
        variable, proxy = first_set(env, "HTTP_PROXY", "http_proxy")
    no_var, no = first_set(env, "NO_PROXY", "no_proxy")
    host = req.host
    entry = None
    if proxy:
        if host == "localhost" or _loopback(host):
            return Decision(MatrixClient.GO, None, proxy_variable=variable,
                            no_proxy_variable=no_var, compared=host, note="loopback")
        entry = no_proxy_entry(no or "", host, DEFAULT_PORTS.get(scheme, 0))
    if entry is not None:
        proxy = None
    if proxy and not proxy.startswith(("http://", "https://", "socks5://")):
        proxy = with_scheme(proxy) if "://" not in proxy else proxy
    return Decision(MatrixClient.GO, proxy or None, proxy_variable=variable,
                    no_proxy_variable=no_var, matched=entry, compared=host)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


RULES = {MatrixClient.GO: rule}
