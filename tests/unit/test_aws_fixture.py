"""The AWS-backend fixture captures (tests/fixtures/captures/aws-*): shaped like real
CloudWatch output (INIT_START, REPORT with its trailing tab, Squid lines logged when a
tunnel closes, API Gateway access-log records), read by the same parsers as the local
lab's captures, and kept by the AWS lab's own filters."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from proxylab.capture import RUN_ID_RE, read_capture
from proxylab.labs.aws import logs
from proxylab.logs.tables import load_tables

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
AWS_CAPTURES = sorted(FIXTURES.glob("aws-*"))


def test_there_are_aws_fixture_captures() -> None:
    assert [p.name for p in AWS_CAPTURES] == ["aws-seed-2", "aws-seed-3", "aws-seed-4"]


@pytest.mark.parametrize("path", AWS_CAPTURES, ids=lambda p: p.name)
def test_fixture_is_what_the_aws_lab_would_collect(path: Path) -> None:
    cap = read_capture(path)
    rec = cap.record
    assert RUN_ID_RE.match(rec.run_id) and rec.lab.backend == "aws"
    inv = rec.invocation
    window = logs.Window(rec.started_at, inv.finished_at)
    eni = "10.1.143.211"
    squid = cap.lines("proxy_access.log")
    events = [{"logStreamName": "i-0c1d", "timestamp": 0, "message": ln} for ln in squid]
    assert logs.squid_lines_for(events, {eni}, window) == squid
    fn = [
        {"logStreamName": "s", "timestamp": 0, "message": ln + "\n"}
        for ln in cap.lines("function.log")
    ]
    assert logs.invocation_lines(fn, inv.request_id) == cap.lines("function.log")
    assert cap.lines("function.log")[-1].endswith("\t")  # CloudWatch's REPORT shape
    for line in cap.lines("services.log"):
        hit = json.loads(line)
        assert hit["service"] == "execute-api" and window.holds(hit["ts"])
    assert not (path / "dns.log").exists()  # the AWS lab collects no resolver log
    assert rec.resources["observed_services"] == "execute-api"


def test_fixtures_parse_cleanly_with_the_shared_parsers() -> None:
    tables = load_tables(AWS_CAPTURES)
    assert tables.malformed.empty
    assert len(tables.runs) == 3
    assert len(tables.proxy_requests) == 6
    assert len(tables.service_hits) == 2
    hits = tables.service_hits
    via = {
        str(v): (None if pd.isna(e) else str(e))
        for v, e in zip(hits["via"], hits["vpce_id"], strict=True)
    }
    assert via == {"internet": None, "interface-endpoint": "vpce-0a1b2c3d4e5f67890"}
    steps = tables.steps
    assert set(steps["step"].astype(str)) == {"s3_get", "s3_put", "web", "api"}
