"""Each record written by proxylab reads back through the same grammar module."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxylab.grammar import platform, step
from proxylab.grammar.hostport import host_of, split_authority
from proxylab.grammar.services import ServiceRecord
from proxylab.grammar.text import split_lines
from proxylab.vocab import Outcome, Via


def test_a_line_ends_at_newline_only():
    text = "a\vb\r\nc\x85d\u2028e\rf\n\nlast"
    assert split_lines(text) == ["a\vb", "c\x85d\u2028e\rf", "", "last"]
    assert len(text.splitlines()) > len(split_lines(text))  # what the grammar avoids


@settings(max_examples=80, deadline=None)
@given(rid=st.from_regex(r"[0-9a-f]{8}-[0-9a-f]{4}", fullmatch=True),
       dur=st.floats(0, 900_000, allow_nan=False), billed=st.integers(1, 900_000),
       mem=st.integers(128, 10240), used=st.integers(1, 10240),
       init=st.none() | st.floats(0, 10_000, allow_nan=False),
       tail=st.sampled_from([None, "Status: timeout", "Status: error\tError Type: Runtime.X"]))
def test_platform_lines_round_trip(rid, dur, billed, mem, used, init, tail):
    rep = platform.parse_report(platform.report_line(rid, dur, billed, mem, used, init, tail))
    assert rep.request_id == rid and rep.duration_ms == round(dur, 2)
    assert (rep.billed_ms, rep.memory_mb, rep.max_memory_mb) == (billed, mem, used)
    assert rep.init_ms == (None if init is None else round(init, 2))
    assert rep.status == (tail.split("\t")[0].split(": ")[1] if tail else None)
    assert platform.parse_start(platform.start_line(rid)) == (rid, "$LATEST")
    assert platform.parse_end(platform.end_line(rid)) == rid
    assert platform.is_start_of(platform.start_line(rid), rid)
    assert platform.report_numbers("2025-05-25T05:05:05.823Z " +
                                   platform.report_line(rid, dur, billed, mem, used)) is not None


def test_broken_platform_lines_say_so():
    with pytest.raises(ValueError, match="Duration"):
        platform.parse_report("REPORT RequestId: abc\tMemory Size: 1 MB")
    with pytest.raises(ValueError, match="request id"):
        platform.parse_start("START RequestId: ")
    assert platform.parse_start("print('START')") is None


def test_step_line_as_the_probe_prints_it():
    rec = {"proxylab": "step", "step": "web", "url": "https://www.google.com",
           "host": "WWW.google.com", "outcome": "ok", "status": 200, "error": None,
           "elapsed_ms": 12.3}
    line = "2025-05-25T05:05:05.823Z\t" + json.dumps(rec, separators=(",", ":"))
    assert step.find_step(line) == rec
    got = step.parse_step(line[line.index("{"):])
    assert (got.step, got.outcome, got.host, got.status) == ("web", Outcome.OK,
                                                             "www.google.com", 200)
    assert step.find_step('{"proxylab":"other"}') is None
    with pytest.raises(ValueError, match="outcome"):
        step.parse_step(json.dumps(rec | {"outcome": "fine"}))


@settings(max_examples=100, deadline=None)
@given(ts=st.floats(0, 9e9, allow_nan=False), service=st.sampled_from(["s3", "execute-api"]),
       via=st.sampled_from(list(Via)), status=st.integers(100, 599),
       host=st.none() | st.from_regex(r"[a-z0-9]{1,10}(\.[a-z]{2,5}){1,3}", fullmatch=True),
       vpce=st.none() | st.just("vpce-0a1b2c3d4e5f67890"),
       extra=st.none() | st.just("apigateway-access-log"))
def test_service_record_round_trips(ts, service, via, status, host, vpce, extra):
    rec = ServiceRecord(ts=ts, service=service, via=via, status=status, host=host,
                        vpce_id=vpce, source_ip="10.1.143.211", evidence=extra)
    assert ServiceRecord.from_json(rec.to_json()) == rec
    assert ("evidence" in json.loads(rec.to_json())) == (extra is not None)


@pytest.mark.parametrize("bad,why", [
    ({"ts": "yesterday"}, "ISO"), ({"ts": float("inf")}, "between"), ({"via": "nat"}, "via"),
    ({"status": "200"}, "status"), ({"host": 5}, "host"),
])
def test_service_record_names_the_wrong_field(bad, why):
    good = {"ts": 1.0, "service": "s3", "via": "internet", "status": 200}
    with pytest.raises(ValueError, match=why):
        ServiceRecord.from_dict(good | bad)


@pytest.mark.parametrize("authority,want", [
    ("example.com:443", ("example.com", 443)), ("[2001:db8::1]:8443", ("2001:db8::1", 8443)),
    ("2001:db8::1", ("2001:db8::1", None)), ("h:٤٤٣", ("h", None)), ("h:123456", ("h", None)),
    ("[::1", (None, None)), (":80", (None, 80)),
])
def test_split_authority(authority, want):
    assert split_authority(authority) == want


def test_host_of_a_host_header():
    assert host_of("Bucket.S3.amazonaws.com:443") == "bucket.s3.amazonaws.com"
    assert host_of("") is None
