"""Service-front JSON lines (local fronts and API Gateway access logs from AWS)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxylab.logs import services

HIT = {"ts": 1795534390.701, "service": "s3", "source_ip": "10.1.143.211",
       "local_ip": "198.18.16.10", "via": "gateway-endpoint", "vpce_id": "vpce-0f9e8d7c6b5a43210",
       "host": "s3.ap-northeast-1.amazonaws.com", "method": "GET",
       "path": "/proxylab-demo-bucket/input/data.csv", "status": 200}


def test_local_front_record():
    res = services.parse_lines([json.dumps(HIT)], run_id="r")
    row = res.frame.iloc[0]
    assert (row["service"], row["via"], row["vpce_id"], row["status"], row["path"]) == (
        "s3", "gateway-endpoint", "vpce-0f9e8d7c6b5a43210", 200,
        "/proxylab-demo-bucket/input/data.csv")
    assert row["ts"] == pd.Timestamp("2026-11-24T15:33:10.701Z")
    assert isinstance(res.frame["via"].dtype, pd.CategoricalDtype)


def test_aws_access_log_record_with_nulls_and_extra_keys():
    rec = {"ts": "2026-11-24T16:02:07.461Z", "service": "execute-api", "source_ip": "10.1.143.211",
           "local_ip": None, "via": "interface-endpoint", "vpce_id": "vpce-0a1b2c3d4e5f67890",
           "host": "P4V9T3N6ZD.execute-api.ap-northeast-1.amazonaws.com:443", "method": None,
           "path": "/dev/data", "status": 200, "request_id": "x", "evidence": "apigateway"}
    res = services.parse_lines([json.dumps(rec)])
    row = res.frame.iloc[0]
    assert res.malformed == []
    assert row["host"] == "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com"
    assert pd.isna(row["method"]) and pd.isna(row["local_ip"])


@pytest.mark.parametrize("text,why", [
    ("{", "Expecting"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({**HIT, "via": "teleport"}), "via"),
    (json.dumps({k: v for k, v in HIT.items() if k != "status"}), "missing"),
    (json.dumps({**HIT, "status": "200"}), "status"),
    (json.dumps({**HIT, "ts": 1e300}), "between 1970"),
    (json.dumps({**HIT, "ts": "yesterday"}), "ISO"),
    (json.dumps({**HIT, "host": 5}), "host"),
    (json.dumps({**HIT, "service": ""}), "service"),
])
def test_malformed(text, why):
    res = services.parse_lines([json.dumps(HIT), text])
    assert len(res.frame) == 1 and [m.line_no for m in res.malformed] == [2]
    assert why in res.malformed[0].reason


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.text(max_size=100),
    st.dictionaries(st.sampled_from(list(HIT)), st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
        max_size=10).map(json.dumps),
    st.builds(lambda ts: json.dumps({**HIT, "ts": ts}), st.text(max_size=30)),
), max_size=6))
def test_no_line_crashes_the_parser(lines):
    res = services.parse_lines(lines)
    assert len(res.frame) + len(res.malformed) + res.skipped == len(lines)
