"""The client matrix on the real lab: a few clients under a few cases, and what the
evidence must show (issue 12's acceptance, the parts this machine's clients cover).

Each assertion pairs the client under test with one that, under the same case, goes
the other way, so a lab where everything times out (or everything is proxied)
cannot pass.
"""

from __future__ import annotations

import pytest

from proxylab.clients import cases, registry
from proxylab.clients.measure import measure
from proxylab.vocab import EvidenceSource, MeasuredRoute

pytestmark = pytest.mark.lab

CLIENTS = ["urllib", "botocore", "curl", "node-fetch", "node-fetch-env", "node-http-env"]
CASES = ["http-upper", "no-proxy-bucket", "https-lower"]


@pytest.fixture(scope="module")
def matrix(lab):
    return measure(lab, registry.select(CLIENTS), cases.select(CASES), timeout_s=2.0,
                   keep_lab=True)


def route(matrix, client: str, case: str) -> MeasuredRoute | None:
    return matrix.cell(client, case).route


def test_curl_ignores_uppercase_http_proxy(matrix):
    assert route(matrix, "urllib", "http-upper") == MeasuredRoute.PROXY
    assert matrix.cell("urllib", "http-upper").source == EvidenceSource.SQUID
    assert route(matrix, "curl", "http-upper") == MeasuredRoute.DIRECT


def test_botocore_decides_on_its_endpoint_host(matrix):
    """NO_PROXY names the bucket's own host: urllib goes direct (through the S3
    gateway endpoint), botocore still through Squid, because it decided against
    s3.<region>.amazonaws.com."""
    direct = matrix.cell("urllib", "no-proxy-bucket")
    assert (direct.route, direct.source) == (MeasuredRoute.DIRECT, EvidenceSource.SERVICE)
    assert "gateway-endpoint" in direct.evidence
    boto = matrix.cell("botocore", "no-proxy-bucket")
    assert (boto.route, boto.source) == (MeasuredRoute.PROXY, EvidenceSource.SERVICE)
    assert boto.detail.startswith("endpoint https://s3.")


def test_node_ignores_proxy_variables(matrix):
    assert route(matrix, "urllib", "https-lower") == MeasuredRoute.PROXY
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
