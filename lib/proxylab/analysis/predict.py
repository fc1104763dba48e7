"""What the function's HTTP clients should do with a given environment.

The prediction uses the clients' own code paths, evaluated on the scenario's
variables as a dict (``os.environ`` is never read or changed):

* urllib (``urlopen``, the web and API Gateway steps): ``ProxyHandler`` takes
  ``getproxies()`` and, per request, skips the proxy when
  ``proxy_bypass(req.host)`` is true - the decision is made against the host of
  each request URL.
* botocore (the S3 steps, any declared AWS step): the proxy is decided **once, when
  the client is created, against the client's endpoint host** (``get_environ_proxies(
  endpoint url)`` in ``EndpointCreator``); the per-request host (virtual-hosted
  ``bucket.s3...``) never enters the decision. Both URLs are botocore's own answer
  (:mod:`proxylab.analysis.endpoint`); ``Config(proxies=...)`` replaces the variables.
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

from proxylab.analysis import endpoint, node_clients
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
    service: str | None = None  # botocore: the client's service
    endpoint_variable: str | None = None  # botocore: the AWS_ENDPOINT_URL* variable used
    endpoint_flags: tuple[str, ...] = ()  # botocore: dualstack, fips, path-style
    endpoint_error: str | None = None  # botocore refused the client configuration

    @property
    def direct(self) -> bool:
        return self.proxy is None

    @property
    def proxy_tls(self) -> bool:
        """The client speaks TLS to the proxy itself (an ``https://`` proxy URL).

        botocore (urllib3) does, for every request. Against Squid's plain
        ``http_port`` the ClientHello is no HTTP: Squid logs ``NONE_NONE/400 ...
        error:invalid-request`` and the client fails. urllib never does (see
        :attr:`proxy_self_connect`)."""
        return (self.client == Client.BOTOCORE and self.proxy is not None
                and urlsplit(self.proxy).scheme.lower() == "https")

    @property
    def proxy_self_connect(self) -> str | None:
        """urllib with an ``https://`` proxy URL for an ``http://`` URL: the proxy's own
        ``host:port``, for which it sends the proxy a CONNECT; None otherwise.

        ``ProxyHandler`` turns the request into an https one addressed to the proxy
        and opens it again; the handler then proxies *that* request, so
        ``HTTPSConnection`` tunnels to the proxy's own address through the proxy
        (plain ``CONNECT <proxy>``, TLS only inside). For an ``https://`` URL it sends
        the usual plain CONNECT whatever the proxy URL's scheme."""
        if self.client != Client.URLLIB or self.proxy is None or self.scheme != "http":
            return None
        parts = urlsplit(self.proxy)
        if parts.scheme.lower() != "https":
            return None
        return parts.netloc.rpartition("@")[2].lower() if parts.port else \
            f"{(parts.hostname or '').lower()}:443"


def s3_endpoint(env: dict[str, str], region: str) -> tuple[str, EndpointSource, bool]:
    """(endpoint URL, where it came from, path-style?) of the default S3 client, as
    botocore resolves it (:func:`proxylab.analysis.endpoint.resolve`)."""
    r = endpoint.resolve(endpoint.AwsCall("s3"), env, region)
    return r.endpoint_url.rstrip("/"), r.source, r.variable is not None


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


SEED_CALLS = {"s3_get": ("get_object", "SOURCE_KEY", "source_key", "input/data.csv"),
              "s3_put": ("put_object", None, None, "result.csv")}


def seed_call(step: str, env: dict[str, str], resources: dict[str, str]) -> endpoint.AwsCall:
    """The probe's S3 call for a seed step (its bucket and key from the variables)."""
    op, key_var, key_res, key = SEED_CALLS[step]
    bucket = env.get("BUCKET_NAME") or resources.get("bucket", "proxylab-demo-bucket")
    key = (env.get(key_var) if key_var else None) or (resources.get(key_res) if key_res
                                                       else None) or key
    return endpoint.AwsCall.of("s3", op, {"Bucket": bucket, "Key": key})


def call_of(aws: dict[str, Any]) -> endpoint.AwsCall:
    """A declared step's ``aws`` block (:mod:`proxylab.scenarios.steps`) as the call
    botocore is asked about; ``{"from_step": ...}`` bodies become empty ones."""
    cfg = dict(aws.get("config") or {})
    params = {k: "" if isinstance(v, dict) and "from_step" in v else v
              for k, v in (aws.get("params") or {}).items()}
    return endpoint.AwsCall.of(
        aws["service"], aws.get("operation"), params,
        region=aws.get("region"), addressing_style=cfg.get("addressing_style"),
        use_dualstack_endpoint=cfg.get("use_dualstack_endpoint"),
        use_fips_endpoint=cfg.get("use_fips_endpoint"), proxies=cfg.get("proxies"),
        endpoint_url=cfg.get("endpoint_url"))


def decide(step: str, env: dict[str, str], resources: dict[str, str],
           url: str | None = None, call: endpoint.AwsCall | None = None,
           runtime: str | None = None) -> Decision:
    """The client's route decision for one step: an AWS call (``call``, or the seed's
    S3 call for ``s3_get``/``s3_put``) or an HTTP request by urllib (``url``, or the
    seed's variable for ``web``/``api``); for a Node runtime (``runtime``: the
    scenario's), the Node client's own rule, its version from the run's
    ``node_version`` resource."""
    rt = parse_enum(Runtime, runtime) if runtime else None
    if rt is not None and rt.node_major is not None:
        region = resources.get("region") or env.get("AWS_REGION") or "us-east-1"
        return _decide_node(step, env, resources, url, region, rt.node_major)
    if call is None and STEP_CLIENTS.get(step) == Client.BOTOCORE:
        call = seed_call(step, env, resources)
    if call is not None:
        return decide_aws(step, call, env, resources)
    if url is None:
        url = env.get(STEP_URL_VARIABLE.get(step, "API_GATEWAY_URL")) or ""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = parts.netloc.rpartition("@")[2].lower()
    return _decision(step, Client.URLLIB, url, host, host, netloc, parts.scheme or "https",
                     env)


def decide_aws(step: str, call: endpoint.AwsCall, env: dict[str, str],
               resources: dict[str, str]) -> Decision:
    """botocore's decision for one call: the endpoint and request URL from botocore
    itself; the proxy from ``Config(proxies=...)`` when given (the variables, NO_PROXY
    included, are then not read), else from the variables tested against the
    client's endpoint netloc, once - as ``EndpointCreator`` does."""
    region = resources.get("region") or None
    r = endpoint.resolve(call, env, region)
    ep = urlsplit(r.endpoint_url)
    ep_host = (ep.hostname or "").lower()
    req = urlsplit(r.request_url or r.endpoint_url)
    req_host = (req.hostname or "").lower()
    request_url = r.request_url or r.endpoint_url
    scheme = req.scheme or ep.scheme or "https"
    extra: dict[str, Any] = {"endpoint_source": r.source, "path_style": "path-style" in r.flags,
                             "service": call.service, "endpoint_variable": r.variable,
                             "endpoint_flags": r.flags, "endpoint_error": r.error}
    if call.proxies is not None:
        proxy = dict(call.proxies).get(scheme)
        return Decision(step, Client.BOTOCORE, request_url, req_host, ep_host,
                        ep.netloc.lower(), scheme, proxy, ReasonKind.CONFIG_PROXIES, **extra)
    other = no_proxy_match(req_host, env) if req_host != ep_host else None
    return _decision(step, Client.BOTOCORE, request_url, req_host, ep_host, ep.netloc.lower(),
                     scheme, env, request_host_match=other, **extra)


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
    if decision.proxy_tls:
        return "failed-at-proxy", None, PathReason.PROXY_TLS_PLAIN_PORT
    if decision.proxy_self_connect:
        return "failed-at-proxy", None, PathReason.PROXY_SELF_CONNECT
    if decision.proxy is not None:
        if is_private and layout.get("private_api_public_dns", "nxdomain") == "nxdomain":
            return "failed-at-proxy", None, PathReason.PRIVATE_NAME_UNRESOLVED
        return "proxy", None, PathReason.PROXY_INTERNET
    interface = _interface_route(host, region, layout)
    if interface is not None:
        return "endpoint", EndpointKind.INTERFACE, interface
    if layout.get("dynamodb_gateway") and host == f"dynamodb.{region}.amazonaws.com":
        return "endpoint", EndpointKind.GATEWAY, PathReason.DYNAMODB_GATEWAY
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


def _interface_route(host: str, region: str, layout: dict[str, Any]) -> PathReason | None:
    """Whether a direct request to ``host`` reaches one of the layout's interface
    endpoints beyond the seed's (labs/base.py ``InterfaceEndpoint``): by an
    endpoint-specific name (``<vpce-id>.<service>.<region>.vpce.amazonaws.com``, ``*.``
    in front for S3), or by the service's own names when private DNS is on - except S3
    with ``PrivateDnsOnlyForInboundResolverEndpoint`` beside a gateway endpoint, whose
    names the VPC keeps resolving to the gateway's public addresses."""
    for ep in layout.get("interfaces") or ():
        svc = str(ep.get("service", ""))
        if host.endswith(f".{svc}.{region}.vpce.amazonaws.com"):
            return PathReason.INTERFACE_NAME
        if not ep.get("private_dns", True):
            continue
        if svc == "s3":
            if layout.get("s3_gateway") and ep.get(
                    "private_dns_only_for_inbound_resolver_endpoint", True):
                continue
            if _is_s3(host, region):
                return PathReason.SERVICE_PRIVATE_DNS
        elif host == f"{svc}.{region}.amazonaws.com":
            return PathReason.SERVICE_PRIVATE_DNS
    return None


def _is_s3(host: str, region: str) -> bool:
    return host == "s3.amazonaws.com" or host.endswith(".s3.amazonaws.com") or (
        bool(region) and (host == f"s3.{region}.amazonaws.com"
                          or host.endswith(f".s3.{region}.amazonaws.com"))
    ) or (".s3." in host and host.endswith(".vpce.amazonaws.com"))
