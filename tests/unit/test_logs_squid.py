"""Squid access-log grammar: every line shape the captures and real Squid produce."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxylab.logs import squid

SEED = ("1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT www.google.com:443 - "
        "HIER_DIRECT/172.217.31.164 -")


def test_seed_line_fields():
    rec = squid.parse_line(SEED)
    assert (rec.ts, rec.elapsed_ms, rec.client_ip) == (1748149505.823, 135, "10.1.143.211")
    assert (rec.squid_code, rec.http_status, rec.bytes) == ("TCP_TUNNEL", 200, 19109)
    assert (rec.method, rec.host, rec.port) == ("CONNECT", "www.google.com", 443)
    assert (rec.hierarchy, rec.peer, rec.content_type, rec.user) == (
        "HIER_DIRECT", "172.217.31.164", None, None)


@pytest.mark.parametrize("line", [
    SEED.replace("    135", " 135"),
    SEED.replace("    135", "             135"),
    SEED + "\r\n",
])
def test_elapsed_padding_and_crlf(line):
    assert squid.parse_line(line) == squid.parse_line(SEED)


@pytest.mark.parametrize("line,why", [
    (SEED.replace("    135", "\t135"), "not printable"),
    ("  " + SEED, "leading or trailing space"),
    (SEED + " ", "leading or trailing space"),
    (SEED.replace(" CONNECT", "  CONNECT"), "two spaces"),
    (SEED.replace(" CONNECT", "\vCONNECT"), "not printable"),
])
def test_squid_never_writes_other_blanks(line, why):
    """Squid pads only %6tr and writes single spaces: anything else is malformed."""
    with pytest.raises(squid.LineError, match=why):
        squid.parse_line(line)


def test_failed_tunnel_hier_none():
    line = ("1795534371.334      9 10.1.143.211 TCP_TUNNEL/503 0 CONNECT "
            "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com:443 - HIER_NONE/- -")
    rec = squid.parse_line(line)
    assert (rec.http_status, rec.hierarchy, rec.peer, rec.bytes) == (503, "HIER_NONE", None, 0)
    assert rec.host == "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com"


def test_none_none_error_pseudo_url():
    line = ("1748149506.100      0 10.1.143.211 NONE_NONE/000 0 - "
            "error:transaction-end-before-headers - HIER_NONE/- -")
    rec = squid.parse_line(line)
    assert (rec.squid_code, rec.http_status, rec.method) == ("NONE_NONE", 0, "-")
    assert (rec.host, rec.port) == (None, None)


def test_ipv6_client_peer_and_target():
    line = ("1748149506.001      2 2001:db8::5 TCP_TUNNEL/200 512 CONNECT [2001:db8::10]:8443 "
            "alice HIER_DIRECT/2606:2800:220:1::1 -")
    rec = squid.parse_line(line)
    assert rec.client_ip == "2001:db8::5"
    assert (rec.host, rec.port) == ("2001:db8::10", 8443)
    assert rec.peer == "2606:2800:220:1::1"
    assert rec.user == "alice"


@pytest.mark.parametrize("url,host,port", [
    ("http://example.com/x?y=1", "example.com", 80),
    ("https://Example.com:8443/", "example.com", 8443),
    ("http://user:pw@example.com:8080/p", "example.com", 8080),
    ("ftp://files.example.com/pub", "files.example.com", 21),
    ("bucket.s3.ap-northeast-1.amazonaws.com:443", "bucket.s3.ap-northeast-1.amazonaws.com", 443),
    ("-", None, None),
    ("error:invalid-request", None, None),
])
def test_absolute_urls_and_authorities(url, host, port):
    assert squid.split_target(url) == (host, port)


def test_absolute_url_request_with_content_type():
    line = ("1748149506.001     27 10.1.143.211 TCP_MISS/200 1024 GET http://example.com/a - "
            "HIER_DIRECT/93.184.216.34 text/html")
    rec = squid.parse_line(line)
    assert (rec.method, rec.host, rec.port, rec.content_type) == ("GET", "example.com", 80,
                                                                  "text/html")


COMMON = ('10.1.143.211 - - [24/Nov/2026:15:32:10 +0000] "CONNECT www.google.com:443 HTTP/1.1" '
          '200 19109 TCP_TUNNEL:HIER_DIRECT')
COMBINED = ('10.1.143.211 - bob [24/Nov/2026:16:32:10 +0100] "GET http://a.example/ HTTP/1.1" '
            '404 512 "-" "curl/8.5 (x)" TCP_MISS:HIER_DIRECT')


def test_common_and_combined():
    c = squid.parse_line(COMMON)
    assert (c.log_format, c.host, c.port, c.http_status, c.squid_code, c.hierarchy) == (
        "common", "www.google.com", 443, 200, "TCP_TUNNEL", "HIER_DIRECT")
    assert c.ts == pd.Timestamp("2026-11-24T15:32:10Z").timestamp()
    b = squid.parse_line(COMBINED)
    assert (b.log_format, b.user, b.http_status, b.elapsed_ms) == ("combined", "bob", 404, None)
    assert b.ts == c.ts  # +0100 offset applied


def test_detect_format():
    assert squid.detect_format([SEED, SEED]) == "squid"
    assert squid.detect_format(["", COMMON]) == "common"
    assert squid.detect_format([COMBINED, "junk"]) == "combined"
    assert squid.detect_format(["junk"]) == "squid"


@pytest.mark.parametrize("line,why", [
    ("1748149505.823 135 10.1.143.211 TCP_TUNNEL/200", "10 fields"),
    (SEED.replace("1748149505.823", "yesterday"), "timestamp"),
    (SEED.replace("TCP_TUNNEL/200", "TCP_TUNNEL-200"), "CODE/status"),
    (SEED.replace("19109", "lots"), "bytes"),
    (SEED.replace("    135", " -1"), "elapsed"),
    (SEED.replace("HIER_DIRECT/", "direct/"), "HIER/peer"),
    (SEED + " extra", "10 fields"),
    (SEED.replace("1748149505.823", "99999999999.5"), "out of range"),
    (COMMON.replace("24/Nov/2026", "24/Foo/2026"), "time"),
    (COMMON.replace('"CONNECT', '"'), "common"),
    (COMMON.replace("24/Nov/2026", "24/Nov/9999"), "out of range"),
])
def test_malformed_lines_are_kept_with_reason(line, why):
    res = squid.parse_lines([SEED, line, SEED], run_id="r")
    assert len(res.frame) == 2
    assert [m.line_no for m in res.malformed] == [2]
    assert res.malformed[0].text == line
    assert why in res.malformed[0].reason


def test_frame_dtypes_and_line_numbers():
    res = squid.parse_lines(["", SEED, "garbage", COMMON], run_id="run-1")
    df = res.frame
    assert list(df.columns) == list(squid.DTYPES)
    assert str(df["ts"].dtype) == "datetime64[ns, UTC]"
    assert df["ts"].iloc[0] == pd.Timestamp("2025-05-25T05:05:05.823Z")
    assert isinstance(df["squid_code"].dtype, pd.CategoricalDtype)
    assert str(df["http_status"].dtype) == "Int64"
    assert df["raw_line_no"].tolist() == [2, 4]
    assert (res.lines, res.skipped, res.malformed_count) == (4, 1, 1)
    assert df["elapsed_ms"].isna().tolist() == [False, True]


def test_empty_input_has_typed_columns():
    df = squid.parse_lines([]).frame
    assert df.empty and str(df["ts"].dtype) == "datetime64[ns, UTC]"


def test_unknown_format_is_an_error():
    with pytest.raises(ValueError, match="unknown Squid log format"):
        squid.parse_lines([SEED], fmt="apache")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=160), max_size=6))
def test_no_line_crashes_the_parser(lines):
    res = squid.parse_lines(lines)
    assert len(res.frame) + len(res.malformed) + res.skipped == len(lines)


@settings(max_examples=150, deadline=None)
@given(ts=st.integers(0, 4_000_000_000), ms=st.integers(0, 999), tr=st.integers(0, 10**7),
       size=st.integers(0, 10**12), status=st.integers(0, 999),
       host=st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){1,3}", fullmatch=True),
       pad=st.integers(1, 8))
def test_generated_native_lines_round_trip(ts, ms, tr, size, status, host, pad):
    line = (f"{ts}.{ms:03d}{' ' * pad}{tr} 10.1.143.211 TCP_TUNNEL/{status:03d} {size} CONNECT "
            f"{host}:443 - HIER_DIRECT/198.18.1.10 -")
    rec = squid.parse_line(line)
    assert (rec.elapsed_ms, rec.bytes, rec.http_status, rec.host, rec.port) == (
        tr, size, status, host, 443)
    assert abs(rec.ts - (ts + ms / 1000)) < 1e-6


def test_other_scripts_digits_are_malformed_not_a_crash():
    for bad in (SEED.replace("    135", " ²"), SEED.replace("19109", "١٢"),
                SEED.replace("www.google.com:443", "[::1]:٤٤٣")):
        res = squid.parse_lines([bad])
        assert len(res.frame) + len(res.malformed) == 1


EDGE = [
    SEED,
    "",
    "1748149506.001      2 2001:db8::5 TCP_TUNNEL/200 512 CONNECT [2001:db8::10]:8443 alice "
    "HIER_DIRECT/2606:2800:220:1::1 -",
    "1748149506.100 0 10.1.143.211 NONE_NONE/000 0 - error:transaction-end-before-headers - "
    "HIER_NONE/- -",
    "1748149506.200      9 10.1.143.211 TCP_TUNNEL/503 0 CONNECT p.example:443 - HIER_NONE/- -",
    "1748149506.300     27 10.1.143.211 TCP_MISS/200 1024 GET http://example.com/a - "
    "HIER_DIRECT/93.184.216.34 text/html",
    "99999999999.5 1 10.1.143.211 TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -",
    "truncated 1748149506.3",
    COMMON,
    SEED.replace("    135", " ²"),
]


def test_vectorised_and_per_line_paths_agree(monkeypatch):
    lines = EDGE * 7
    slow = squid.parse_lines(lines)  # below the threshold: per line
    monkeypatch.setattr(squid, "VECTOR_MIN_LINES", 1)
    fast = squid.parse_lines(lines)
    pd.testing.assert_frame_equal(fast.frame, slow.frame, check_categorical=False)
    assert fast.malformed == slow.malformed and fast.skipped == slow.skipped
    assert len(fast.frame) == 6 * 7


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(EDGE) | st.text(max_size=80), min_size=1, max_size=12))
def test_vectorised_path_never_crashes_and_agrees(lines):
    import proxylab.logs.squid as mod

    slow = mod.parse_lines(lines)
    old = mod.VECTOR_MIN_LINES
    mod.VECTOR_MIN_LINES = 1
    try:
        fast = mod.parse_lines(lines)
    finally:
        mod.VECTOR_MIN_LINES = old
    assert fast.malformed == slow.malformed
    assert fast.frame["raw_line_no"].tolist() == slow.frame["raw_line_no"].tolist()
