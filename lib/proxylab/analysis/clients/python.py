"""The Python clients' proxy rules: urllib, botocore, requests, httpx, aiohttp.

All start from urllib's ``getproxies()`` (lowercase wins, an empty lowercase variable
cancels the uppercase one), evaluated over the case's dict by
:func:`proxylab.analysis.predict.proxies_from_env`; they differ in how they test
NO_PROXY and what they do with the proxy URL:

- urllib (``ProxyHandler.proxy_open``): ``proxy_bypass_environment(req.host)``;
  a ``https://`` proxy is still sent a plain CONNECT (http.client tunnels before TLS).
- botocore (``EndpointCreator``): the same test, once, against the *endpoint's*
  netloc (``s3.<region>.amazonaws.com``), never the bucket's host.
- requests 2.x (``utils.should_bypass_proxies``): no_proxy (lowercase, else
  uppercase) with spaces removed; an IP-literal host is matched by CIDR or exactly,
  a name by plain ``str.endswith`` (no dot boundary) on host and host:port; then
  urllib's ``proxy_bypass`` too. urllib3 speaks TLS to an https:// proxy.
- httpx 0.28 (``_utils.get_environment_proxies``): one mount per no entry, ``*``
  anywhere disables every proxy, ``.x`` becomes ``*.x`` (subdomains only), a
  CIDR is read as its network address, host:port entries need an explicit port in
  the URL.
- aiohttp (``helpers.get_env_proxy_for_url``): only with ``trust_env=True``;
  urllib's ``proxy_bypass(url.host)``; an https:// proxy URL is dropped with a
  warning; a value without ``scheme://`` is an invalid URL (the request fails).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.request
from urllib.parse import urlsplit

from proxylab.analysis.clients.base import Decision, Request, with_scheme
from proxylab.analysis.predict import proxies_from_env, proxy_sources, s3_endpoint
from proxylab.vocab import MatrixClient


def _urllib_bypass(host: str, env: dict[str, str]) -> bool:
    return bool(urllib.request.proxy_bypass_environment(host, proxies_from_env(env)))


def _base(client: MatrixClient, env: dict[str, str], req: Request, compared: str,
          bypass: bool, matched: str | None = None, **extra: object) -> Decision:
    sources = proxy_sources(env)
    proxy = None if bypass else proxies_from_env(env).get(req.scheme)
    return Decision(client, proxy, proxy_variable=sources.get(req.scheme),
                    no_proxy_variable=sources.get("no"), compared=compared,
                    matched=(matched or proxies_from_env(env).get("no")) if bypass else None,
                    **extra)  # type: ignore[arg-type]


def _netloc(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2].lower()


def urllib_rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    netloc = _netloc(req.url)
    return _base(MatrixClient.URLLIB, env, req, netloc, _urllib_bypass(netloc, env),
                 tls_to_proxy=False)


def botocore_rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    endpoint, _source, _path = s3_endpoint(env, req.region)
    netloc = _netloc(endpoint)
    return _base(MatrixClient.BOTOCORE, env, req, netloc, _urllib_bypass(netloc, env),
                 note=f"endpoint {endpoint}")


def _requests_entry(host: str, port: int | None, env: dict[str, str]) -> str | None:
    """The no_proxy entry requests' own test matches (before urllib's), or None."""
    value = env.get("no_proxy") or env.get("NO_PROXY")
    if not value:
        return None
    entries = [e for e in value.replace(" ", "").split(",") if e]
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        ip = None
    if ip is not None:
        for entry in entries:
            if re.fullmatch(r"\d+\.\d+\.\d+\.\d+/\d+", entry):
                try:
                    if ip in ipaddress.IPv4Network(entry, strict=False):
                        return entry
                except ValueError:
                    continue
            elif entry == host:
                return entry
        return None
    with_port = f"{host}:{port}" if port else host
    return next((e for e in entries if host.endswith(e) or with_port.endswith(e)), None)


def requests_rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    parts = urlsplit(req.url)
    host = (parts.hostname or "").lower()
    entry = _requests_entry(host, parts.port, env)
    bypass = entry is not None or _urllib_bypass(host, env)
    return _base(MatrixClient.REQUESTS, env, req, host, bypass, matched=entry)


def _httpx_pattern_matches(pattern_host: str, port: int | None, host: str,
                           url_port: int | None) -> bool:
    """httpx's ``URLPattern`` host/port test for an ``all://`` mount."""
    if port is not None and port != url_port:
        return False
    if pattern_host.startswith("*."):
        return re.fullmatch(rf".+\.{re.escape(pattern_host[2:])}", host) is not None
    if pattern_host.startswith("*"):
        return re.fullmatch(rf"(.+\.)?{re.escape(pattern_host[1:])}", host) is not None
    return host == pattern_host


def _httpx_entry(no: str, host: str, url_port: int | None) -> str | None:
    entries = [e.strip() for e in no.split(",")]
    if "*" in entries:
        return "*"
    for entry in entries:
        if not entry or "://" in entry:
            continue
        try:
            ipaddress.IPv4Address(entry.split("/")[0])
            pattern = entry
        except ValueError:
            pattern = entry if entry.lower() == "localhost" else f"*{entry}"
        authority = urlsplit(f"all://{pattern}")
        try:
            port = authority.port
        except ValueError:
            port = None
        if _httpx_pattern_matches((authority.hostname or "").lower(), port, host, url_port):
            return entry
    return None


def httpx_rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    parts = urlsplit(req.url)
    host = (parts.hostname or "").lower()
    entry = _httpx_entry(proxies_from_env(env).get("no", ""), host, parts.port)
    decision = _base(MatrixClient.HTTPX, env, req, host, entry is not None, matched=entry)
    if decision.proxy is not None:
        return Decision(**{**decision.__dict__, "proxy": with_scheme(decision.proxy)})
    return decision


def aiohttp_rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    return Decision(MatrixClient.AIOHTTP, None, reads_env=False)


def aiohttp_env_rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    host = req.host
    decision = _base(MatrixClient.AIOHTTP_ENV, env, req, host, _urllib_bypass(host, env))
    proxy = decision.proxy
    if proxy is not None and urlsplit(proxy).scheme == "https":
        return Decision(**{**decision.__dict__, "proxy": None,
                           "note": "https:// proxy URL dropped"})
    if proxy is not None and "://" not in proxy:
        return Decision(**{**decision.__dict__, "usable": False,
                           "note": "proxy URL without scheme is invalid"})
    return decision


RULES = {MatrixClient.URLLIB: urllib_rule, MatrixClient.BOTOCORE: botocore_rule,
         MatrixClient.REQUESTS: requests_rule, MatrixClient.HTTPX: httpx_rule,
         MatrixClient.AIOHTTP: aiohttp_rule, MatrixClient.AIOHTTP_ENV: aiohttp_env_rule}
