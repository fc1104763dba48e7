"""The audit's vectorised reader and the capture parser give the grammar's verdicts.

One grammar (:mod:`proxylab.grammar.squid`) decides whether a Squid line is a record;
the readers must agree with it line for line: the capture parser per line, the
capture parser's column-wise paths above ``VECTOR_MIN_LINES`` (the compiled reader's
records, and Arrow/RE2), the audit's polars
CSV reader with its padding fill, and the audit's compiled reader (``--engine c``),
whose tables must also equal polars'. Lines are valid native lines put through random
damage (tabs, ``\\v``, NUL, CR, stray spaces, other scripts' digits, over-long
fields, ``nan``/``inf``/``1E20`` timestamps, missing or extra fields) or raw text.
The oracle is the grammar's :func:`verdict`, and the fields of every record.
"""

from __future__ import annotations

import random

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxylab.audit.ingest import IngestOptions, process_chunk
from proxylab.audit.parse import key_tokens_ok, parse_chunk
from proxylab.grammar import squid as grammar
from proxylab.grammar.text import split_lines
from proxylab.logs import squid as capture

ODD = ["\t", "\v", "\f", "\x00", "\x01", "\x02", "\r", " ", "  ", "²", "٣", "١٢", "é",
       "\u00a0", "\u2028", "\x85", "\x1c", "１", '"', "\\", "[", "]", "/", ":", "-", "~"]
ODD_TS = ["nan", "inf", "-inf", "1E20", "1e9", "+5", "-0", ".5", "5.", "99999999999",
          "9200000000", "9199999999.999", "0", "00000000001.5", "1.1234567890", "1_0", "٣"]
ODD_NUM = ["-1", "+5", "1" * 19, "9" * 18, "0" * 25, "²", "1e3", "", "-", "0x10"]


def _valid(rnd: random.Random) -> list[str]:
    ts = f"{rnd.randint(0, 4_000_000_000)}.{rnd.randint(0, 999):03d}"
    tr = str(rnd.randint(0, 10**7))
    pad = " " * rnd.randint(0, 6)
    host = rnd.choice(["www.google.com", "b.s3.ap-northeast-1.amazonaws.com", "[2001:db8::1]"])
    url = rnd.choice([f"{host}:443", f"http://{host}/x?y=1", "error:invalid-request", "-"])
    return [ts, pad + tr, rnd.choice(["10.1.143.211", "2001:db8::5", "-"]),
            f"{rnd.choice(['TCP_TUNNEL', 'NONE_NONE', 'TCP_MISS'])}/{rnd.randint(0, 999):03d}",
            str(rnd.randint(0, 10**12)), rnd.choice(["CONNECT", "GET", "-"]), url,
            rnd.choice(["-", "alice"]),
            rnd.choice(["HIER_DIRECT/198.18.1.10", "HIER_NONE/-", "HIER_NONE/"]),
            rnd.choice(["-", "text/html"])]


def damaged_line(rnd: random.Random) -> str:
    """A valid native line, then zero to three random kinds of damage."""
    if rnd.random() < 0.05:
        return "".join(rnd.choice(ODD + list("0123456789. abcTCP_/")) for _ in range(
            rnd.randint(0, 40)))
    f = _valid(rnd)
    for _ in range(rnd.choice((0, 0, 1, 1, 2, 3))):
        kind = rnd.randrange(8)
        i = rnd.randrange(len(f))
        if kind == 0:
            f[i] = f[i][: (j := rnd.randint(0, len(f[i])))] + rnd.choice(ODD) + f[i][j:]
        elif kind == 1:
            f[0] = rnd.choice(ODD_TS)
        elif kind == 2:
            f[rnd.choice((1, 4))] = rnd.choice(ODD_NUM)  # (never deleted first: kind 3 keeps 9)
        elif kind == 3 and len(f) > 9:
            del f[i]
        elif kind == 4:
            f.insert(i, rnd.choice(["x", "-", "HIER_NONE/-"]))
        elif kind == 5:
            f[i] = f[i] * rnd.randint(50, 300)  # over-long field
        elif kind == 6 and len(f) > 3:
            f[3] = rnd.choice(["TCP_TUNNEL/2xx", "tcp/200", "TCP/20", "TCP/2000", "_X/200"])
        elif len(f) > 8:
            f[8] = rnd.choice(["direct/x", "HIER_DIRECT", "/x", "HIER-X/1"])
    line = " ".join(f)
    r = rnd.random()
    if r < 0.05:
        line = " " + line
    elif r < 0.10:
        line += rnd.choice([" ", "  ", "\r", " \r", "\t"])
    return line.replace("\n", "")


def damaged_common_line(rnd: random.Random) -> str:
    """A common or combined line, each part valid (first choice) most of the time."""

    def pick(options: list[str]) -> str:
        return rnd.choice(options) if rnd.random() < 0.25 else options[0]

    day = pick(["24/Nov/2026:15:32:10 +0000", "01/Jan/1970:00:00:00 +0100",
                      "31/Feb/2026:15:32:10 +0000", "24/Nov/9999:15:32:10 +0000",
                      "24/nov/2026:15:32:10 -0530", "24/Foo/2026:15:32:10 +0000"])
    req = pick(["CONNECT www.google.com:443 HTTP/1.1", "GET http://a.example/ HTTP/1.0",
                      "GET /x", "-", "GET  /x HTTP/1.1"])
    size = pick(["19109", "-", "0", "1" * 19])
    tail = rnd.choice(["", ' "-" "curl/8.5 (x)"', ' "http://r/" "a \\"q\\" b"'])
    line = (f'{rnd.choice(["10.1.143.211", "2001:db8::5"])} - {rnd.choice(["-", "bob"])} '
            f'[{day}] "{req}" {pick(["200", "404", "20", "2000"])} {size}{tail} '
            f'{pick(["TCP_TUNNEL:HIER_DIRECT", "TCP_MISS:HIER_NONE", "x:y"])}')
    if rnd.random() < 0.3:
        j = rnd.randint(0, len(line))
        line = line[:j] + rnd.choice(ODD) + line[j:]
    return line.replace("\n", "")


def _record_fields(rec: grammar.SquidLine) -> tuple:
    return (round(rec.ts, 6), rec.client_ip, f"{rec.squid_code}/{rec.http_status:03d}",
            rec.bytes, rec.method, rec.url)


def check_readers(lines: list[str], fmt: str = "auto") -> None:
    """The file is ``lines`` joined by ``\\n``; every reader gets it as it would."""
    data = "".join(ln.replace("\n", "") + "\n" for ln in lines)
    lines = split_lines(data)
    verdicts = [grammar.verdict(ln, fmt) for ln in lines]
    want = {}
    for n, (ln, v) in enumerate(zip(lines, verdicts, strict=True), 1):
        if v == grammar.Verdict.RECORD:
            want[n] = _record_fields(grammar.parse_line(ln, fmt))

    # The capture parser, per line and (threshold lowered) column-wise: by the compiled
    # reader, and by Arrow's RE2 (its way without a C compiler).
    old, compiled = capture.VECTOR_MIN_LINES, capture._native_columns_compiled
    frames = []
    for threshold in (old, 1, "re2"):
        capture.VECTOR_MIN_LINES = 1 if threshold == "re2" else threshold
        if threshold == "re2":
            capture._native_columns_compiled = lambda lines: None
        try:
            res = capture.parse_lines(lines, fmt=fmt)
        finally:
            capture.VECTOR_MIN_LINES, capture._native_columns_compiled = old, compiled
        got = {int(r.raw_line_no): (round(r.ts.timestamp(), 6), r.client_ip,
                                    f"{r.squid_code}/{int(r.http_status):03d}",
                                    None if pd.isna(r.bytes) else int(r.bytes),
                                    r.method, r.url)
               for r in res.frame.itertuples()}
        assert got == want, f"capture parser (threshold {threshold}) disagrees"
        assert res.skipped == verdicts.count(grammar.Verdict.BLANK)
        frames.append(res.frame)
    for other in frames[1:]:  # every column, not only the fields above
        pd.testing.assert_frame_equal(other.reset_index(drop=True),
                                      frames[0].reset_index(drop=True),
                                      check_categorical=False)

    # The audit reader: one row per line; blank lines count as malformed there.
    audit_fmt = {"auto": "native", "squid": "native"}.get(fmt, fmt)
    buf = bytes(bytearray(data.encode()))
    parsed = parse_chunk(buf, audit_fmt)
    assert parsed.df.height == len(lines)
    ok = key_tokens_ok(parsed.df).to_list()
    audit = {n: (round(row["ts"], 6), row["client"], row["cs"], row["bytes"], row["method"],
                 row["url"])
             for n, (row, good) in enumerate(zip(parsed.df.iter_rows(named=True), ok,
                                                 strict=True), 1) if good}
    # the audit sums bytes: a "-" (common format) counts as 0
    assert audit == {n: (*v[:3], v[3] or 0, *v[4:]) for n, v in want.items()}, "audit disagrees"
    # ... and the streaming parse-and-group query the audit really runs, and the
    # compiled reader (tables and samples the same as polars').
    results = {}
    for engine in ("polars", "arrow", "c") if audit_fmt == "native" else ("polars", "c"):
        r = process_chunk(bytes(bytearray(data.encode())), audit_fmt,
                          IngestOptions(engine=engine), want_samples=5)
        assert (r.lines, r.parsed) == (len(lines), len(want)), engine
        assert int(r.req["bytes"].sum() or 0) == sum(v[3] or 0 for v in want.values())
        results[engine] = r
    assert_same_chunk(results["c"], results["polars"])


def assert_same_chunk(got, want) -> None:
    """Two readers' ChunkResults: the same counts, samples and tables (any row order)."""
    assert (got.lines, got.parsed, got.malformed, got.filtered) == (
        want.lines, want.parsed, want.malformed, want.filtered)
    assert got.samples == want.samples
    for a, b, keys in ((got.req, want.req, ["hostport", "method", "cs"]),
                       (got.tim, want.tim, ["hostport", "bucket"]),
                       (got.cli, want.cli, ["client"])):
        assert a.schema == b.schema
        assert a.sort(keys).equals(b.sort(keys)), keys


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(150, 250))
def test_readers_agree_with_the_grammar(seed, n):
    """>= 9,000 generated lines over the examples (hypothesis picks the seeds), plus
    raw hypothesis text below and 20,500 lines above the vector threshold."""
    rnd = random.Random(seed)
    check_readers([damaged_line(rnd) for _ in range(n)])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["common", "combined"]))
def test_readers_agree_on_common_and_combined_lines(seed, fmt):
    """3,000+ common/combined lines: the audit's regex reader and the grammar agree."""
    rnd = random.Random(seed)
    check_readers([damaged_common_line(rnd) for _ in range(100)], fmt=fmt)


CHARS = sorted({c for o in ODD for c in o} | set("0123456789.-/ :TCPHIER_abc"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(CHARS), max_size=60), min_size=1, max_size=40))
def test_readers_agree_on_raw_text(lines):
    check_readers(lines)


def test_readers_agree_above_the_vector_threshold():
    """The capture parser's real switch to RE2 at VECTOR_MIN_LINES, on damaged lines."""
    rnd = random.Random(9)
    lines = [damaged_line(rnd) for _ in range(capture.VECTOR_MIN_LINES + 500)]
    big = capture.parse_lines(lines)
    assert big.lines == len(lines)
    ok = [grammar.verdict(ln) == grammar.Verdict.RECORD for ln in lines]
    assert big.frame["raw_line_no"].tolist() == [i for i, g in enumerate(ok, 1) if g]
    assert sum(ok) not in (0, len(lines))  # the damage really damages, and not always


@pytest.mark.parametrize("line", [
    "1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT www.google.com:443 - "
    "HIER_DIRECT/172.217.31.164 -",
])
def test_a_well_formed_line_is_a_record_everywhere(line):
    check_readers([line, line + "\r", "", line])
    assert pl.__version__  # polars is what the audit reader runs on
