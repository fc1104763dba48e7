"""seed.yaml says what SEED_FACTS.md says, and examples.yaml holds what the issue asks.

The table below is copied by hand from SEED_FACTS.md ("The four runs and what was
observed"), with the local lab's resources (TEAM.md) filled in.
"""

from __future__ import annotations

import pytest

from proxylab.scenarios import load_catalog

RESOURCES = {
    "region": "ap-northeast-1",
    "bucket": "proxylab-demo-bucket",
    "regional_api_id": "q8rw2x7k1m",
    "private_api_id": "p4v9t3n6zd",
    "proxy_url": "http://10.0.0.72:3128",
}
PROXY = {"HTTP_PROXY": "http://10.0.0.72:3128", "HTTPS_PROXY": "http://10.0.0.72:3128"}
WEB = "www.google.com"
REGIONAL = "q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com"
PRIVATE = "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com"
BUCKET = "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com"
S3 = "s3.ap-northeast-1.amazonaws.com"

SEED_TABLE = {
    "seed-1": ("regional", {}, [WEB, REGIONAL, BUCKET], {"api": "ok"}),
    "seed-2": (
        "regional",
        {"NO_PROXY": S3, "AWS_ENDPOINT_URL_S3": f"https://{S3}"},
        [WEB, REGIONAL],
        {"api": "ok"},
    ),
    "seed-3": ("private", {}, [WEB, PRIVATE, BUCKET], {"api": "tunnel_error"}),
    "seed-4": (
        "private",
        {
            "NO_PROXY": f"{S3},execute-api.ap-northeast-1.amazonaws.com",
            "AWS_ENDPOINT_URL_S3": f"https://{S3}",
            "AWS_ENDPOINT_URL_API_GATEWAY": "https://execute-api.ap-northeast-1.amazonaws.com",
        },
        [WEB],
        {"api": "ok"},
    ),
}


def test_seed_has_the_four_runs_in_order():
    cat = load_catalog("seed")
    assert cat.id == "seed" and cat.ids == list(SEED_TABLE)


@pytest.mark.parametrize("sid", list(SEED_TABLE))
def test_seed_run_matches_seed_facts(sid):
    function, extra_env, crossing, api = SEED_TABLE[sid]
    s = load_catalog("seed").get(sid)
    assert s.function == function
    assert s.resolve_env(RESOURCES) == {**PROXY, **extra_env}
    assert s.code is None and s.event == {}
    exp = s.expect.resolved(RESOURCES)
    assert exp.status == "ok"
    assert sorted(exp.crosses_proxy) == sorted(crossing)
    # S3, web and the API: every step succeeds except the private API in run 3.
    assert exp.steps == {"s3_get": "ok", "s3_put": "ok", "web": "ok", **api}
    # The interface endpoint exists for the private-API runs (as in the seed).
    assert s.endpoints.s3_gateway
    assert s.endpoints.execute_api_interface == (function == "private")
    assert s.endpoints.private_api_public_dns == "nxdomain"


def test_seed_run_4_names_the_endpoints_its_requests_arrive_by():
    exp = load_catalog("seed").get("seed-4").expect
    assert exp.services == {"s3": "gateway-endpoint", "execute-api": "interface-endpoint"}
    assert load_catalog("seed").get("seed-2").expect.services == {"s3": "gateway-endpoint"}


def test_examples_cover_the_issue_cases():
    cat = load_catalog("examples")
    res = {**RESOURCES, "proxy_url": "http://10.0.0.72:3128"}
    lower = cat.get("ex-lowercase-proxy").resolve_env(res)
    assert lower["https_proxy"] == lower["http_proxy"] == "http://10.0.0.72:3128"
    assert "HTTPS_PROXY" not in lower and "HTTP_PROXY" not in lower
    assert cat.get("ex-no-proxy-leading-dot").env["NO_PROXY"].startswith(".s3.")
    star = cat.get("ex-no-proxy-star")
    assert star.env["NO_PROXY"] == "*" and star.expect.steps["web"] == "timeout"
    alone = cat.get("ex-endpoint-url-s3-alone")
    assert "AWS_ENDPOINT_URL_S3" in alone.env and "NO_PROXY" not in alone.env
    assert S3 in alone.expect.resolved(res).crosses_proxy
    raises = cat.get("ex-handler-raises")
    assert raises.function_code() is not None and raises.expect.status == "function-error"


def test_seed_node_is_the_seed_twice_differing_only_in_runtime():
    """seed-node: each seed run with the Python probe beside the same run on nodejs20.x
    (same function, layout and variables), the Python half identical to seed.yaml's."""
    seed = load_catalog("seed")
    cat = load_catalog("seed-node")
    assert cat.ids == [x for i in range(1, 5) for x in (f"seed-{i}", f"seed-{i}-node")]
    for i in range(1, 5):
        py, nd, orig = cat.get(f"seed-{i}"), cat.get(f"seed-{i}-node"), seed.get(f"seed-{i}")
        assert (str(py.runtime), str(nd.runtime)) == ("python3.x", "nodejs20.x")
        assert py.function == nd.function == orig.function
        assert py.endpoints == nd.endpoints == orig.endpoints
        assert dict(py.env) == dict(nd.env) == {**dict(orig.env), "STEP_TIMEOUT": "3"}
        assert py.expect.steps == orig.expect.steps
        assert nd.expect.crosses_proxy == ()  # nothing of the Node probe crosses Squid
