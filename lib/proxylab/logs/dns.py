"""Resolver query logs: dnsmasq lines, each prefixed by the resolver's name.

A capture's ``dns.log`` line is ``<resolver>\\t<dnsmasq log line>`` (resolver =
``lambda-vpc`` | ``proxy-vpc`` | ``public``). With ``log-queries=extra`` dnsmasq
numbers each query and names its client, so the lines of one lookup are joined
even when lookups interleave::

    Nov 24 15:32:10 dnsmasq[123]: 5 10.1.143.211/41234 query[A] www.google.com from 10.1.143.211
    Nov 24 15:32:10 dnsmasq[123]: 5 10.1.143.211/41234 forwarded www.google.com to 198.18.0.53
    Nov 24 15:32:10 dnsmasq[123]: 5 10.1.143.211/41234 reply www.google.com is 198.18.1.10
    Nov 24 15:32:10 dnsmasq[123]: 6 10.0.0.72/5353 config p4v9t3n6zd.execute-api... is NXDOMAIN

Without ``extra`` the lines lack the number and client; a reply is then joined to
the latest open query for the same name. Syslog timestamps have no year: it
comes from the run (``started_at``), choosing the year that puts the line
closest to the run, so a run across New Year still sorts right.

One row per query (``dns_queries``): ``answer`` is the first address, or the
failure (``NXDOMAIN``, ``NODATA``, ``REFUSED``, ``SERVFAIL``); ``answers`` all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from proxylab.logs.base import Malformed, ParseResult, typed

DTYPES: dict[str, str] = {
    "run_id": "category",
    "resolver": "category",
    "ts": "ts",
    "name": "string",
    "qtype": "category",
    "answer": "string",
    "answers": "string",
    "answer_source": "category",
    "forwarded_to": "string",
    "client_ip": "string",
    "query_serial": "Int64",
    "raw_line_no": "Int64",
    "answer_line_no": "Int64",
}

_SYSLOG_RE = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hh>\d{2}):(?P<mm>\d{2}):(?P<ss>\d{2}) "
    r"(?P<prog>dnsmasq(?:-dhcp)?)\[(?P<pid>\d+)\]: (?P<msg>.*)"
)
_EXTRA_RE = re.compile(r"(?P<serial>\d+) (?P<client>\S+)/(?P<cport>\d+) (?P<rest>.*)")
_QUERY_RE = re.compile(r"query\[(?P<qtype>[A-Za-z0-9]+)\] (?P<name>\S+) from (?P<client>\S+)")
_FORWARD_RE = re.compile(r"forwarded (?P<name>\S+) to (?P<server>\S+)")
_ANSWER_RE = re.compile(
    r"(?P<source>reply|config|cached|cached-stale|/\S+|validation) (?P<name>\S+) is (?P<value>.+)"
)
_OTHER_ACTION_RE = re.compile(r"(?:dnssec-query|validation|query|forwarded|reply|config|cached)\b")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def _syslog_ts(m: re.Match[str], ref: datetime) -> float:
    month = _MONTHS.get(m["mon"])
    if month is None:
        raise ValueError(f"month {m['mon']!r}")
    best = None
    for year in (ref.year - 1, ref.year, ref.year + 1):
        try:
            dt = datetime(year, month, int(m["day"]), int(m["hh"]), int(m["mm"]), int(m["ss"]),
                          tzinfo=UTC)
        except ValueError:
            continue
        if best is None or abs((dt - ref).total_seconds()) < abs((best - ref).total_seconds()):
            best = dt
    if best is None:
        raise ValueError(f"date {m['mon']} {m['day']} does not exist")
    return best.timestamp()


def _value(text: str) -> str:
    """``198.18.1.10``, ``NXDOMAIN``, ``NODATA-IPv6``, ``REFUSED (EDE: ...)``, ``<CNAME>``."""
    value = text.strip()
    if " (EDE:" in value:
        value = value.split(" (EDE:", 1)[0]
    return value


def parse_lines(
    lines: Iterable[str], run_id: str = "", started_at: float | None = None
) -> ParseResult:
    """Parse ``dns.log`` into ``dns_queries`` (one row per query)."""
    ref = datetime.fromtimestamp(started_at if started_at is not None else 0, tz=UTC)
    if started_at is None:
        ref = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    open_by_key: dict[tuple, dict[str, Any]] = {}
    malformed: list[Malformed] = []
    n = skipped = 0
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            skipped += 1
            continue
        resolver, tab, body = line.partition("\t")
        if not tab or not resolver or " " in resolver:
            malformed.append(Malformed(n, line, "no '<resolver>\\t' prefix"))
            continue
        m = _SYSLOG_RE.fullmatch(body)
        if not m:
            malformed.append(Malformed(n, line, "not a dnsmasq syslog-style line"))
            continue
        try:
            ts = _syslog_ts(m, ref)
        except ValueError as exc:
            malformed.append(Malformed(n, line, f"bad timestamp: {exc}"))
            continue
        msg = m["msg"]
        serial = client = None
        ex = _EXTRA_RE.fullmatch(msg)
        if ex:
            serial, client, msg = int(ex["serial"]), ex["client"], ex["rest"]
        if (q := _QUERY_RE.fullmatch(msg)) is not None:
            row = {
                "resolver": resolver, "ts": ts, "name": q["name"].lower().rstrip("."),
                "qtype": q["qtype"], "answer": None, "answers": None, "answer_source": None,
                "forwarded_to": None, "client_ip": client or q["client"], "query_serial": serial,
                "raw_line_no": n, "answer_line_no": None,
            }
            rows.append(row)
            open_by_key[(resolver, serial, client) if serial is not None
                        else (resolver, "name", row["name"])] = row
            continue
        if (f := _FORWARD_RE.fullmatch(msg)) is not None:
            row = _find(open_by_key, resolver, serial, client, f["name"])
            if row is not None and row["forwarded_to"] is None:
                row["forwarded_to"] = f["server"]
            continue
        if (a := _ANSWER_RE.fullmatch(msg)) is not None:
            value = _value(a["value"])
            source = "hosts" if a["source"].startswith("/") else a["source"]
            if source == "validation":
                continue
            row = _find(open_by_key, resolver, serial, client, a["name"])
            if row is None:  # an answer whose query is outside this capture
                row = {
                    "resolver": resolver, "ts": ts, "name": a["name"].lower().rstrip("."),
                    "qtype": None, "answer": None, "answers": None, "answer_source": None,
                    "forwarded_to": None, "client_ip": client, "query_serial": serial,
                    "raw_line_no": n, "answer_line_no": None,
                }
                rows.append(row)
            answers = [] if row["answers"] is None else row["answers"].split(",")
            if value not in answers:
                answers.append(value)
            row["answers"] = ",".join(answers)
            if row["answer"] is None or row["answer"].startswith("<"):
                row["answer"] = value
            row["answer_source"] = row["answer_source"] or source
            row["answer_line_no"] = row["answer_line_no"] or n
            continue
        if ex is not None or _OTHER_ACTION_RE.match(msg):
            malformed.append(Malformed(n, line, "query-log line in an unknown shape"))
            continue
        skipped += 1  # start-up banner, "using nameserver ...", warnings
    df = pd.DataFrame(rows, columns=[c for c in DTYPES if c != "run_id"])
    df["ts"] = pd.Series([r["ts"] for r in rows], dtype="float64")
    df["run_id"] = run_id
    return ParseResult(typed(df, DTYPES), malformed, lines=n, skipped=skipped, source="dns.log")


def _find(open_by_key: dict, resolver: str, serial: int | None, client: str | None, name: str):
    if serial is not None:
        return open_by_key.get((resolver, serial, client))
    return open_by_key.get((resolver, "name", name.lower().rstrip(".")))
