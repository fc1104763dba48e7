"""The ``pitfalls`` catalogue on the real lab (issue 10, item 7): one run per pitfall,
asserted from the raw evidence — Squid's lines, the service fronts' "via" — and, for
the probe's steps, the analysis's route and prediction. The catalogue's own
expectations must hold too (the runner's checker), but the assertions below are
written against the captures independently of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxylab.analysis.expectations import check
from proxylab.analysis.routes import classify
from proxylab.capture import Capture, read_capture
from proxylab.labs.local import topology as t
from proxylab.logs.squid import parse_line
from proxylab.logs.tables import load_tables
from proxylab.runner import run_catalog
from proxylab.vocab import Verdict

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pitfalls")
    paths = run_catalog("pitfalls", lab_options={"name": "pitfalls"}, runs_dir=root,
                        progress=False)
    return {read_capture(p).record.scenario.id: p for p in paths}


def _cap(runs: dict[str, Path], sid: str) -> Capture:
    return read_capture(runs[sid])


def squid(c: Capture) -> dict[str, tuple[str, str]]:
    """Squid's lines: request target -> (method, result code/status). Squid appends
    ``_ABORTED`` when the client hangs up before reading the whole reply (a handler that
    closes after the status line): the same answer, timing-dependent, so it is dropped."""
    out = {}
    for line in c.lines("proxy_access.log"):
        sl = parse_line(line)
        out[sl.url] = (sl.method, f"{sl.squid_code.removesuffix('_ABORTED')}/{sl.http_status}")
    return out


def vias(c: Capture) -> dict[str, set[tuple[str, str | None, int]]]:
    """service -> {(via, vpce id, status)} from the fronts' log."""
    out: dict[str, set[tuple[str, str | None, int]]] = {}
    for line in c.lines("services.log"):
        h = json.loads(line)
        out.setdefault(h["service"], set()).add((h["via"], h["vpce_id"], h["status"]))
    return out


def fact(path: Path, step: str):
    return next(f for f in classify(load_tables([path])).facts if f.step == step)


def test_every_pitfall_ran_as_its_expectations_say(runs: dict[str, Path]) -> None:
    assert len(runs) == 11
    tables = load_tables(list(runs.values()))
    failed = [(i.run_id, i.kind, i.subject, i.expected, i.observed)
              for i in check(tables) if i.verdict is Verdict.FAILED]
    assert not failed


def test_the_catalogue_honours_each_scenarios_region(runs: dict[str, Path]) -> None:
    regions = {sid: _cap(runs, sid).record.lab.region for sid in runs}
    assert {r for s, r in regions.items() if s.startswith("use1-")} == {"us-east-1"}
    assert {r for s, r in regions.items() if not s.startswith("use1-")} == {t.REGION}


def test_us_east_1_global_host_and_its_two_fixes(runs: dict[str, Path]) -> None:
    bucket_global = f"{t.BUCKET}.s3.amazonaws.com"
    c = _cap(runs, "use1-global-host")
    assert squid(c)[f"{bucket_global}:443"][0] == "CONNECT"
    assert {v for v, _, _ in vias(c)["s3"]} == {"internet"}
    f = fact(runs["use1-global-host"], "s3_get")
    assert (f.host, f.route, f.prediction_matches) == (bucket_global, "proxy", True)
    for fix, host in (("use1-regional-endpoint", f"{t.BUCKET}.s3.us-east-1.amazonaws.com"),
                      ("use1-endpoint-url", "s3.us-east-1.amazonaws.com")):
        c = _cap(runs, fix)
        assert not [u for u in squid(c) if "s3" in u], squid(c)
        assert vias(c)["s3"] == {("gateway-endpoint", t.S3_GATEWAY_VPCE_ID, 200)}
        f = fact(runs[fix], "s3_get")
        assert (f.host, f.route, f.prediction_matches) == (host, "endpoint", True)


def test_dual_stack_names_escape_the_no_proxy_suffix(runs: dict[str, Path]) -> None:
    c = _cap(runs, "dualstack-suffix")
    host = f"{t.BUCKET}.s3.dualstack.{t.REGION}.amazonaws.com"
    assert squid(c)[f"{host}:443"] == ("CONNECT", "TCP_TUNNEL/200")
    assert {v for v, _, _ in vias(c)["s3"]} == {"internet"}
    assert fact(runs["dualstack-suffix"], "s3_get").route == "proxy"


def test_s3_interface_endpoint_through_its_own_name(runs: dict[str, Path]) -> None:
    c = _cap(runs, "s3-interface-endpoint-url")
    assert not [u for u in squid(c) if "s3" in u]
    assert vias(c)["s3"] == {("interface-endpoint", t.vpce_id("s3"), 200)}
    # botocore keeps the endpoint URL's host and puts the bucket in the path.
    s3 = [json.loads(x) for x in c.lines("services.log") if json.loads(x)["service"] == "s3"]
    assert {(h["host"], h["path"].split("/")[1]) for h in s3} == {
        (f"bucket.{t.vpce_id('s3')}.s3.{t.REGION}.vpce.amazonaws.com", t.BUCKET)}
    assert {h["operation"] for h in s3} == {"GetObject", "PutObject"}


def test_private_dns_makes_the_public_api_403_and_the_alias_reaches_the_private_one(
    runs: dict[str, Path],
) -> None:
    c = _cap(runs, "private-dns-public-api-403")
    assert not [u for u in squid(c) if "execute-api" in u]
    assert vias(c)["execute-api"] == {("interface-endpoint", t.EXECUTE_API_VPCE_ID, 403)}
    assert fact(runs["private-dns-public-api-403"], "api").outcome == "http_error"
    c = _cap(runs, "private-api-alias")
    assert vias(c)["execute-api"] == {("interface-endpoint", t.EXECUTE_API_VPCE_ID, 200)}
    hosts = {json.loads(x)["host"] for x in c.lines("services.log")}
    assert any(h.startswith(f"{t.PRIVATE_API_ID}-{t.EXECUTE_API_VPCE_ID}.") for h in hosts)


def test_no_proxy_naming_the_bucket_host_does_not_bypass(runs: dict[str, Path]) -> None:
    c = _cap(runs, "no-proxy-bucket-host")
    host = f"{t.BUCKET}.s3.{t.REGION}.amazonaws.com"
    assert squid(c)[f"{host}:443"] == ("CONNECT", "TCP_TUNNEL/200")
    f = fact(runs["no-proxy-bucket-host"], "s3_get")
    assert (f.route, f.prediction_matches) == ("proxy", True)


def test_sts_regional_takes_the_interface_endpoint_global_crosses_the_proxy(
    runs: dict[str, Path],
) -> None:
    c = _cap(runs, "sts-regional")
    assert squid(c) == {}
    assert vias(c)["sts"] == {("interface-endpoint", t.vpce_id("sts"), 200)}
    c = _cap(runs, "sts-global")
    assert squid(c) == {"sts.amazonaws.com:443": ("CONNECT", "TCP_TUNNEL/200")}
    assert vias(c)["sts"] == {("internet", None, 200)}


def test_a_users_function_aws_calls_bypass_while_its_web_calls_cross(
    runs: dict[str, Path],
) -> None:
    c = _cap(runs, "endpoints-and-web")
    lines = squid(c)
    assert lines["www.google.com:443"][0] == lines["api.payments.example:443"][0] == "CONNECT"
    # A plain-http URL is an absolute-URI GET through Squid, not a CONNECT.
    assert lines["http://hooks.example.com/notify"] == ("GET", "TCP_MISS/200")
    assert not [u for u in lines if "amazonaws" in u]
    v = vias(c)
    assert v["secretsmanager"] == {("interface-endpoint", t.vpce_id("secretsmanager"), 200)}
    assert v["dynamodb"] == {("gateway-endpoint", t.DYNAMODB_GATEWAY_VPCE_ID, 200)}
    ops = {json.loads(x).get("operation") for x in c.lines("services.log")}
    assert {"GetSecretValue", "GetItem"} <= ops
    assert read_capture(runs["endpoints-and-web"]).record.invocation.payload["dynamodb"] == {
        "ok": True, "value": "alpha"}


@pytest.mark.parametrize("sid", ["endpoints-and-web"])
def test_every_host_of_a_users_function_is_predicted_by_its_layout(
    runs: dict[str, Path], sid: str,
) -> None:
    """The handler's hosts (no probe steps) from the evidence: the interface endpoint
    (private DNS) and the DynamoDB gateway are predicted as the lab routed them."""
    from proxylab.analysis.contacts import host_contacts

    c = _cap(runs, sid)
    region = dict(c.record.resources)["region"]
    hosts = {f.host: f for f in host_contacts(load_tables([runs[sid]])).facts}
    sm, ddb = f"secretsmanager.{region}.amazonaws.com", f"dynamodb.{region}.amazonaws.com"
    assert (hosts[sm].route, hosts[sm].predicted_route) == ("endpoint", "endpoint")
    assert (hosts[ddb].route, hosts[ddb].predicted_route) == ("endpoint", "endpoint")
    assert all(f.prediction_matches for f in hosts.values()), {
        h: (f.route, f.predicted_route) for h, f in hosts.items()}
