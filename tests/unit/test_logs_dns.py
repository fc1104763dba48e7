"""dnsmasq query logs (log-queries=extra and plain), prefixed by the resolver's name."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from proxylab.logs import dns

T0 = datetime(2026, 11, 24, 15, 32, 0, tzinfo=UTC).timestamp()
D = "Nov 24 15:32:10 dnsmasq[123]: "
PRIV = "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com"


def lines(*rows: tuple[str, str]) -> list[str]:
    return [f"{res}\t{D}{msg}" for res, msg in rows]


def test_extra_format_query_forward_reply_joined():
    res = dns.parse_lines(lines(
        ("lambda-vpc", "5 10.1.143.211/41234 query[A] www.google.com from 10.1.143.211"),
        ("lambda-vpc", "6 10.1.143.211/41235 query[AAAA] www.google.com from 10.1.143.211"),
        ("lambda-vpc", "5 10.1.143.211/41234 forwarded www.google.com to 198.18.0.53"),
        ("lambda-vpc", "6 10.1.143.211/41235 forwarded www.google.com to 198.18.0.53"),
        ("lambda-vpc", "6 10.1.143.211/41235 reply www.google.com is NODATA-IPv6"),
        ("lambda-vpc", "5 10.1.143.211/41234 reply www.google.com is 198.18.1.10"),
    ), run_id="r", started_at=T0)
    df = res.frame
    assert res.malformed == []
    assert df["qtype"].astype(str).tolist() == ["A", "AAAA"]
    assert df["answer"].tolist() == ["198.18.1.10", "NODATA-IPv6"]
    assert df["forwarded_to"].tolist() == ["198.18.0.53", "198.18.0.53"]
    assert df["client_ip"].tolist() == ["10.1.143.211"] * 2
    assert df["raw_line_no"].tolist() == [1, 2] and df["answer_line_no"].tolist() == [6, 5]
    assert df["ts"].iloc[0] == pd.Timestamp("2026-11-24T15:32:10Z")
    assert str(df["ts"].dtype) == "datetime64[ns, UTC]"


def test_config_nxdomain_refused_and_cname_chain():
    res = dns.parse_lines(lines(
        ("public", f"1 198.18.2.72/41022 query[A] {PRIV} from 198.18.2.72"),
        ("public", f"1 198.18.2.72/41022 config {PRIV} is NXDOMAIN"),
        ("public", "2 198.18.2.72/41023 query[A] nothing.example from 198.18.2.72"),
        ("public", "2 198.18.2.72/41023 config error is REFUSED (EDE: not ready)"),
        ("proxy-vpc", "3 10.0.0.72/5000 query[A] www.example.com from 10.0.0.72"),
        ("proxy-vpc", "3 10.0.0.72/5000 reply www.example.com is <CNAME>"),
        ("proxy-vpc", "3 10.0.0.72/5000 reply edge.example.net is 198.18.1.11"),
        ("proxy-vpc", "3 10.0.0.72/5000 reply edge.example.net is 198.18.1.12"),
    ), started_at=T0)
    df = res.frame
    assert df["answer"].tolist() == ["NXDOMAIN", "REFUSED", "198.18.1.11"]
    assert df["answers"].iloc[2] == "<CNAME>,198.18.1.11,198.18.1.12"
    assert df["answer_source"].astype(str).tolist() == ["config", "config", "reply"]
    assert df["resolver"].astype(str).tolist() == ["public", "public", "proxy-vpc"]


def test_plain_format_without_serials_and_hosts_file():
    res = dns.parse_lines(lines(
        ("lambda-vpc", "query[A] s3.ap-northeast-1.amazonaws.com from 10.1.143.211"),
        ("lambda-vpc", "/etc/hosts s3.ap-northeast-1.amazonaws.com is 198.18.16.10"),
        ("lambda-vpc", "query[A] gone.example from 10.1.143.211"),
        ("lambda-vpc", "cached gone.example is NXDOMAIN"),
    ), started_at=T0)
    df = res.frame
    assert df["answer"].tolist() == ["198.18.16.10", "NXDOMAIN"]
    assert df["answer_source"].astype(str).tolist() == ["hosts", "cached"]
    assert df["query_serial"].isna().all()


def test_banners_are_skipped_not_malformed():
    res = dns.parse_lines([
        f"public\t{D}started, version 2.90 cache disabled",
        f"public\t{D}compile time options: IPv6 GNU-getopt",
        f"public\t{D}using nameserver 127.0.0.1#5354",
        "",
    ], started_at=T0)
    assert res.frame.empty and res.malformed == [] and res.skipped == 4


def test_orphan_reply_still_recorded():
    res = dns.parse_lines(lines(("lambda-vpc", "9 10.1.143.211/1 reply a.example is 1.2.3.4")),
                          started_at=T0)
    assert res.frame["name"].tolist() == ["a.example"] and res.frame["qtype"].isna().all()


def test_malformed_lines():
    res = dns.parse_lines([
        "no tab here",
        "lambda-vpc\tnot a dnsmasq line",
        "lambda-vpc\tFeb 30 10:00:00 dnsmasq[1]: 1 1.2.3.4/5 query[A] a from 1.2.3.4",
        f"lambda-vpc\t{D}7 10.1.143.211/1 frobnicated a.example",
        "has space\t" + D + "query[A] a from b",
        f"lambda-vpc\t{D}query[A] a.example",  # truncated
    ], started_at=T0)
    assert [m.line_no for m in res.malformed] == [1, 2, 3, 4, 5, 6]
    assert "does not exist" in res.malformed[2].reason


def test_year_comes_from_the_run_across_new_year():
    started = datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC).timestamp()
    res = dns.parse_lines([
        "public\tDec 31 23:59:59 dnsmasq[1]: 1 1.2.3.4/5 query[A] a.example from 1.2.3.4",
        "public\tJan  1 00:00:01 dnsmasq[1]: 2 1.2.3.4/5 query[A] b.example from 1.2.3.4",
    ], started_at=started)
    assert res.frame["ts"].dt.year.tolist() == [2026, 2027]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.text(max_size=100),
    st.builds(lambda s: "lambda-vpc\t" + D + s, st.text(max_size=80)),
    st.builds(lambda s: "lambda-vpc\t" + D + "1 1.2.3.4/5 " + s, st.text(max_size=80)),
), max_size=8))
def test_no_line_crashes_the_parser(lines_):
    res = dns.parse_lines(lines_, started_at=T0)
    assert len(res.malformed) <= len(lines_)
