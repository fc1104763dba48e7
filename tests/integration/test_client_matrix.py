"""The client matrix on the real lab: every client under every default case, once
(one bounded lab test module), and what the evidence must show.

Two kinds of check. Issue 12's acceptance cells, each paired with a client that
under the same case goes the other way, so a lab where everything times out (or
everything is proxied) cannot pass. And the rules: every cell that ran must show the
route its client's rule (:mod:`proxylab.analysis.clients`) predicts, so a rule that
is wrong for the installed version fails here, naming the cell.
"""

from __future__ import annotations

import pytest

from proxylab.clients import cases, registry
from proxylab.clients.measure import measure
from proxylab.vocab import Agreement, EvidenceSource, MeasuredRoute

# One run of the whole default matrix: about 2 minutes, over 5 under heavy load.
pytestmark = [pytest.mark.lab, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def matrix(lab):
    return measure(lab, registry.select(None), cases.select(None), keep_lab=True)


def route(matrix, client: str, case: str) -> MeasuredRoute | None:
    cell = matrix.cell(client, case)
    if cell.version is None:
        pytest.skip(f"{client} is not installed ({cell.note})")
    return cell.route


def test_every_measured_cell_is_what_its_clients_rule_predicts(matrix):
    ran = [c for c in matrix.cells if c.route is not None]
    assert len(ran) > 100
    differs = [f"{c.client} x {c.case}: measured {c.route}, rule {c.predicted} {c.rule} "
               f"({c.evidence}; {c.error[:160]})"
               for c in ran if c.agreement != Agreement.AGREES]
    node = {c.client for c in ran if c.agreement == Agreement.NO_RULE}
    assert node <= {"node-fetch-env", "node-http-env"}, node  # Node >= 22.21 env proxies
    assert [d for d in differs if d.split(" x ")[0] not in node] == []


def test_curl_ignores_uppercase_http_proxy(matrix):
    assert route(matrix, "urllib", "http-upper") == MeasuredRoute.PROXY
    # The internet stand-in answers plain http on 80, so Squid's absolute-URI GET reaches
    # the web front, whose line (from the proxy's public address) is the evidence.
    cell = matrix.cell("urllib", "http-upper")
    assert cell.source == EvidenceSource.SERVICE and "via internet" in cell.evidence
    assert route(matrix, "curl", "http-upper") == MeasuredRoute.DIRECT


def test_go_prefers_uppercase(matrix):
    assert route(matrix, "go", "upper-vs-lower") == MeasuredRoute.PROXY
    assert route(matrix, "go", "lower-vs-upper") == MeasuredRoute.FAILED  # the dead one
    assert route(matrix, "urllib", "lower-vs-upper") == MeasuredRoute.PROXY
    assert route(matrix, "go", "no-proxy-lower-vs-upper") == MeasuredRoute.DIRECT
    assert route(matrix, "urllib", "no-proxy-lower-vs-upper") == MeasuredRoute.PROXY


def test_httpx_leading_dot_does_not_match_the_apex(matrix):
    assert route(matrix, "httpx", "no-proxy-dot-apex") == MeasuredRoute.PROXY
    assert route(matrix, "httpx", "no-proxy-dot") == MeasuredRoute.DIRECT
    assert route(matrix, "requests", "no-proxy-dot-apex") == MeasuredRoute.DIRECT


def test_requests_cidr_only_for_ip_literals(matrix):
    assert route(matrix, "requests", "no-proxy-cidr") == MeasuredRoute.DIRECT
    assert route(matrix, "requests", "no-proxy-cidr-name") == MeasuredRoute.PROXY
    assert route(matrix, "urllib", "no-proxy-cidr") == MeasuredRoute.PROXY


def test_botocore_decides_on_its_endpoint_host(matrix):
    """NO_PROXY names the bucket's own host: urllib goes direct (through the S3
    gateway endpoint), botocore still through Squid, because it decided against
    s3.<region>.amazonaws.com; the CRT decides per request host and goes direct."""
    direct = matrix.cell("urllib", "no-proxy-bucket")
    assert (direct.route, direct.source) == (MeasuredRoute.DIRECT, EvidenceSource.SERVICE)
    assert "gateway-endpoint" in direct.evidence
    boto = matrix.cell("botocore", "no-proxy-bucket")
    assert (boto.route, boto.source) == (MeasuredRoute.PROXY, EvidenceSource.SERVICE)
    assert boto.rule["note"].startswith("endpoint https://s3.")  # what it decided on
    assert boto.detail in ("", boto.rule["note"])  # what it said (if it lived to say it)
    assert route(matrix, "botocore", "no-proxy-s3-regional") == MeasuredRoute.DIRECT
    assert route(matrix, "botocore-crt", "no-proxy-bucket") == MeasuredRoute.DIRECT
    assert route(matrix, "botocore-crt", "s3-proxy") == MeasuredRoute.PROXY


def test_the_jdk_and_sdk_v3_ignore_the_environment(matrix):
    assert route(matrix, "urllib", "https-lower") == MeasuredRoute.PROXY
    for client in ("java-httpclient", "java-urlconnection"):
        assert route(matrix, client, "https-lower") == MeasuredRoute.DIRECT
        assert route(matrix, client, "https-upper") == MeasuredRoute.DIRECT
    assert route(matrix, "botocore", "s3-proxy") == MeasuredRoute.PROXY
    assert route(matrix, "node-sdk-v3", "s3-proxy") == MeasuredRoute.DIRECT


def test_node_ignores_proxy_variables(matrix):
    assert route(matrix, "node-fetch", "https-lower") == MeasuredRoute.DIRECT
    major = int((matrix.cell("node-fetch", "https-lower").version or "0").split(".")[0])
    if major < 22:  # NODE_USE_ENV_PROXY came with Node 22/24; older ones ignore it too
        assert route(matrix, "node-fetch-env", "https-lower") == MeasuredRoute.DIRECT
        assert route(matrix, "node-http-env", "https-lower") == MeasuredRoute.DIRECT


def test_every_cell_records_its_version_and_evidence(matrix):
    for c in matrix.cells:
        if c.route is None:
            assert c.note, c
            continue
        assert c.version and c.evidence and c.token in c.url
    assert matrix.meta["unmatched_connects"] == {}
    assert matrix.meta["malformed"] == {}
    assert matrix.cell("botocore", "http-upper").note.startswith("n/a")


# NO_PROXY forms whose case sets the proxy and NO_PROXY in both spellings, one entry.
CHECKED_FORMS = ["no-proxy-exact", "no-proxy-suffix", "no-proxy-dot", "no-proxy-dot-apex",
                 "no-proxy-glob", "no-proxy-cidr-name", "no-proxy-host-port"]


def test_check_my_no_proxy_says_what_the_matrix_measured(matrix):
    """`proxylab clients --env ...` answers from the rules: for each NO_PROXY form of the
    matrix, the clients it says honour the entry are exactly those measured direct."""
    from proxylab.clients import check

    case_env = {c["id"]: c["env"] for c in matrix.cases}
    web_host = matrix.meta["values"]["web_host"]
    readers = [c["name"] for c in matrix.clients if c["version"] and
               matrix.cell(c["name"], "https-lower").route == MeasuredRoute.PROXY and
               matrix.cell(c["name"], "https-upper").route == MeasuredRoute.PROXY]
    assert {"urllib", "requests", "httpx", "curl", "go"} <= set(readers)
    for form in CHECKED_FORMS:
        result = check.check(dict(case_env[form]), [web_host], readers)
        [entry] = result.entries
        measured = sorted(c for c in readers if matrix.cell(c, form).route == MeasuredRoute.DIRECT)
        assert sorted(entry.honoured_by) == measured, form
        assert sorted(entry.not_honoured_by) == sorted(set(readers) - set(measured)), form


def test_prove_on_a_generated_audit_log(lab, tmp_path):
    """--prove on a synthetic log: with the audit's NO_PROXY and endpoints, the S3 and API
    requests the proxy carried before arrive through the endpoints after."""
    from proxylab.audit.recommend import HostTraffic, recommend
    from proxylab.audit.synth import SynthOptions, host_pool
    from proxylab.awsdata.hostnames import classify
    from proxylab.clients import prove

    hosts = host_pool(SynthOptions(extra_hosts=20))
    recs = recommend([HostTraffic(h, 10, 100, classify(h)) for h in hosts])
    result = prove.prove(recs, lab, ["urllib", "botocore", "curl"], keep_lab=True)
    m = result.measured
    assert m is not None and result.no_proxy
    for client in ("urllib", "botocore", "curl"):
        before, after = m.cell(client, "before-s3"), m.cell(client, "after-s3")
        assert before.route == MeasuredRoute.PROXY, before
        assert after.route == MeasuredRoute.DIRECT and "gateway-endpoint" in after.evidence
        assert after.agreement == Agreement.AGREES
    api = m.cell("curl", "after-api")
    assert api.route == MeasuredRoute.DIRECT and "interface-endpoint" in api.evidence
