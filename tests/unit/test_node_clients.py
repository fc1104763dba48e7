"""The Node clients' predicted proxy choice must be the runtimes' own: each installed
Node (20, 22, 24) runs its real ``fetch`` dispatcher choice and its real
``https.request``/``http.request`` global agent (``node_oracle/routes.js``) under each
environment, with loopback listeners as the proxies and a ``lookup`` that refuses
every direct connection: no request leaves the process.

A Node that is not installed is skipped with the command that installs it."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from proxylab.analysis import node_clients as nc
from proxylab.labs.local import node
from proxylab.vocab import Client, MatchKind, NoProxyRule, ReasonKind

ORACLE = Path(__file__).parent / "node_oracle" / "routes.js"
URLS = ["https://www.google.com/", "https://google.com/", "https://example.com/",
        "http://www.google.com/", "https://badexample.com/",
        "https://b.s3.ap-northeast-1.amazonaws.com/", "https://api.example.com:8443/",
        "https://127.0.0.1:3/"]  # an address: no lookup; direct is refused at once


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def envs() -> list[dict[str, str]]:
    a, b = (f"http://127.0.0.1:{p}" for p in _free_ports(2))
    on = {"NODE_USE_ENV_PROXY": "1"}
    return [
        {"HTTPS_PROXY": a, "HTTP_PROXY": b},  # the switch off
        {**on, "HTTPS_PROXY": a},
        {**on, "HTTP_PROXY": b},  # fetch: https over the http proxy; https.request: direct
        {**on, "HTTPS_PROXY": a, "HTTP_PROXY": b, "NO_PROXY": "google.com"},
        {**on, "HTTPS_PROXY": a, "NO_PROXY": ".google.com,.ample.com"},
        {**on, "HTTPS_PROXY": a, "NO_PROXY": "*.google.com example.com"},
        {**on, "HTTPS_PROXY": a, "NO_PROXY": "www.google.com:443,api.example.com:443"},
        {**on, "HTTPS_PROXY": a, "NO_PROXY": "*"},
        {**on, "HTTPS_PROXY": a, "NO_PROXY": "x.invalid,*"},
        {**on, "HTTPS_PROXY": a, "NO_PROXY": ".amazonaws.com,127.0.0.0-127.255.255.255"},
        {**on, "HTTPS_PROXY": a, "https_proxy": "", "HTTP_PROXY": b},  # empty lowercase
        {**on, "HTTPS_PROXY": a, "no_proxy": "", "NO_PROXY": "google.com,example.com"},
        {**on, "HTTPS_PROXY": a, "no_proxy": "example.com", "NO_PROXY": "google.com"},
        {"NODE_OPTIONS": "--use-env-proxy", "HTTPS_PROXY": a},
        {"NODE_USE_ENV_PROXY": "true", "HTTPS_PROXY": a},  # only "1" switches it on
    ]


def installed() -> list:
    out = []
    for major in (20, 22, 24):
        found = node.node_binary(major)
        out.append(pytest.param(found, id=f"node{major}") if found else pytest.param(
            None, id=f"node{major}", marks=pytest.mark.skip(
                reason=f"Node.js {major} not installed: {node.SETUP_COMMAND} "
                       f"--runtime nodejs{major}.x")))
    return out


def _real(binary: Path, env: dict[str, str]) -> dict:
    proc = subprocess.run([str(binary), str(ORACLE), json.dumps(URLS)], capture_output=True,
                          text=True, timeout=60, env={"PATH": node.SYSTEM_PATH, **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def _norm(proxy: str | None) -> str | None:
    return None if proxy is None else proxy.rstrip("/")


@pytest.mark.parametrize("found", installed())
def test_fetch_and_https_request_choices_are_the_runtimes_own(found):
    binary, version = found
    v = nc.parse_version(version)
    for env in envs():
        if "NODE_OPTIONS" in env and not nc.has_env_proxy(v):
            # A Node without the flag refuses to start at all (exit 9): on Lambda, an
            # init failure before any request.
            proc = subprocess.run([str(binary), "-e", "0"], capture_output=True, text=True,
                                  timeout=30, env={"PATH": node.SYSTEM_PATH, **env})
            assert proc.returncode == 9 and "not allowed in NODE_OPTIONS" in proc.stderr
            continue
        got = _real(binary, env)
        for url in URLS:
            fetch = nc.decide_fetch(url, env, v)
            http = nc.decide_http(url, env, v)
            assert (_norm(fetch.proxy), _norm(http.proxy)) == (
                _norm(got[url]["fetch"]), _norm(got[url]["http"])), (version, env, url)
            for d in (fetch, http):
                assert d.reason.direct == (d.proxy is None), d


def test_node_20_has_no_switch_and_the_sdk_never_reads_the_variables():
    env = {"NODE_USE_ENV_PROXY": "1", "HTTPS_PROXY": "http://p:3128"}
    d = nc.decide_fetch("https://www.google.com/", env, nc.parse_version("v20.20.2"))
    assert (d.proxy, d.reason) == (None, ReasonKind.ENV_PROXY_UNSUPPORTED)
    d = nc.decide_http("https://www.google.com/", env, nc.parse_version("22.20.0"))
    assert d.reason is ReasonKind.ENV_PROXY_UNSUPPORTED
    assert nc.decide_http("https://x.y/", env, nc.parse_version("22.21.0")).proxy is not None
    assert nc.decide_http("https://x.y/", env, nc.parse_version("24.4.1")).proxy is None
    assert nc.decide_fetch("https://x.y/", env, nc.parse_version("26.0.0")).proxy is not None
    sdk = nc.decide(Client.AWS_SDK_JS_V3, "https://b.s3.eu-west-1.amazonaws.com/", env,
                    nc.parse_version("24.22.3"))
    assert (sdk.proxy, sdk.reason) == (None, ReasonKind.CLIENT_IGNORES_ENV)
    off = nc.decide_fetch("https://x.y/", {"HTTPS_PROXY": "http://p:3128"}, (24, 22, 3))
    assert off.reason is ReasonKind.ENV_PROXY_OFF
    old = nc.decide_fetch("https://x.y/", {"HTTPS_PROXY": "http://p:3128"}, (20, 20, 2))
    assert old.reason is ReasonKind.ENV_PROXY_UNSUPPORTED  # set or not: Node 20 has none


def test_bare_entries_differ_between_fetch_and_https_request_on_node_24():
    """The issue's example: a bare 'google.com' is a domain for undici 7, a host for
    node:http; the match says which entry and how."""
    env = {"NODE_USE_ENV_PROXY": "1", "HTTPS_PROXY": "http://p:3128", "NO_PROXY": "google.com"}
    v = (24, 22, 3)
    f = nc.decide_fetch("https://www.google.com/", env, v)
    h = nc.decide_http("https://www.google.com/", env, v)
    assert (f.proxy, f.match, f.rule) == (None, ("google.com", MatchKind.SUFFIX),
                                          NoProxyRule.UNDICI_7)
    assert (h.proxy, h.reason, h.rule) == ("http://p:3128", ReasonKind.NO_ENTRY_MATCHED,
                                           NoProxyRule.NODE_HTTP)
    assert h.compared == "www.google.com:443" and h.no_proxy_variable == "NO_PROXY"
    assert nc.decide_fetch("https://www.google.com/", env, (22, 23, 5)).proxy == "http://p:3128"


def test_versions_parse_and_unknown_ones_fall_back_to_the_major_read():
    assert nc.parse_version("v22.23.5") == (22, 23, 5)
    assert nc.parse_version(None, 24) == (24, 22, 3)
    with pytest.raises(ValueError):
        nc.parse_version("node")
