"""The prediction must be the clients' own logic: compared with the real urllib and
botocore, each run in a child process with exactly the scenario's environment."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from proxylab.analysis import predict

P = "http://10.0.0.72:3128"
RES = {"region": "ap-northeast-1", "bucket": "proxylab-demo-bucket", "private_api_id": "p4v9t3n6zd"}
ENVS = [
    {"HTTPS_PROXY": P},
    {"HTTPS_PROXY": P, "NO_PROXY": "s3.ap-northeast-1.amazonaws.com"},
    {"HTTPS_PROXY": P, "NO_PROXY": "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com"},
    {"HTTPS_PROXY": P, "no_proxy": ".amazonaws.com", "NO_PROXY": "example.com"},
    {"HTTPS_PROXY": P, "https_proxy": "", "NO_PROXY": "x"},
    {"HTTP_PROXY": P, "REQUEST_METHOD": "GET", "http_proxy": "http://other:1"},
    {"HTTPS_PROXY": P, "NO_PROXY": "*"},
    {"HTTPS_PROXY": P, "NO_PROXY": "*.amazonaws.com"},
    {"HTTPS_PROXY": P, "NO_PROXY": "s3.ap-northeast-1.amazonaws.com",
     "AWS_ENDPOINT_URL_S3": "https://s3.ap-northeast-1.amazonaws.com"},
    {"HTTPS_PROXY": P, "AWS_ENDPOINT_URL": "https://s3.ap-northeast-1.amazonaws.com",
     "NO_PROXY": "s3.ap-northeast-1.amazonaws.com", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
]
HOSTS = ["www.google.com", "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com",
         "s3.ap-northeast-1.amazonaws.com", "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com"]

CHILD = r"""
import json, os, sys, urllib.request
hosts = json.loads(sys.argv[1])
out = {"proxies": urllib.request.getproxies_environment(),
       "bypass": {h: bool(urllib.request.proxy_bypass(h)) for h in hosts}}
import boto3
c = boto3.client("s3", region_name="ap-northeast-1")
out["boto_proxies"] = c._endpoint.http_session._proxy_config._proxies
out["boto_endpoint"] = c.meta.endpoint_url
print(json.dumps(out))
"""


def _real(env: dict[str, str]) -> dict:
    child_env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
                 "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", **env}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(HOSTS)], env=child_env,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def real():
    return [_real(env) for env in ENVS]


def test_proxies_and_bypass_match_urllib(real):
    for env, got in zip(ENVS, real, strict=True):
        assert predict.proxies_from_env(env) == got["proxies"], env
        for h in HOSTS:
            assert predict.bypasses(h, env) == got["bypass"][h], (env, h)


def test_botocore_decision_matches_the_real_client(real):
    for env, got in zip(ENVS, real, strict=True):
        d = predict.decide("s3_get", env, RES)
        assert f"https://{d.decision_host}" == got["boto_endpoint"], env
        assert d.proxy == got["boto_proxies"].get("https"), env


def test_botocore_decides_on_endpoint_host_not_request_host():
    env = ENVS[2]  # NO_PROXY names the bucket's virtual host only
    d = predict.decide("s3_get", env, RES)
    assert d.request_host == "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com"
    assert d.proxy == P and d.request_host_match is not None  # consulted by nobody
    assert d.compared == "s3.ap-northeast-1.amazonaws.com" and d.reason == "no-entry-matched"
    assert predict.decide("web", {**env, "WEB_URL": "https://" + d.request_host}, RES).proxy is None


def test_endpoint_url_switches_to_path_style_and_us_east_1_legacy():
    d = predict.decide("s3_put", ENVS[8], RES)
    assert d.request_host == "s3.ap-northeast-1.amazonaws.com" and d.proxy is None
    assert d.path_style and d.endpoint_source == "AWS_ENDPOINT_URL_S3"
    assert predict.s3_endpoint({}, "us-east-1")[0] == "https://s3.amazonaws.com"
    assert predict.s3_endpoint({"AWS_S3_US_EAST_1_REGIONAL_ENDPOINT": "regional"},
                               "us-east-1")[0] == "https://s3.us-east-1.amazonaws.com"
    assert predict.s3_endpoint(ENVS[9], "ap-northeast-1")[1] == "default"


def test_matching_entry_and_why():
    env = {"HTTPS_PROXY": P, "NO_PROXY": "foo.example, .execute-api.ap-northeast-1.amazonaws.com"}
    assert predict.matching_entry(HOSTS[3], env) == (
        ".execute-api.ap-northeast-1.amazonaws.com", "suffix")
    assert predict.matching_entry("ample.com", {"NO_PROXY": "example.com"}) is None
    d = predict.decide("api", {**env, "API_GATEWAY_URL": f"https://{HOSTS[3]}/dev"}, RES)
    assert d.proxy is None and d.reason == "no-proxy-matched" and d.match.how == "suffix"
    assert d.no_proxy_variable == "NO_PROXY" and d.client == "urllib"


@pytest.mark.parametrize("step,env,layout,route,kind", [
    ("api", {"HTTPS_PROXY": P, "API_GATEWAY_URL": f"https://{HOSTS[3]}/"}, {}, "failed-at-proxy",
     None),
    ("api", {"HTTPS_PROXY": P, "API_GATEWAY_URL": f"https://{HOSTS[3]}/"},
     {"private_api_public_dns": "front"}, "proxy", None),
    ("api", {"API_GATEWAY_URL": f"https://{HOSTS[3]}/"},
     {"execute_api_interface": True, "execute_api_private_dns": True}, "endpoint", "interface"),
    ("api", {"API_GATEWAY_URL": f"https://{HOSTS[3]}/"}, {"execute_api_interface": True},
     "failed-direct", None),
    ("s3_get", {}, {"s3_gateway": True}, "endpoint", "gateway"),
    ("s3_get", {}, {"s3_gateway": False}, "failed-direct", None),
    ("web", {"WEB_URL": "https://www.google.com"}, {}, "failed-direct", None),
])
def test_predicted_route_from_layout(step, env, layout, route, kind):
    d = predict.decide(step, env, RES)
    assert predict.predicted_route(d, layout, RES)[:2] == (route, kind)


def test_host_port_entry_matches_an_endpoint_url_with_the_port():
    # botocore tests NO_PROXY against the endpoint's netloc: "host:443" matches "host:443".
    host = "s3.ap-northeast-1.amazonaws.com"
    env = {"HTTPS_PROXY": P, "NO_PROXY": f"{host}:443", "AWS_ENDPOINT_URL_S3": f"https://{host}:443"}
    d = predict.decide("s3_get", env, RES)
    assert d.proxy is None and d.compared == f"{host}:443"
    assert d.reason == "no-proxy-matched"
    assert d.match == predict.NoProxyMatch(f"{host}:443", "exact")


def test_decision_names_the_variables_as_the_scenario_spells_them():
    env = {"https_proxy": P, "no_proxy": "example.com", "WEB_URL": "https://www.google.com"}
    d = predict.decide("web", env, RES)
    assert (d.proxy_variable, d.no_proxy_variable, d.reason) == (
        "https_proxy", "no_proxy", "no-entry-matched")
    d = predict.decide("web", {"HTTPS_PROXY": P, "https_proxy": "", "WEB_URL": "https://a.b"}, RES)
    assert d.proxy is None and d.reason == "proxy-cancelled" and d.cancelled_by == "https_proxy"
