"""What Lambda's Node.js clients do with the proxy variables: the one place these rules live.

Read from the runtimes' own sources (``node --expose-internals``: ``internal/http``'s
``ProxyConfig``, ``internal/process/pre_execution``'s ``setupHttpProxy``, the bundled
undici's ``EnvHttpProxyAgent``) in Node 20.20.2, 22.23.5 and 24.22.3, and checked
against those binaries by ``tests/unit/test_node_clients.py`` (the real code paths, in
child processes) and against lab runs by ``tests/integration/test_node.py``:

* **AWS SDK for JavaScript v3** (``@aws-sdk/client-s3``): its ``NodeHttpHandler``
  builds its own ``https.Agent`` and never reads ``HTTP(S)_PROXY`` / ``NO_PROXY``:
  always direct.
* **fetch** (undici) and **http/https.request**: direct unless the proxy switch is on -
  ``NODE_USE_ENV_PROXY`` exactly ``1`` or ``--use-env-proxy`` in ``NODE_OPTIONS`` -
  and the Node has it (22.21+ on 22, 24.5+ on 24, every later major; Node 20 never).
  ``setupHttpProxy`` installs fetch's ``EnvHttpProxyAgent`` only when one of
  ``HTTP_PROXY``/``HTTPS_PROXY``/``http_proxy``/``https_proxy`` is non-empty.
* **fetch's** variables (undici, ``??``): lowercase wins *when present*, so an empty
  ``https_proxy`` cancels ``HTTPS_PROXY``; an https URL without an https proxy uses the
  http one. ``no_proxy ?? NO_PROXY``, split on commas and spaces, ``host:port`` entries
  match that port only (the URL's port, else the scheme's default). Undici 6 (Node 22):
  a bare entry matches only the host itself, ``.x``/``*.x`` match as a plain string
  suffix. Undici 7 (Node 24): a leading ``*.`` or ``.`` is stripped and every entry
  matches the host and its subdomains.
* **http/https.request**'s variables (Node's ``ProxyConfig``, ``||``): ``https_proxy ||
  HTTPS_PROXY`` for https, ``http_proxy || HTTP_PROXY`` for http (an empty lowercase
  one falls through; no cross-scheme fallback), only ``http://``/``https://`` proxies.
  ``no_proxy || NO_PROXY`` split on commas, compared with ``host`` and
  ``host:port`` (the port is always filled in: 443 for https). A bare entry matches
  only the host itself; ``*.x`` matches subdomains of x; ``.x`` matches x and its
  subdomains - on a label boundary in 24.22.3, as any string suffix in 22.23.5
  (``.ample.com`` matches ``example.com``; nodejs/node#62333 fixed it).

The clients helper (``proxylab clients``) runs the same Node clients outside Lambda;
:func:`decide_fetch` / :func:`decide_http` are its predictions too.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from proxylab.vocab import Client, MatchKind, NoProxyRule, ReasonKind

# The versions the rules above were read from (the lab's pinned Node binaries): a run
# that did not record its Node's version is predicted as that major's one.
READ_VERSIONS = {20: "20.20.2", 22: "22.23.5", 24: "24.22.3"}
# NODE_USE_ENV_PROXY / --use-env-proxy arrived in these releases of each line.
ENV_PROXY_SINCE = {22: (22, 21, 0), 24: (24, 5, 0)}
FIRST_MAJOR_WITH_ENV_PROXY_AT_0 = 25
# node:http's '.x' entries match on a label boundary from here (seen in 24.22.3; the
# 22.23.5 source still lacks it).
HTTP_DOT_BOUNDARY_SINCE = (24, 22, 0)
DEFAULT_PORTS = {"http": 80, "https": 443}
STEP_CLIENTS = {"s3_get": Client.AWS_SDK_JS_V3, "s3_put": Client.AWS_SDK_JS_V3,
                "web": Client.NODE_FETCH, "api": Client.NODE_FETCH,
                "web_https": Client.NODE_HTTP, "api_https": Client.NODE_HTTP}


def parse_version(version: str | None, major: int | None = None) -> tuple[int, int, int]:
    """``v22.23.5`` -> (22, 23, 5); an unknown version is the major's read version."""
    m = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", version or "")
    if m is None:
        if major is None:
            raise ValueError(f"not a Node.js version: {version!r}")
        return parse_version(READ_VERSIONS.get(major, f"{major}.0.0"))
    return int(m[1]), int(m[2] or 0), int(m[3] or 0)


def has_env_proxy(version: tuple[int, int, int]) -> bool:
    """Whether this Node knows NODE_USE_ENV_PROXY / --use-env-proxy at all."""
    since = ENV_PROXY_SINCE.get(version[0])
    if since is not None:
        return version >= since
    return version[0] >= FIRST_MAJOR_WITH_ENV_PROXY_AT_0


def switch_on(env: dict[str, str]) -> bool:
    """The proxy switch as the user set it (what Node reads, whether or not it knows it)."""
    return (env.get("NODE_USE_ENV_PROXY") == "1"
            or "--use-env-proxy" in env.get("NODE_OPTIONS", "").split())


def undici_major(version: tuple[int, int, int]) -> int:
    return 6 if version[0] <= 22 else 7


def fetch_rule(version: tuple[int, int, int]) -> NoProxyRule:
    return NoProxyRule.UNDICI_6 if undici_major(version) == 6 else NoProxyRule.UNDICI_7


def http_rule(version: tuple[int, int, int]) -> NoProxyRule:
    return (NoProxyRule.NODE_HTTP if version >= HTTP_DOT_BOUNDARY_SINCE
            else NoProxyRule.NODE_HTTP_NO_BOUNDARY)


@dataclass(frozen=True)
class NodeDecision:
    """One Node client's choice, as facts (``predict`` turns it into a Decision)."""

    client: Client
    proxy: str | None
    reason: ReasonKind
    compared: str
    proxy_variable: str | None = None
    no_proxy_variable: str | None = None
    no_proxy_value: str | None = None
    match: tuple[str, MatchKind] | None = None
    cancelled_by: str | None = None
    rule: NoProxyRule | None = None


# ---------------------------------------------------------------------- NO_PROXY rules


def undici_match(host: str, port: int, no_proxy: str, rule: NoProxyRule,
                 ) -> tuple[str, MatchKind] | None:
    """undici's ``EnvHttpProxyAgent.#shouldProxy``: the entry that sends it direct."""
    host = host.lower()
    if no_proxy == "*":
        return "*", MatchKind.STAR
    for entry in re.split(r"[,\s]", no_proxy):
        if not entry:
            continue
        m = re.match(r"^(.+):(\d+)$", entry)
        name = (m[1] if m else entry).lower()
        if m and int(m[2]) and int(m[2]) != port:
            continue
        if rule is NoProxyRule.UNDICI_7:
            name = re.sub(r"^\*?\.", "", name, count=1)
            if host == name:
                return entry, MatchKind.EXACT
            if host.endswith("." + name):
                return entry, MatchKind.SUFFIX
        elif not name.startswith((".", "*")):
            if host == name:
                return entry, MatchKind.EXACT
        elif host.endswith(name.removeprefix("*")):
            return entry, MatchKind.SUFFIX
    return None


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def http_match(host: str, port: int, no_proxy: str, rule: NoProxyRule,
               ) -> tuple[str, MatchKind] | None:
    """Node's ``ProxyConfig.shouldUseProxy(host, port)``: the entry that sends it direct."""
    host = host.lower()
    with_port = f"{host}:{port}" if port else host
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if entry == "*":
            return raw.strip(), MatchKind.STAR
        if entry in (host, with_port):
            return raw.strip(), MatchKind.EXACT
        if entry.startswith("."):
            suffix = entry[1:]
            if rule is NoProxyRule.NODE_HTTP_NO_BOUNDARY:
                if host.endswith(suffix):
                    return raw.strip(), MatchKind.EXACT if host == suffix else MatchKind.SUFFIX
            elif host == suffix:
                return raw.strip(), MatchKind.EXACT
            elif host.endswith("." + suffix):
                return raw.strip(), MatchKind.SUFFIX
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return raw.strip(), MatchKind.SUFFIX
        if "-" in entry and (addr := _ipv4(host)) is not None:
            start, _, end = entry.partition("-")
            lo, hi = _ipv4(start.strip()), _ipv4(end.split("-")[0].strip())
            if lo is not None and hi is not None and lo <= addr <= hi:
                return raw.strip(), MatchKind.SUFFIX
    return None


# ---------------------------------------------------------------------- decisions


def _first_present(env: dict[str, str], *names: str) -> str | None:
    """undici's ``a ?? b``: the first variable that is set at all (even empty)."""
    return next((n for n in names if n in env), None)


def _first_truthy(env: dict[str, str], *names: str) -> str | None:
    """Node's ``a || b``: the first variable with a non-empty value."""
    return next((n for n in names if env.get(n)), None)


def _switch(client: Client, env: dict[str, str], version: tuple[int, int, int],
            compared: str) -> NodeDecision | None:
    """The decision when the proxy switch keeps the client away from the variables: a
    Node without the switch ignores them whether or not it is set."""
    if not has_env_proxy(version):
        return NodeDecision(client, None, ReasonKind.ENV_PROXY_UNSUPPORTED, compared)
    if not switch_on(env):
        return NodeDecision(client, None, ReasonKind.ENV_PROXY_OFF, compared)
    return None


def _split(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme or "https"
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def decide_fetch(url: str, env: dict[str, str], version: tuple[int, int, int]) -> NodeDecision:
    """Node's global ``fetch`` for ``url`` under ``env``."""
    scheme, host, port = _split(url)
    compared = f"{host}:{port}"
    off = _switch(Client.NODE_FETCH, env, version, compared)
    if off is not None:
        return off
    if not any(env.get(n) for n in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")):
        return NodeDecision(Client.NODE_FETCH, None, ReasonKind.NO_PROXY_VARIABLE, compared)
    http_var = _first_present(env, "http_proxy", "HTTP_PROXY")
    https_var = _first_present(env, "https_proxy", "HTTPS_PROXY")
    cancelled = next((n for n in ((https_var,) if scheme == "https" else ()) + (http_var,)
                      if n and n.islower() and env[n] == "" and env.get(n.upper())), None)
    chosen = None
    if scheme == "https" and https_var and env[https_var]:
        chosen = https_var
    elif http_var and env[http_var]:
        chosen = http_var
    rule = fetch_rule(version)
    no_var = _first_present(env, "no_proxy", "NO_PROXY")
    no_value = env[no_var] if no_var else ""
    if chosen is None:
        reason = ReasonKind.PROXY_CANCELLED if cancelled else ReasonKind.NO_PROXY_VARIABLE
        return NodeDecision(Client.NODE_FETCH, None, reason, compared, cancelled_by=cancelled,
                            rule=rule)
    match = undici_match(host, port, no_value, rule) if no_value else None
    return _with_proxy(Client.NODE_FETCH, env, chosen, no_var, no_value, match, compared, rule)


def decide_http(url: str, env: dict[str, str], version: tuple[int, int, int]) -> NodeDecision:
    """``http.request`` / ``https.request`` on the global agent for ``url`` under ``env``."""
    scheme, host, port = _split(url)
    compared = f"{host}:{port}"
    off = _switch(Client.NODE_HTTP, env, version, compared)
    if off is not None:
        return off
    rule = http_rule(version)
    var = _first_truthy(env, f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
    if var is None or not env[var].startswith(("http://", "https://")):
        return NodeDecision(Client.NODE_HTTP, None, ReasonKind.NO_PROXY_VARIABLE, compared,
                            rule=rule)
    no_var = _first_truthy(env, "no_proxy", "NO_PROXY")
    no_value = env[no_var] if no_var else ""
    match = http_match(host, port, no_value, rule) if no_value else None
    return _with_proxy(Client.NODE_HTTP, env, var, no_var, no_value, match, compared, rule)


def _with_proxy(client: Client, env: dict[str, str], var: str, no_var: str | None,
                no_value: str, match: tuple[str, MatchKind] | None, compared: str,
                rule: NoProxyRule) -> NodeDecision:
    """A client that has a proxy from ``var``: NO_PROXY's entry decides."""
    common = dict(proxy_variable=var, no_proxy_variable=no_var if no_value else None,
                  no_proxy_value=no_value or None, rule=rule)
    if match is not None:
        return NodeDecision(client, None, ReasonKind.NO_PROXY_MATCHED, compared, match=match,
                            **common)
    reason = ReasonKind.NO_ENTRY_MATCHED if no_value else ReasonKind.NO_PROXY_UNSET
    return NodeDecision(client, env[var], reason, compared, **common)


def decide_sdk(url: str) -> NodeDecision:
    """The AWS SDK for JavaScript v3: never the proxy variables."""
    _, host, port = _split(url)
    return NodeDecision(Client.AWS_SDK_JS_V3, None, ReasonKind.CLIENT_IGNORES_ENV,
                        f"{host}:{port}")


def decide(client: Client, url: str, env: dict[str, str], version: tuple[int, int, int],
           ) -> NodeDecision:
    if client is Client.AWS_SDK_JS_V3:
        return decide_sdk(url)
    if client is Client.NODE_FETCH:
        return decide_fetch(url, env, version)
    if client is Client.NODE_HTTP:
        return decide_http(url, env, version)
    raise ValueError(f"{client} is not a Node.js client")
