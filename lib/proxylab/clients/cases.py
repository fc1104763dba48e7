"""The proxy-variable cases of the client matrix: each an environment and a target.

Values are templates filled from the lab's own description (:func:`lab_values`),
so a case names ``{web_host}`` or ``{bucket_host}``, never a lab address. Two
proxies tell precedence apart: ``{proxy}`` is the lab's Squid, ``{dead_proxy}``
the same host on a port nothing listens on, so a client that picks it fails at
once (connection refused) instead of timing out like a direct request.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from proxylab.clients.registry import pick
from proxylab.errors import UserError


@dataclass(frozen=True)
class Case:
    id: str
    summary: str
    target: str  # a Target kind: web | web-http | web-ip-http | s3 | api
    env: tuple[tuple[str, str], ...]

    def environment(self, values: dict[str, str]) -> dict[str, str]:
        return {k: v.format_map(values) for k, v in self.env}


def _both(name: str, value: str) -> tuple[tuple[str, str], ...]:
    """A variable in both spellings, so a case about NO_PROXY forms is not also a
    case about which spelling a client reads."""
    return ((name.lower(), value), (name.upper(), value))


_HTTPS = _both("https_proxy", "{proxy}")

CASES: dict[str, Case] = {c.id: c for c in (
    Case("https-upper", "HTTPS_PROXY only (uppercase)", "web", (("HTTPS_PROXY", "{proxy}"),)),
    Case("https-lower", "https_proxy only (lowercase)", "web", (("https_proxy", "{proxy}"),)),
    Case("lower-vs-upper", "https_proxy=Squid, HTTPS_PROXY=a dead proxy: who reads lowercase "
         "first", "web", (("https_proxy", "{proxy}"), ("HTTPS_PROXY", "{dead_proxy}"))),
    Case("upper-vs-lower", "HTTPS_PROXY=Squid, https_proxy=a dead proxy: who reads uppercase "
         "first", "web", (("HTTPS_PROXY", "{proxy}"), ("https_proxy", "{dead_proxy}"))),
    Case("empty-lower", "HTTPS_PROXY=Squid, https_proxy empty: does empty lowercase cancel?",
         "web", (("HTTPS_PROXY", "{proxy}"), ("https_proxy", ""))),
    Case("http-proxy-only", "only HTTP_PROXY set, https:// URL", "web",
         (("HTTP_PROXY", "{proxy}"),)),
    Case("http-upper", "only HTTP_PROXY (uppercase), http:// URL", "web-http",
         (("HTTP_PROXY", "{proxy}"),)),
    Case("no-proxy-exact", "NO_PROXY=<web host>", "web",
         _HTTPS + _both("no_proxy", "{web_host}")),
    Case("no-proxy-suffix", "NO_PROXY=<parent domain> (bare suffix)", "web",
         _HTTPS + _both("no_proxy", "{web_parent}")),
    Case("no-proxy-dot", "NO_PROXY=.<parent domain> (leading dot)", "web",
         _HTTPS + _both("no_proxy", ".{web_parent}")),
    Case("no-proxy-dot-apex", "NO_PROXY=.<web host> (leading dot on the host itself)", "web",
         _HTTPS + _both("no_proxy", ".{web_host}")),
    Case("no-proxy-lower-vs-upper", "no_proxy=another host, NO_PROXY=<web host>: who reads "
         "lowercase no_proxy first", "web",
         _HTTPS + (("no_proxy", "other.invalid"), ("NO_PROXY", "{web_host}"))),
    Case("no-proxy-star", "NO_PROXY=* alone", "web", _HTTPS + _both("no_proxy", "*")),
    Case("no-proxy-star-list", "NO_PROXY=other.invalid,* (a * in a list)", "web",
         _HTTPS + _both("no_proxy", "other.invalid,*")),
    Case("no-proxy-spaces", "NO_PROXY=other.invalid, <web host> (a space after the comma)",
         "web", _HTTPS + _both("no_proxy", "other.invalid, {web_host}")),
    Case("no-proxy-glob", "NO_PROXY=*.<parent domain>", "web",
         _HTTPS + _both("no_proxy", "*.{web_parent}")),
    Case("no-proxy-cidr", "NO_PROXY=<web /24>, IP-literal http:// URL", "web-ip-http",
         _both("http_proxy", "{proxy}") + _both("no_proxy", "{web_net}")),
    Case("no-proxy-cidr-name", "NO_PROXY=<web /24>, the web host by name", "web",
         _HTTPS + _both("no_proxy", "{web_net}")),
    Case("no-proxy-host-port", "NO_PROXY=<web host>:443", "web",
         _HTTPS + _both("no_proxy", "{web_host}:443")),
    Case("no-proxy-bucket", "NO_PROXY=<bucket host>, S3 object", "s3",
         _HTTPS + _both("no_proxy", "{bucket_host}")),
    Case("no-proxy-s3-regional", "NO_PROXY=s3.<region>.amazonaws.com (the audit's fix), S3 "
         "object", "s3", _HTTPS + _both("no_proxy", "{s3_host}")),
    Case("s3-proxy", "https_proxy/HTTPS_PROXY, S3 object", "s3", _HTTPS),
    Case("api-proxy", "https_proxy/HTTPS_PROXY, regional API", "api", _HTTPS),
    Case("no-scheme", "proxy URL without scheme (host:port)", "web",
         _both("https_proxy", "{proxy_hostport}")),
    Case("https-scheme", "https:// proxy URL (the lab's Squid speaks plain HTTP)", "web",
         _both("https_proxy", "https://{proxy_hostport}")),
)}


def select(ids: list[str] | None) -> list[Case]:
    return pick(CASES, ids, "case")


def lab_values(resources: dict[str, str], web_ip: str) -> dict[str, str]:
    """The template values, from a lab's ``LabDescription.resources`` and the web
    host's address as the Lambda subnet resolves it."""
    try:
        proxy = urlsplit(resources["proxy_url"])
        web_host = urlsplit(resources["web_url"]).hostname or ""
        s3_host = urlsplit(resources["s3_endpoint_url"]).hostname or ""
        bucket = resources["bucket"]
    except KeyError as exc:
        raise UserError(
            f"the lab does not describe {exc.args[0]!r}: cannot build the cases") from None
    if proxy.port is None or proxy.hostname is None:
        raise UserError(f"the lab's proxy_url {resources['proxy_url']!r} has no host:port")
    return {
        "proxy": resources["proxy_url"],
        "proxy_hostport": f"{proxy.hostname}:{proxy.port}",
        "dead_proxy": f"{proxy.scheme}://{proxy.hostname}:{proxy.port + 1}",
        "web_host": web_host,
        "web_parent": web_host.split(".", 1)[1] if "." in web_host else web_host,
        "web_ip": web_ip,
        "web_net": str(ipaddress.ip_network(f"{web_ip}/24", strict=False)),
        "bucket": bucket,
        "bucket_host": f"{bucket}.{s3_host}",
        "s3_host": s3_host,
        "region": resources.get("region") or (s3_host.split(".")[1] if s3_host.count(".") > 2
                                              else ""),
    }
