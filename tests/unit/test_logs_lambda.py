"""Lambda / CloudWatch function-log lines: platform lines, probe steps, errors, prints."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxylab.logs import lambda_log

RID = "8f5e0c1a-1111-2222-3333-444455556666"
STEP = {"proxylab": "step", "step": "web", "url": "https://www.google.com",
        "host": "www.google.com", "outcome": "ok", "status": 200, "error": None,
        "elapsed_ms": 12.3}
REPORT = (f"REPORT RequestId: {RID}\tDuration: 812.41 ms\tBilled Duration: 813 ms\t"
          "Memory Size: 128 MB\tMax Memory Used: 71 MB\tInit Duration: 243.02 ms\t")
LOG = [
    f"START RequestId: {RID} Version: $LATEST",
    "Downloading input/data.csv from bucket proxylab-demo-bucket",
    json.dumps(STEP, separators=(",", ":")),
    f"END RequestId: {RID}",
    REPORT,
]


def test_invocation_lines():
    res = lambda_log.parse_lines(LOG, run_id="r1")
    assert res.malformed == []
    assert res.frame["kind"].astype(str).tolist() == ["start", "print", "step", "end", "report"]
    assert set(res.frame["request_id"]) == {RID}
    inv = res.invocations.iloc[0]
    assert (inv["duration_ms"], inv["billed_ms"], inv["memory_mb"], inv["max_memory_mb"],
            inv["init_ms"], inv["steps"], inv["state"], inv["version"]) == (
        812.41, 813.0, 128, 71, 243.02, 1, "ok", "$LATEST")


def test_step_fields():
    step = lambda_log.parse_lines(LOG).steps.iloc[0]
    assert (step["step"], step["host"], step["outcome"], step["status"], step["elapsed_ms"],
            step["target_url"]) == ("web", "www.google.com", "ok", 200, 12.3,
                                    "https://www.google.com")
    assert pd.isna(step["detail"])


def test_report_without_init_and_with_timeout_status():
    line = f"REPORT RequestId: {RID}\tDuration: 5000.00 ms\tBilled Duration: 5000 ms\t" \
           "Memory Size: 128 MB\tMax Memory Used: 70 MB\tStatus: timeout"
    res = lambda_log.parse_lines([f"START RequestId: {RID} Version: $LATEST", line])
    inv = res.invocations.iloc[0]
    assert pd.isna(inv["init_ms"]) and bool(inv["timed_out"]) and inv["state"] == "timeout"


def test_timeout_error_and_logging_lines():
    lines = [
        f"START RequestId: {RID} Version: $LATEST",
        "[ERROR] ClientError: An error occurred (AccessDenied) when calling GetObject",
        "Traceback (most recent call last):",
        f"[INFO]\t2025-05-25T05:05:05.823Z\t{RID}\tfrom the logging module",
        f"[WARNING]\t2025-05-25T05:05:06.000Z\t{RID}\tcareful",
        f"2025-05-25T05:05:10.830Z {RID} Task timed out after 5.01 seconds",
        f"END RequestId: {RID}",
    ]
    res = lambda_log.parse_lines(lines)
    kinds = res.frame["kind"].astype(str).tolist()
    assert kinds == ["start", "error", "print", "log", "log", "timeout", "end"]
    err = res.frame.iloc[1]
    assert err["detail"].startswith("ClientError: An error occurred (AccessDenied)")
    log = res.frame.iloc[3]
    assert log["detail"] == "from the logging module"
    assert log["ts"] == pd.Timestamp("2025-05-25T05:05:05.823Z")
    tmo = res.frame.iloc[5]
    assert tmo["detail"] == "Task timed out after 5.01 seconds"
    assert tmo["ts"] == pd.Timestamp("2025-05-25T05:05:10.830Z")
    inv = res.invocations.iloc[0]
    assert bool(inv["timed_out"]) and inv["errors"] == 1 and inv["state"] == "timeout"


@pytest.mark.parametrize("prefix,expected", [
    ("2026-11-24T16:10:00.981000+00:00 2026/11/24/[$LATEST]5f0e1d2c3b4a5968 ",
     "2026-11-24T16:10:00.981Z"),
    ("2026-11-24T16:10:00.981Z ", "2026-11-24T16:10:00.981Z"),
    ("1795536600981\t", "2026-11-24T16:10:00.981Z"),
])
def test_cloudwatch_prefixes(prefix, expected):
    res = lambda_log.parse_lines([prefix + line for line in LOG])
    assert res.malformed == []
    assert res.frame["kind"].astype(str).tolist() == ["start", "print", "step", "end", "report"]
    assert (res.frame["ts"] == pd.Timestamp(expected)).all()
    assert res.invocations.iloc[0]["init_ms"] == 243.02


def test_platform_lines():
    res = lambda_log.parse_lines([
        "INIT_START Runtime Version: python:3.12.v40\tRuntime Version ARN: arn:aws:lambda:x",
        "INIT_REPORT Init Duration: 10003.02 ms\tPhase: init\tStatus: timeout"])
    assert res.frame["kind"].astype(str).tolist() == ["platform", "platform"]


@pytest.mark.parametrize("line,why", [
    ('{"proxylab":"step","step":"api","url"', "Expecting"),
    ('{"proxylab":"step","step":"api","outcome":"great"}', "outcome"),
    ('{"proxylab":"step","outcome":"ok"}', "step name"),
    ('{"proxylab":"step","step":"web","outcome":"ok","status":"200"}', "status"),
    ('{"proxylab":"step","step":"web","outcome":"ok","elapsed_ms":NaN}', "elapsed"),
    ('{"proxylab":"note"}', "not a proxylab step"),
    ("START RequestId:", "request id"),
    ("END RequestId: ", "request id"),
    ("REPORT RequestId: abc\tBilled Duration: 1 ms", "Duration"),
    ("REPORT RequestId: abc\tDuration: fast ms", "fast"),
])
def test_malformed_lines(line, why):
    res = lambda_log.parse_lines([*LOG[:2], line, *LOG[2:]])
    assert [m.line_no for m in res.malformed] == [3]
    assert why in res.malformed[0].reason
    assert len(res.frame) == len(LOG)


def test_prints_are_never_malformed():
    res = lambda_log.parse_lines(["{not json", "[oops]", "START of something", "   x"])
    assert res.malformed == [] and (res.frame["kind"] == "print").all()


def test_truncated_log_is_incomplete():
    res = lambda_log.parse_lines(LOG[:3])
    assert res.invocations.iloc[0]["state"] == "incomplete"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.text(max_size=120),
    st.builds(lambda s: "START RequestId: " + s, st.text(max_size=40)),
    st.builds(lambda s: "REPORT RequestId: x\t" + s, st.text(max_size=60)),
    st.builds(lambda s: '{"proxylab":"step"' + s, st.text(max_size=60)),
    st.builds(lambda s: "2026-11-24T16:10:00.981Z " + s, st.text(max_size=60)),
    st.builds(lambda s: "[ERROR]\t" + s, st.text(max_size=60)),
), max_size=8))
def test_no_line_crashes_the_parser(lines):
    res = lambda_log.parse_lines(lines)
    assert len(res.frame) + len(res.malformed) + res.skipped == len(lines)
