"""The wrong "why" texts of issue 10, each pinned by an oracle the analysis does not
own: real lab captures (tests/fixtures/why, recorded by ``proxylab run`` on the
local lab: real Squid 6, real awslambdaric, real boto3/urllib in the function) and
the real clients run in a child process against a listener that records what they
send to the proxy."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from proxylab.analysis import analyse, load_tables, predict
from proxylab.report import words

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "why"


def _run(name: str) -> Path:
    (run,) = REAL.glob(f"*-{name}-*")
    return run


def _analysis(*names: str):
    return analyse(load_tables([_run(n) for n in names]))


def _fact(a, scenario: str, step: str):
    return next(f for f in a.facts if f.scenario == scenario and f.step == step)


def _both(f) -> tuple[str, str]:
    en, ja = words.why(f, "en"), words.why(f, "ja")
    assert en.facts == ja.facts  # the two languages state the same facts
    return en.text, ja.text


# ----------------------------------------------------------------- https:// proxy URL


def test_https_proxy_url_botocore_fails_at_squid_and_the_line_is_the_steps():
    a = _analysis("https-proxy-url")
    squid_lines = (_run("https-proxy-url") / "proxy_access.log").read_text().splitlines()
    assert "error:invalid-request" in squid_lines[0]  # what the lab's Squid logged
    for step, line in (("s3_get", 1), ("s3_put", 2)):
        f = _fact(a, "https-proxy-url", step)
        assert f.outcome == "tls_error"
        assert f.decision.proxy_tls and f.predicted_route == "failed-at-proxy"
        assert f.route == "failed-at-proxy" and f.prediction_matches
        assert [s.line_no for s in f.squid] == [line]  # each step its own line
        en, ja = _both(f)
        assert "error:invalid-request" in en and "error:invalid-request" in ja
        assert "no Squid line" not in en and "TLS" in en
    # urllib sends a plain CONNECT for an https:// URL whatever the proxy URL's scheme
    web = _fact(a, "https-proxy-url", "web")
    assert not web.decision.proxy_tls and web.route == "proxy" and web.prediction_matches


LISTENER_CHILD = r"""
import json, os, sys, urllib.request
port = int(sys.argv[1])
for url in ("https://example.invalid/", "http://example.invalid/"):
    try:
        urllib.request.urlopen(url, timeout=3)
    except Exception:
        pass
import boto3
from botocore.config import Config
c = boto3.client("s3", region_name="ap-northeast-1",
                 config=Config(retries={"total_max_attempts": 1}, connect_timeout=3,
                               read_timeout=3))
try:
    c.get_object(Bucket="b", Key="k")
except Exception:
    pass
"""


def _first_bytes_of_each_connection(n: int, run) -> list[bytes]:
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(20)
    got: list[bytes] = []

    def serve() -> None:
        for _ in range(n):
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    got.append(conn.recv(64))
                except OSError:
                    got.append(b"")
    t = threading.Thread(target=serve)
    t.start()
    try:
        run(srv.getsockname()[1])
    finally:
        t.join(30)
        srv.close()
    return got


def test_https_proxy_url_tls_or_plain_connect_is_what_the_real_clients_send():
    def run(port: int) -> None:
        proxy = f"https://127.0.0.1:{port}"
        env = {"PATH": "/usr/bin:/bin", "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy,
               "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        subprocess.run([sys.executable, "-c", LISTENER_CHILD, str(port)], env=env,
                       capture_output=True, timeout=60, check=True)

    sent = _first_bytes_of_each_connection(3, run)
    real_tls = [b[:1] == b"\x16" for b in sent]  # a TLS record: the ClientHello
    env = {"HTTPS_PROXY": "https://p:3128", "HTTP_PROXY": "https://p:3128"}
    res = {"region": "ap-northeast-1", "bucket": "b"}
    web_https = predict.decide("web", env, res, url="https://example.invalid/")
    web_http = predict.decide("web", env, res, url="http://example.invalid/")
    s3 = predict.decide("s3_get", env, res)
    assert [web_https.proxy_tls, web_http.proxy_tls, s3.proxy_tls] == real_tls == [
        False, False, True]
    # urllib, https:// URL: the usual plain CONNECT for the URL's host ...
    assert sent[0].startswith(b"CONNECT example.invalid:443") and not \
        web_https.proxy_self_connect
    # ... http:// URL: a plain CONNECT for the proxy's own address
    assert sent[1].startswith(b"CONNECT 127.0.0.1:")
    assert web_http.proxy_self_connect == "p:3128"


def test_http_url_with_https_proxy_url_is_a_connect_to_the_proxy_itself():
    a = _analysis("http-url-https-proxy")
    web = _fact(a, "http-url-https-proxy", "web")
    proxy_ip = a.tables.records[web.run_id].resources["proxy_ip"]
    assert web.decision.proxy_self_connect == f"{proxy_ip}:3128"
    assert web.squid and web.squid[0].url == f"{proxy_ip}:3128"  # what the lab's Squid logged
    assert web.squid[0].squid_code == "TCP_DENIED" and web.squid[0].http_status == 403
    assert web.route == "failed-at-proxy" and web.prediction_matches
    en, ja = _both(web)
    assert f"CONNECT for the proxy's own address {proxy_ip}:3128" in en
    assert "absolute-URI" not in en and "プロキシ自身のアドレス" in ja


# ------------------------------------------------------------ host:443 NO_PROXY entry


def test_host_port_entry_matching_an_endpoint_url_with_the_port():
    a = _analysis("port-443-entry")
    env = dict(a.tables.records[str(a.routes["run_id"].iloc[0])].env)
    s3 = _fact(a, "port-443-entry", "s3_get")
    assert s3.route == "endpoint" and s3.prediction_matches
    en, _ = _both(s3)
    host = f"s3.{env['AWS_REGION'] if 'AWS_REGION' in env else 'ap-northeast-1'}.amazonaws.com"
    assert f"entry '{host}:443' equals '{host}:443'" in en
    assert "https_proxy variable" not in en
    web = _fact(a, "port-443-entry", "web")
    assert web.route == "failed-direct" and web.prediction_matches
    en, _ = _both(web)
    assert "entry 'www.google.com:443' equals 'www.google.com:443'" in en
    assert "https_proxy variable" not in en
    # the conclusion tests NO_PROXY against the step's URL, port included
    finding = next(f for f in a.conclusion.findings if f.target == "web")
    assert not finding.crossed_in  # one scenario: nothing to explain, but ...
    b = _analysis("port-443-entry", "https-proxy-url")
    web_f = next(f for f in b.conclusion.findings if f.target == "web")
    assert [c.kind for c in web_f.explained_by][:1] == ["no-proxy-matched"]


BYPASS_CHILD = r"""
import json, sys, urllib.request
import boto3
print(json.dumps({
    "web": bool(urllib.request.proxy_bypass("www.google.com:443")),
    "boto": boto3.client("s3", region_name="ap-northeast-1")
            ._endpoint.http_session._proxy_config._proxies}))
"""


def test_host_port_entry_decision_is_the_real_clients():
    env = dict(next(iter(_analysis("port-443-entry").tables.records.values())).env)
    child = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
             "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
             **{k: v for k, v in env.items() if "PROXY" in k.upper() or k.startswith("AWS_E")}}
    out = subprocess.run([sys.executable, "-c", BYPASS_CHILD], env=child, capture_output=True,
                         text=True, timeout=60, check=True)
    real = json.loads(out.stdout)
    res = {"region": "ap-northeast-1", "bucket": "proxylab-demo-bucket"}
    assert real["web"] and predict.decide("web", env, res, url="https://www.google.com:443/"
                                          ).proxy is None
    assert real["boto"] == {} and predict.decide("s3_get", env, res).proxy is None


# ------------------------------------------------- absolute-URI GET, HIER_DIRECT gloss


def test_absolute_uri_get_is_no_connect_and_hier_direct_is_an_upstream():
    a = _analysis("plain-http-web")
    web = _fact(a, "plain-http-web", "web")
    assert web.squid and web.squid[0].method == "GET"  # what the lab's Squid logged
    assert web.squid[0].hierarchy == "HIER_DIRECT"
    en, ja = _both(web)
    assert "absolute-URI request, no CONNECT" in en and "sent a CONNECT" not in en
    assert "CONNECT ではなく" in ja
    assert "no upstream contacted" not in en and "Squid itself connected" in en
    assert "上流に接続していない" not in ja


# ---------------------------------------------------------------- no_proxy as spelled


def test_lowercase_no_proxy_keeps_its_case():
    a = _analysis("lowercase-no-proxy-star")
    for step in ("s3_get", "web"):
        en, _ = _both(_fact(a, "lowercase-no-proxy-star", step))
        assert "no_proxy='*' bypasses every host" in en and "No_proxy" not in en
    web = _fact(a, "lowercase-no-proxy-star", "web")
    assert words.why(web, "en").text.startswith("no_proxy=")


@pytest.mark.parametrize("name", ["https-proxy-url", "port-443-entry", "plain-http-web",
                                  "lowercase-no-proxy-star", "http-url-https-proxy"])
def test_every_fixture_step_states_the_same_facts_in_both_languages(name):
    a = _analysis(name)
    for f in a.facts:
        _both(f)
