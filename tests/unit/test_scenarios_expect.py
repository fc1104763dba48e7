"""The runner's quick look at a capture and its comparison with ``expect``."""

from __future__ import annotations

import json

from proxylab.capture import RunRecord, ScenarioRecord, write_capture
from proxylab.labs.base import LabDescription
from proxylab.scenarios.expect import check, observe, parse_proxy_line, parse_step_line
from proxylab.scenarios.model import Expectation

# The seed's own Squid line (SEED_FACTS.md) and run 3's failure.
SEED_LINE = (
    "1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT www.google.com:443 - "
    "HIER_DIRECT/172.217.31.164 -"
)
FAILED_LINE = (
    "1748149506.101      0 10.1.143.211 TCP_TUNNEL/503 0 CONNECT "
    "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com:443 - HIER_NONE/- -"
)
STEP = {
    "proxylab": "step",
    "step": "api",
    "url": "https://p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com/dev/data?id=111",
    "host": "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com",
    "outcome": "tunnel_error",
    "status": 503,
    "error": "Tunnel connection failed: 503 Service Unavailable",
    "elapsed_ms": 12.3,
}


def test_proxy_lines():
    r = parse_proxy_line(SEED_LINE)
    assert (r.host, r.port, r.method, r.code) == (
        "www.google.com",
        443,
        "CONNECT",
        "TCP_TUNNEL/200",
    )
    assert r.hierarchy == "HIER_DIRECT/172.217.31.164"
    plain = parse_proxy_line(
        "1748149505.823 5 10.1.143.211 TCP_MISS/200 512 GET http://Example.org/x - "
        "HIER_DIRECT/198.18.1.10 text/html"
    )
    assert (plain.host, plain.port) == ("example.org", None)
    assert parse_proxy_line("garbage") is None
    assert parse_proxy_line("") is None


def test_step_lines_with_and_without_a_cloudwatch_prefix():
    line = json.dumps(STEP)
    assert parse_step_line(line)["outcome"] == "tunnel_error"
    prefixed = f"2025-05-25T05:05:05.823Z\tabc-123\tINFO\t{line}"
    assert parse_step_line(prefixed)["step"] == "api"
    assert parse_step_line('{"proxylab": "step", "step": ') is None
    assert parse_step_line("Download success") is None


def _capture(tmp_path, proxy, function, services, status="ok"):
    d = tmp_path / "run"
    write_capture(
        d,
        files={"function.log": function, "proxy_access.log": proxy, "services.log": services},
    )
    write_capture(
        d,
        record=RunRecord(
            run_id="r", scenario=ScenarioRecord(id="s"),
            lab=LabDescription("local", "t", "r", True),
            status=status, started_at=0, finished_at=1,
        ),
    )
    return d


def test_observe_counts_unreadable_lines_and_never_fails(tmp_path):
    d = _capture(
        tmp_path,
        [SEED_LINE, "not squid", FAILED_LINE],
        ["START RequestId: r Version: $LATEST", json.dumps(STEP), '{"proxylab": broken'],
        [json.dumps({"service": "s3", "via": "gateway-endpoint"}), "[1]", "{oops"],
    )
    obs = observe(d)
    assert obs.status == "ok"
    assert obs.proxy_hosts == [
        "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com",
        "www.google.com",
    ]
    assert obs.steps["api"]["status"] == 503
    assert obs.vias("s3") == ["gateway-endpoint"]
    assert obs.unreadable == {"proxy_access.log": 1, "function.log": 1, "services.log": 2}
    assert observe(tmp_path / "nothing-here").proxy == []


def test_check_reports_each_difference(tmp_path):
    obs = observe(
        _capture(
            tmp_path,
            [SEED_LINE, FAILED_LINE],
            [json.dumps(STEP)],
            [json.dumps({"service": "s3", "via": "internet"})],
        )
    )
    private = "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com"
    good = Expectation(
        status="ok",
        crosses_proxy=("www.google.com:443", private),
        steps={"api": "tunnel_error"},
        services={"s3": "internet"},
    )
    assert check(good, obs) == []
    assert check(None, obs) == []
    bad = Expectation(
        status="function-error",
        crosses_proxy=("www.google.com", "s3.ap-northeast-1.amazonaws.com"),
        bypasses_proxy=(private,),
        steps={"api": "ok", "web": "ok"},
        services={"s3": "gateway-endpoint", "execute-api": "interface-endpoint"},
    )
    assert check(bad, obs) == [
        "status: expected function-error, got ok",
        "proxy: expected but not seen: s3.ap-northeast-1.amazonaws.com",
        f"proxy: seen but not expected: {private}",
        f"proxy: should have bypassed it: {private}",
        "step api: expected ok, got tunnel_error",
        "step web: expected ok, got no step line",
        "service s3: expected via gateway-endpoint, got internet",
        "service execute-api: expected via interface-endpoint, got no request",
    ]
    assert check(Expectation(crosses_proxy=()), obs) == [
        f"proxy: seen but not expected: {private}, www.google.com"
    ]


def test_services_a_lab_does_not_log_are_not_checked(tmp_path):
    from proxylab.scenarios.expect import observable_services, unobservable

    obs = observe(_capture(tmp_path, [], [], []))
    exp = Expectation(services={"s3": "gateway-endpoint", "execute-api": "interface-endpoint"})
    aws = observable_services({"observed_services": "execute-api"})
    assert aws == {"execute-api"}
    assert observable_services({"region": "x"}) is None
    assert observable_services({"observed_services": ""}) == set()
    assert check(exp, obs, aws) == [
        "service execute-api: expected via interface-endpoint, got no request"
    ]
    assert unobservable(exp, aws) == ["service s3"]
    assert unobservable(exp, None) == []
