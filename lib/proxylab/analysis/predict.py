"""What the function's HTTP clients should do with a given environment.

The prediction uses the clients' own code paths, evaluated on the scenario's
variables as a dict (``os.environ`` is never read or changed):

* urllib (``urlopen``, the web and API Gateway steps): ``ProxyHandler`` takes
  ``getproxies()`` and, per request, skips the proxy when
  ``proxy_bypass(req.host)`` is true - the decision is made against the host of
  each request URL.
* botocore (the S3 steps): the proxy is decided **once, when the client is
  created, against the client's endpoint host** (``get_environ_proxies(endpoint
  url)`` in ``EndpointCreator``); the per-request host (virtual-hosted
  ``bucket.s3...``) never enters the decision.
* the Node.js probe's clients (AWS SDK v3, fetch, https.request): their rules live
  in :mod:`proxylab.analysis.node_clients`; :func:`decide` picks them by the run's
  runtime and Node version.

:func:`proxies_from_env` mirrors ``urllib.request.getproxies_environment`` line
for line (lowercase wins; an empty lowercase variable cancels; ``REQUEST_METHOD``
drops uppercase ``HTTP_PROXY``); the bypass test itself *is*
``urllib.request.proxy_bypass_environment``, called with that dict. A unit test
compares both with the real libraries run in a child process.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from proxylab.analysis import node_clients
from proxylab.vocab import (
    Client,
    EndpointKind,
    EndpointSource,
    MatchKind,
    NoProxyRule,
    PathReason,
    ReasonKind,
    Runtime,
    parse_enum,
)

STEP_CLIENTS = {"s3_get": Client.BOTOCORE, "s3_put": Client.BOTOCORE, "web": Client.URLLIB,
                "api": Client.URLLIB}
STEP_URL_VARIABLE = {"web": "WEB_URL", "web_https": "WEB_URL", "api": "API_GATEWAY_URL",
                     "api_https": "API_GATEWAY_URL"}
TRUE = ("true", "1", "yes")


def proxy_sources(env: dict[str, str]) -> dict[str, str]:
    """Scheme -> the variable (with its case in ``env``) ``getproxies_environment``
    takes that scheme's proxy from; ``no`` names the NO_PROXY variable read."""
    sources: dict[str, str] = {}
    for name, value in env.items():
        low = name.lower()
        if value and low[-6:] == "_proxy":
            sources[low[:-6]] = name
    if "REQUEST_METHOD" in env:
        sources.pop("http", None)
    for name, value in env.items():
        if name[-6:] == "_proxy":
            low = name.lower()
            if value:
                sources[low[:-6]] = name
            else:
                sources.pop(low[:-6], None)
    return sources


def proxies_from_env(env: dict[str, str]) -> dict[str, str]:
    """``urllib.request.getproxies_environment()`` over ``env`` instead of os.environ."""
    return {scheme: env[name] for scheme, name in proxy_sources(env).items()}


def bypasses(host: str, env: dict[str, str]) -> bool:
    """urllib's own NO_PROXY test for ``host`` (``host`` or ``host:port``)."""
    return bool(urllib.request.proxy_bypass_environment(host, proxies_from_env(env)))


@dataclass(frozen=True)
class NoProxyMatch:
    """The NO_PROXY entry that made a host bypass, and how it matched."""

    entry: str
    how: MatchKind


def no_proxy_match(host: str, env: dict[str, str]) -> NoProxyMatch | None:
    """The first NO_PROXY entry that makes ``host`` bypass; None when none does.

    ``host`` must be the string the client tests - ``host:port`` when the URL has a
    port - since an entry ``host:443`` matches ``host:443`` and not ``host``."""
    no = proxies_from_env(env).get("no")
    if not no:
        return None
    if no == "*":
        return NoProxyMatch("*", MatchKind.STAR)
    for entry in no.split(","):
        entry = entry.strip()
        if entry and urllib.request.proxy_bypass_environment(host, {"no": entry}):
            bare = entry.lstrip(".").lower()
            exact = host.lower().split(":")[0] == bare or host.lower() == bare
            return NoProxyMatch(entry, MatchKind.EXACT if exact else MatchKind.SUFFIX)
    return None


def matching_entry(host: str, env: dict[str, str]) -> tuple[str, MatchKind] | None:
    """``(entry, how)`` of :func:`no_proxy_match`, or None."""
    m = no_proxy_match(host, env)
    return None if m is None else (m.entry, m.how)


@dataclass(frozen=True)
class Decision:
    """How one step's client picks its route, as facts: which client, the URL, the
    string its NO_PROXY test compared, the variables it read (with their case in the
    scenario), the entry that matched, the proxy chosen (None: direct) and why. The
    report words these facts; nothing here is a sentence."""

    step: str
    client: Client
    request_url: str
    request_host: str
    decision_host: str  # the host the decision is made against (botocore: the endpoint's)
    compared: str  # the exact string NO_PROXY was tested against (host or host:port)
    scheme: str
    proxy: str | None
    reason: ReasonKind
    proxy_variable: str | None = None  # the variable the scheme's proxy came from
    no_proxy_variable: str | None = None  # the NO_PROXY variable read, with its case
    no_proxy_value: str | None = None
    match: NoProxyMatch | None = None  # the entry that made it go direct
    cancelled_by: str | None = None  # an empty lowercase variable cancelling the upper one
    endpoint_source: EndpointSource | None = None  # botocore only
    path_style: bool = False
    request_host_match: NoProxyMatch | None = None  # botocore: an entry it never consults
    rule: NoProxyRule | None = None  # Node clients: the NO_PROXY rule they apply
    runtime_version: str | None = None  # Node clients: the Node version decided for

    @property
    def direct(self) -> bool:
        return self.proxy is None


def s3_endpoint(env: dict[str, str], region: str) -> tuple[str, EndpointSource, bool]:
    """(endpoint URL, where it came from, path-style?) as botocore resolves it.

    Precedence: ``AWS_ENDPOINT_URL_S3`` > ``AWS_ENDPOINT_URL`` (both ignored when
    ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is true) > the regional default
    (``s3.amazonaws.com`` in us-east-1 unless ``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=
    regional``). A configured endpoint switches S3 to path-style addressing."""
    ignore = env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() in TRUE
    if not ignore:
        for name in (EndpointSource.AWS_ENDPOINT_URL_S3, EndpointSource.AWS_ENDPOINT_URL):
            if env.get(name):
                return env[name].rstrip("/"), name, True
    if region == "us-east-1" and env.get("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT", "") != "regional":
        return "https://s3.amazonaws.com", EndpointSource.LEGACY_GLOBAL, False
    return f"https://s3.{region}.amazonaws.com", EndpointSource.DEFAULT, False


def _cancelled_by(env: dict[str, str], scheme: str) -> str | None:
    low = f"{scheme}_proxy"
    if env.get(low) == "" and any(k.lower() == low and v for k, v in env.items()):
        return low
    return None


def _decision(step: str, client: Client, url: str, req_host: str, host: str, compared: str,
              scheme: str, env: dict[str, str], **extra: Any) -> Decision:
    sources = proxy_sources(env)
    match = no_proxy_match(compared, env) if host else None
    proxy = None if (not host or bypasses(compared, env)) else proxies_from_env(env).get(scheme)
    no_var = sources.get("no")
    if proxy is not None:
        reason = ReasonKind.NO_ENTRY_MATCHED if no_var else ReasonKind.NO_PROXY_UNSET
    elif match is not None:
        reason = ReasonKind.NO_PROXY_MATCHED
    elif _cancelled_by(env, scheme):
        reason = ReasonKind.PROXY_CANCELLED
    else:
        reason = ReasonKind.NO_PROXY_VARIABLE
    return Decision(step, client, url, req_host, host, compared, scheme, proxy, reason,
                    proxy_variable=sources.get(scheme), no_proxy_variable=no_var,
                    no_proxy_value=env.get(no_var) if no_var else None,
                    match=match if proxy is None else None,
                    cancelled_by=_cancelled_by(env, scheme), **extra)


def decide(step: str, env: dict[str, str], resources: dict[str, str],
           url: str | None = None, runtime: str | None = None) -> Decision:
    """The client's route decision for one probe step (``runtime``: the scenario's; a
    Node runtime's version comes from the run's ``node_version`` resource)."""
    region = resources.get("region") or env.get("AWS_REGION") or "us-east-1"
    rt = parse_enum(Runtime, runtime) if runtime else None
    if rt is not None and rt.node_major is not None:
        return _decide_node(step, env, resources, url, region, rt.node_major)
    client = STEP_CLIENTS.get(step, Client.URLLIB)
    if client == Client.BOTOCORE:
        endpoint, source, path_style = s3_endpoint(env, region)
        bucket = env.get("BUCKET_NAME") or resources.get("bucket", "bucket")
        ep = urlsplit(endpoint)
        ep_host = (ep.hostname or "").lower()
        req_host = ep_host if path_style else f"{bucket}.{ep_host}"
        scheme = ep.scheme or "https"
        other = no_proxy_match(req_host, env) if req_host != ep_host else None
        return _decision(step, client, f"{scheme}://{req_host}/", req_host, ep_host,
                         ep.netloc.lower(), scheme, env, endpoint_source=source,
                         path_style=path_style, request_host_match=other)
    if url is None:
        url = env.get(STEP_URL_VARIABLE.get(step, "API_GATEWAY_URL")) or ""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = parts.netloc.rpartition("@")[2].lower()
    return _decision(step, client, url, host, host, netloc, parts.scheme or "https", env)


def _decide_node(step: str, env: dict[str, str], resources: dict[str, str], url: str | None,
                 region: str, major: int) -> Decision:
    """A Node probe step: the SDK's S3 request, or fetch / https.request to a URL."""
    version = resources.get("node_version")
    parsed = node_clients.parse_version(version, major)
    client = node_clients.STEP_CLIENTS.get(step, Client.NODE_FETCH)
    if client is Client.AWS_SDK_JS_V3:
        bucket = env.get("BUCKET_NAME") or resources.get("bucket", "bucket")
        default = f"s3.{region}.amazonaws.com"
        # The step line's url is the request the SDK sent; without one, its default
        # virtual-hosted request (SDK v3 has no legacy global endpoint).
        url = url or f"https://{bucket}.{default}/"
    elif url is None:
        url = env.get(STEP_URL_VARIABLE.get(step, "API_GATEWAY_URL")) or ""
    nd = node_clients.decide(client, url, env, parsed)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    match = None if nd.match is None else NoProxyMatch(*nd.match)
    return Decision(step, client, url, host, host, nd.compared, parts.scheme or "https",
                    nd.proxy, nd.reason, proxy_variable=nd.proxy_variable,
                    no_proxy_variable=nd.no_proxy_variable, no_proxy_value=nd.no_proxy_value,
                    match=match, cancelled_by=nd.cancelled_by, rule=nd.rule,
                    runtime_version=".".join(map(str, parsed)))


def predicted_route(decision: Decision, layout: dict[str, Any], resources: dict[str, str],
                    ) -> tuple[str, EndpointKind | None, PathReason]:
    """(route, endpoint kind, why the layout sends it there) for a decision."""
    host = decision.request_host
    region = resources.get("region", "")
    private_api = resources.get("private_api_id")
    is_private = bool(private_api) and host.startswith(f"{private_api}.execute-api.")
    if decision.proxy is not None:
        if is_private and layout.get("private_api_public_dns", "nxdomain") == "nxdomain":
            return "failed-at-proxy", None, PathReason.PRIVATE_NAME_UNRESOLVED
        return "proxy", None, PathReason.PROXY_INTERNET
    if _is_s3(host, region):
        if layout.get("s3_gateway"):
            return "endpoint", EndpointKind.GATEWAY, PathReason.S3_GATEWAY
        return "failed-direct", None, PathReason.NO_S3_ROUTE
    if ".execute-api." in host:
        if ".vpce.amazonaws.com" in host or (
            layout.get("execute_api_interface") and layout.get("execute_api_private_dns")
        ):
            return "endpoint", EndpointKind.INTERFACE, PathReason.INTERFACE_PRIVATE_DNS
        return "failed-direct", None, PathReason.NO_EXECUTE_API_ROUTE
    return "failed-direct", None, PathReason.NO_NAT


def _is_s3(host: str, region: str) -> bool:
    return host == "s3.amazonaws.com" or host.endswith(".s3.amazonaws.com") or (
        bool(region) and (host == f"s3.{region}.amazonaws.com"
                          or host.endswith(f".s3.{region}.amazonaws.com"))
    ) or (".s3." in host and host.endswith(".vpce.amazonaws.com"))
