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

STEP_CLIENTS = {"s3_get": "botocore", "s3_put": "botocore", "web": "urllib", "api": "urllib"}
TRUE = ("true", "1", "yes")


def proxies_from_env(env: dict[str, str]) -> dict[str, str]:
    """``urllib.request.getproxies_environment()`` over ``env`` instead of os.environ."""
    proxies: dict[str, str] = {}
    for name, value in env.items():
        name = name.lower()
        if value and name[-6:] == "_proxy":
            proxies[name[:-6]] = value
    if "REQUEST_METHOD" in env:
        proxies.pop("http", None)
    for name, value in env.items():
        if name[-6:] == "_proxy":
            name = name.lower()
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    return proxies


def bypasses(host: str, env: dict[str, str]) -> bool:
    """urllib's own NO_PROXY test for ``host`` (``host`` or ``host:port``)."""
    return bool(urllib.request.proxy_bypass_environment(host, proxies_from_env(env)))


def matching_entry(host: str, env: dict[str, str]) -> tuple[str, str] | None:
    """The first NO_PROXY entry that makes ``host`` bypass, and how (``exact`` /
    ``suffix`` / ``*``); None when none does."""
    no = proxies_from_env(env).get("no")
    if not no:
        return None
    if no == "*":
        return "*", "*"
    for entry in no.split(","):
        entry = entry.strip()
        if entry and urllib.request.proxy_bypass_environment(host, {"no": entry}):
            bare = entry.lstrip(".").lower()
            exact = host.lower().split(":")[0] == bare or host.lower() == bare
            how = "exact" if exact else "suffix"
            return entry, how
    return None


def _var(env: dict[str, str], name: str) -> str | None:
    """The variable whose name matches case-insensitively (NO_PROXY or no_proxy)."""
    for key in (name.lower(), name.upper()):
        if key in env:
            return key
    return None


@dataclass(frozen=True)
class ClientDecision:
    """How one step's client picks its route: request URL, the host the proxy
    decision is made against, the proxy it uses (None: connects directly), why."""

    step: str
    client: str
    request_url: str
    request_host: str
    decision_host: str
    proxy: str | None
    why: str
    endpoint_source: str = ""


def s3_endpoint(env: dict[str, str], region: str) -> tuple[str, str, bool]:
    """(endpoint URL, where it came from, path-style?) as botocore resolves it.

    Precedence: ``AWS_ENDPOINT_URL_S3`` > ``AWS_ENDPOINT_URL`` (both ignored when
    ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is true) > the regional default
    (``s3.amazonaws.com`` in us-east-1 unless ``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=
    regional``). A configured endpoint switches S3 to path-style addressing."""
    ignore = env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() in TRUE
    if not ignore:
        for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
            if env.get(name):
                return env[name].rstrip("/"), name, True
    if region == "us-east-1" and env.get("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT", "") != "regional":
        return "https://s3.amazonaws.com", "default (legacy global endpoint)", False
    return f"https://s3.{region}.amazonaws.com", "default", False


def decide(step: str, env: dict[str, str], resources: dict[str, str],
           url: str | None = None) -> ClientDecision:
    """The client's route decision for one probe step."""
    region = resources.get("region") or env.get("AWS_REGION") or "us-east-1"
    proxies = proxies_from_env(env)
    client = STEP_CLIENTS.get(step, "urllib")
    if client == "botocore":
        endpoint, source, path_style = s3_endpoint(env, region)
        bucket = env.get("BUCKET_NAME") or resources.get("bucket", "bucket")
        ep = urlsplit(endpoint)
        ep_host = (ep.hostname or "").lower()
        req_host = ep_host if path_style else f"{bucket}.{ep_host}"
        netloc = ep.netloc.lower()
        proxy = None if bypasses(netloc, env) else proxies.get(ep.scheme or "https")
        return ClientDecision(step, client, f"{ep.scheme}://{req_host}/", req_host, ep_host,
                              proxy, _why_boto(ep_host, req_host, proxy, env, source, path_style),
                              source)
    if url is None:
        key = "WEB_URL" if step == "web" else "API_GATEWAY_URL"
        url = env.get(key) or ""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = parts.netloc.rpartition("@")[2].lower()
    proxy = None if (not host or bypasses(netloc, env)) else proxies.get(parts.scheme or "https")
    return ClientDecision(step, client, url, host, host, proxy,
                          _why_urllib(host, proxy, env, parts.scheme or "https"))


def _no_proxy_phrase(host: str, env: dict[str, str]) -> str:
    hit = matching_entry(host, env)
    if hit is None:
        return ""
    entry, how = hit
    var = _var(env, "NO_PROXY") or "NO_PROXY"
    if how == "*":
        return f"{var}='*' bypasses every host"
    if how == "exact":
        return f"{var} entry '{entry}' equals '{host}'"
    return f"{var} entry '{entry}' matches '{host}' as a domain suffix"


def _no_match_phrase(host: str, env: dict[str, str]) -> str:
    var = _var(env, "NO_PROXY")
    if var is None:
        return "no NO_PROXY is set"
    return f"no {var} entry ({env[var]!r}) matches '{host}'"


def _why_urllib(host: str, proxy: str | None, env: dict[str, str], scheme: str) -> str:
    if proxy is None:
        phrase = _no_proxy_phrase(host, env)
        if phrase:
            return f"{phrase}, so urllib connected directly"
        return f"no {scheme}_proxy variable is set, so urllib connected directly"
    return f"{_no_match_phrase(host, env)}, so urllib sent a CONNECT to {proxy}"


def _why_boto(ep_host: str, req_host: str, proxy: str | None, env: dict[str, str],
              source: str, path_style: bool) -> str:
    where = (f"botocore's S3 endpoint is '{ep_host}' ({source}"
             + (", which also switches to path-style requests" if path_style else "") + ")")
    if proxy is None:
        phrase = _no_proxy_phrase(ep_host, env)
        if phrase:
            tail = f"{phrase}, so botocore connected directly"
            if req_host != ep_host:
                tail += f" to '{req_host}'"
            return f"{where}; {tail}"
        return f"{where}; no https_proxy variable is set, so botocore connected directly"
    text = f"{where}; {_no_match_phrase(ep_host, env)}, so botocore used {proxy}"
    if req_host != ep_host and bypasses(req_host, env):
        text += (f" (a NO_PROXY entry matches the request host '{req_host}', but botocore "
                 "decides against its endpoint host, once per client)")
    return text


def predicted_route(decision: ClientDecision, layout: dict[str, Any],
                    resources: dict[str, str]) -> tuple[str, str | None, str]:
    """(route, endpoint kind, explanation) the lab's layout implies for a decision."""
    host = decision.request_host
    region = resources.get("region", "")
    private_api = resources.get("private_api_id")
    is_private = bool(private_api) and host.startswith(f"{private_api}.execute-api.")
    if decision.proxy is not None:
        if is_private and layout.get("private_api_public_dns", "nxdomain") == "nxdomain":
            return ("failed-at-proxy", None,
                    "the private API's name does not resolve outside the VPC, so the proxy "
                    "cannot open the tunnel")
        return "proxy", None, "the proxy reaches it over the internet"
    if _is_s3(host, region):
        if layout.get("s3_gateway"):
            return ("endpoint", "gateway",
                    "S3's public addresses are routed through the S3 gateway endpoint")
        return "failed-direct", None, "no S3 gateway endpoint and no NAT: no route to S3"
    if ".execute-api." in host:
        if ".vpce.amazonaws.com" in host or (
            layout.get("execute_api_interface") and layout.get("execute_api_private_dns")
        ):
            return ("endpoint", "interface",
                    "private DNS points execute-api names at the interface endpoint")
        return ("failed-direct", None,
                "no execute-api interface endpoint with private DNS and no NAT: no route")
    return "failed-direct", None, "the Lambda VPC has no NAT: direct internet traffic has no route"


def _is_s3(host: str, region: str) -> bool:
    return host == "s3.amazonaws.com" or host.endswith(".s3.amazonaws.com") or (
        bool(region) and (host == f"s3.{region}.amazonaws.com"
                          or host.endswith(f".s3.{region}.amazonaws.com"))
    ) or (".s3." in host and host.endswith(".vpce.amazonaws.com"))
