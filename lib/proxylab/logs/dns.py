"""The ``dns_queries`` table, from a capture's ``dns.log``.

The line grammar (``<resolver>\\t<dnsmasq line>``, the query/forwarded/reply shapes)
is :mod:`proxylab.grammar.dns`; this module joins a lookup's lines into one row.

Without ``extra`` the lines lack the number and client; a reply is then joined to
the latest open query for the same name. Syslog timestamps have no year: it
comes from the run (``started_at``), choosing the year that puts the line
closest to the run, so a run across New Year still sorts right.

One row per query (``dns_queries``): ``answer`` is the first address, or the
failure (``NXDOMAIN``, ``NODATA``, ``REFUSED``, ``SERVFAIL``); ``answers`` all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from proxylab.grammar.dns import Action, parse_dns_line, syslog_ts
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

def parse_lines(
    lines: Iterable[str], run_id: str = "", started_at: float | None = None
) -> ParseResult:
    """Parse ``dns.log`` into ``dns_queries`` (one row per query)."""
    rows, malformed, n, skipped = scan(lines, run_id, started_at)
    return ParseResult(frame_of(rows), malformed, lines=n, skipped=skipped, source="dns.log")


def scan(lines: Iterable[str], run_id: str = "", started_at: float | None = None,
         ) -> tuple[list[dict[str, Any]], list[Malformed], int, int]:
    """(rows, malformed lines, lines seen, lines skipped); rows of several runs make one
    frame (:func:`frame_of`)."""
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
        try:
            rec = parse_dns_line(line)
            ts = syslog_ts(rec, ref)
        except ValueError as exc:
            malformed.append(Malformed(n, line, str(exc)))
            continue
        resolver, serial, client = rec.resolver, rec.serial, rec.client
        if rec.action == Action.QUERY:
            row = {
                "resolver": resolver, "ts": ts, "name": rec.name, "qtype": rec.qtype,
                "answer": None, "answers": None, "answer_source": None, "forwarded_to": None,
                "client_ip": client, "query_serial": serial, "raw_line_no": n,
                "answer_line_no": None,
            }
            rows.append(row)
            open_by_key[(resolver, serial, client) if serial is not None
                        else (resolver, "name", row["name"])] = row
            continue
        if rec.action == Action.FORWARDED:
            row = _find(open_by_key, resolver, serial, client, rec.name)
            if row is not None and row["forwarded_to"] is None:
                row["forwarded_to"] = rec.server
            continue
        if rec.action == Action.ANSWER:
            if rec.source == "validation":
                continue
            value = rec.value
            row = _find(open_by_key, resolver, serial, client, rec.name)
            if row is None:  # an answer whose query is outside this capture
                row = {
                    "resolver": resolver, "ts": ts, "name": rec.name,
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
            row["answer_source"] = row["answer_source"] or rec.source
            row["answer_line_no"] = row["answer_line_no"] or n
            continue
        skipped += 1  # start-up banner, "using nameserver ...", warnings
    for row in rows:
        row["run_id"] = run_id
    return rows, malformed, n, skipped


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``dns_queries`` of rows from :func:`scan` (of one run or many)."""
    df = pd.DataFrame(rows, columns=list(DTYPES))
    df["ts"] = pd.Series([r["ts"] for r in rows], dtype="float64")
    return typed(df, DTYPES)


def _find(open_by_key: dict, resolver: str, serial: int | None, client: str | None,
          name: str | None):
    if serial is not None:
        return open_by_key.get((resolver, serial, client))
    return open_by_key.get((resolver, "name", name))
