"""Every parser proxylab has, fed random input: only its documented error escapes.

Issue 15: one bad line (a number out of range, a date out of range, a broken
quote...) killed a whole table or command. The oracle here is each parser's contract:
a grammar function raises ValueError (or returns), a ``parse_lines`` never raises and
accounts for every line (rows + malformed + skipped), ``RunRecord.from_dict`` raises
only CaptureError, ``proxylab audit`` exits 0 or 2 (a clear error), never a traceback.
Strategies are cheap (fragments of real lines, small random text) so 2,000 examples
each stay fast; the Squid grammar has its own property test
(``test_squid_grammar_property.py``).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxylab.capture import CaptureError, RunRecord
from proxylab.grammar import dns as dns_grammar
from proxylab.grammar import hostport, platform, step
from proxylab.grammar.services import ServiceRecord
from proxylab.logs import dns as dns_log
from proxylab.logs import lambda_log
from proxylab.logs import services as services_log

# derandomize: CI runs exactly the examples a developer ran, so a red build is a change
# in the code, never a new draw (new draws are for a developer's own `--hypothesis-seed`).
FUZZ = settings(max_examples=2000, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# A table build (pandas) or an audit costs ~10 ms an example; 2,000 each all the same.
TABLES = settings(FUZZ, max_examples=2000)

ODD = ["\t", "\v", "\x00", "\r", " ", "  ", "²", "٣", "é", "\u2028", '"', "\\", ":", "-", ".",
       "nan", "inf", "Infinity", "1E20", "-1", "1" * 20, "0025", "9999", "99999999999999"]
NUMBERS = st.one_of(st.integers(min_value=-(10**20), max_value=10**20),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([10**19, 2**63, -(2**63) - 1, 1e308, 10**400]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=12),
                    st.sampled_from(ODD))
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


def _text_from(fragments: list[str]) -> st.SearchStrategy[str]:
    """Lines made of real fragments and odd characters, in random order and amount."""
    return st.lists(st.one_of(st.sampled_from(fragments), st.sampled_from(ODD),
                              st.text(max_size=6)), max_size=10).map("".join)


# --- grammar -----------------------------------------------------------------------

STEP_PARTS = [step.STEP_MARK, ':"step"', ',"step":"web"', ',"outcome":"ok"', ',"status":',
              ',"elapsed_ms":', "200", "1e400", "NaN", "}", "{", ",", '"', "null", "true"]


@FUZZ
@given(_text_from(STEP_PARTS), JSONISH)
def test_step_line_raises_only_value_error(text, obj):
    candidates = [text, step.STEP_MARK + text,
                  json.dumps({"proxylab": "step", "step": "s", "outcome": "ok",
                              "status": obj, "elapsed_ms": obj, "error": obj, "host": obj})]
    for t in candidates:
        assert step.find_step(t) is None or isinstance(step.find_step(t), dict)
        try:
            st_ = step.parse_step(t)
        except ValueError:
            continue
        assert st_.step and (st_.status is None or isinstance(st_.status, int))


PLATFORM_PARTS = ["START RequestId: ", "END RequestId: ", "REPORT RequestId: ", "abc-123",
                  " Version: $LATEST", "\tDuration: ", "\tBilled Duration: ", "\tMemory Size: ",
                  "\tMax Memory Used: ", "\tInit Duration: ", "\tStatus: timeout", " ms", " MB",
                  "  ", "812.41", "128", "1e30", "10000000000000000000"]


@FUZZ
@given(_text_from(PLATFORM_PARTS))
def test_platform_lines_raise_only_value_error(text):
    for parse in (platform.parse_start, platform.parse_end, platform.parse_report):
        try:
            parse(text)
        except ValueError:
            pass
    rep = platform.report_numbers(text)
    if rep is not None:
        assert 0 <= rep.duration_ms < platform.MAX_NUMBER


@FUZZ
@given(st.fixed_dictionaries(
    {}, optional={"ts": st.one_of(NUMBERS, st.sampled_from(["0025-05-25T05:05:05Z", "x",
                                                             "2025-05-25T05:05:05", ""])),
                  "service": SCALARS, "via": st.sampled_from(["internet", "proxy", "x", 1]),
                  "status": NUMBERS, "host": SCALARS, "method": SCALARS, "path": SCALARS,
                  "source_ip": SCALARS}), JSONISH)
def test_service_record_raises_only_value_error(record, junk):
    for text in (json.dumps(record), json.dumps(junk)):
        try:
            rec = ServiceRecord.from_json(text)
        except ValueError:
            continue
        assert 0 <= rec.status <= 999


DNS_PARTS = ["public\t", "proxy-vpc\t", "Nov 24 15:32:10 ", "Feb 30 01:02:03 ", "Xyz  1 00:00:00 ",
             "dnsmasq[123]: ", "14 ", "99999999999999999999 ", "10.0.0.72/50311 ",
             "query[A] ", "forwarded ", "reply ", "config ", "a.example ", "from 10.0.0.72",
             "to 198.18.0.53", "is 198.18.1.10", "is NXDOMAIN", "cached ", "/etc/hosts "]


@FUZZ
@given(_text_from(DNS_PARTS), st.floats(min_value=0, max_value=9.1e9))
def test_dns_line_raises_only_value_error(text, ref):
    from datetime import UTC, datetime
    try:
        rec = dns_grammar.parse_dns_line(text)
        dns_grammar.syslog_ts(rec, datetime.fromtimestamp(ref, tz=UTC))
    except ValueError:
        pass


HOST_PARTS = ["http://", "https://", "[", "]", "::1", "2001:db8::1", "host.example", ":",
              "443", "99999", "123456", "@", "/", "?", "#", "user", "error:x", "-", "²"]


@FUZZ
@given(_text_from(HOST_PARTS))
def test_hostport_never_raises(text):
    host, port = hostport.split_target(text)
    assert host is None or host == host.lower()
    assert port is None or 0 <= port <= 99999
    hostport.split_authority(text)
    hostport.host_of(text)


# --- tables ------------------------------------------------------------------------

def _accounted(res, rows: int) -> None:
    assert rows + res.malformed_count + res.skipped <= res.lines


@TABLES
@given(st.lists(st.one_of(_text_from(['{"ts":', '1795534330.9', ',"service":"s3"',
                                      ',"via":"internet"', ',"status":', '200', '1e19',
                                      '10000000000000000000', "}", '"0025-01-01T00:00:00"']),
                          st.builds(json.dumps, JSONISH)), max_size=6))
def test_services_table_never_raises(lines):
    res = services_log.parse_lines(lines)
    assert len(res.frame) + res.malformed_count + res.skipped == res.lines == len(lines)


FUNCTION_PARTS = PLATFORM_PARTS + STEP_PARTS + [
    "2025-05-25T05:05:05.823Z ", "0025-05-25T05:05:05.823Z ", "9999-12-31T23:59:59Z ",
    "1748149505823\t", "9999999999999\t", "[ERROR] ", "[INFO]\t2025-05-25T05:05:05Z\tabc\t",
    "[INFO]\t0025-05-25T05:05:05Z\tabc\t", "Task timed out after 5.01 seconds"]


@TABLES
@given(st.lists(_text_from(FUNCTION_PARTS), max_size=6))
def test_function_log_tables_never_raise(lines):
    res = lambda_log.parse_lines(lines)
    assert len(res.frame) + res.malformed_count + res.skipped == res.lines == len(lines)


@TABLES
@given(st.lists(_text_from(DNS_PARTS), max_size=6),
       st.one_of(st.none(), st.floats(min_value=0, max_value=9.1e9)))
def test_dns_table_never_raises(lines, started_at):
    res = dns_log.parse_lines(lines, started_at=started_at)
    assert res.malformed_count + res.skipped <= res.lines == len(lines)


# --- captures ----------------------------------------------------------------------

RUN_KEYS = ["run_id", "scenario", "lab", "status", "started_at", "finished_at", "catalog",
            "repeat_index", "invocation", "timings", "error", "missing_evidence", "schema",
            "checksums"]


@settings(FUZZ, max_examples=2000)  # three records an example
@given(st.dictionaries(st.sampled_from(RUN_KEYS), JSONISH, max_size=10),
       st.sampled_from(["ok", "failed", "function-error"]),
       st.floats(min_value=0, max_value=9e9))
def test_run_record_raises_only_capture_error(data, status, when):
    base = {"run_id": "r", "status": status, "started_at": when, "finished_at": when,
            "scenario": {"id": "s"}, "lab": {}}
    for candidate in (data, base | data, {**base, **{k: v for k, v in data.items()
                                                     if k not in ("status", "started_at")}}):
        try:
            RunRecord.from_dict(candidate)
        except CaptureError:
            pass


# --- the audit ---------------------------------------------------------------------

GOOD_NATIVE = (b"1795534331.402    412 10.1.143.211 TCP_TUNNEL/200 5843 CONNECT "
               b"www.google.com:443 - HIER_DIRECT/198.18.1.10 -\n")
GOOD_COMMON = (b'10.1.1.1 - - [25/May/2025:05:05:05 +0000] "CONNECT www.google.com:443 '
               b'HTTP/1.1" 200 5843 TCP_TUNNEL:HIER_DIRECT\n')
AUDIT_PARTS = [GOOD_NATIVE, GOOD_COMMON, b"nan\n", b"inf ", b"Infinity", b"1E20 ", b'"', b"\x00",
               b"\x00" * 64, b"\r\n", b"\n", b"\x1f\x8b", b"\xff\xfe", b" 412 ", b"[", b"]"]


@pytest.fixture(scope="module")
def audit_file(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "access.log"


@settings(TABLES, suppress_health_check=[HealthCheck.too_slow,
                                        HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(AUDIT_PARTS), st.binary(max_size=24)), max_size=12),
       st.sampled_from(["c", "polars", "arrow"]), st.sampled_from(["auto", "common"]))
def test_audit_of_random_bytes_exits_cleanly(audit_file, parts, engine, fmt):
    from proxylab.audit.ingest import IngestOptions, ingest
    audit_file.write_bytes(b"".join(parts))
    agg = ingest([str(audit_file)], IngestOptions(engine=engine, log_format=fmt))
    (st_,) = agg.sources
    assert st_.parsed + st_.malformed <= st_.lines
    if agg.parsed:  # what `proxylab audit` does next (with nothing parsed: a UserError)
        from proxylab.audit.report import build_result, render_json
        assert json.loads(render_json(build_result(agg)))["summary"]["lines"] == st_.lines
