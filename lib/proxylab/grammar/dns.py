"""A capture's ``dns.log`` line: ``<resolver>\\t<dnsmasq syslog-style line>``.

``resolver`` is a :class:`proxylab.vocab.Resolver` value. With ``log-queries=extra``
dnsmasq numbers each query and names its client::

    Nov 24 15:32:10 dnsmasq[123]: 5 10.1.143.211/41234 query[A] www.google.com from 10.1.143.211
    Nov 24 15:32:10 dnsmasq[123]: 5 10.1.143.211/41234 forwarded www.google.com to 198.18.0.53
    Nov 24 15:32:10 dnsmasq[123]: 5 10.1.143.211/41234 reply www.google.com is 198.18.1.10
    Nov 24 15:32:10 dnsmasq[123]: 6 10.0.0.72/5353 config p4v9t3n6zd.execute-api... is NXDOMAIN

Callers: :func:`parse_dns_line` (one line -> :class:`DnsLine`, ValueError saying
why it is malformed) and :func:`syslog_ts` (syslog time has no year: the year that
puts it closest to a reference time). Joining a lookup's lines into one query is
the table's job (:mod:`proxylab.logs.dns`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

_SYSLOG_RE = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hh>\d{2}):(?P<mm>\d{2}):(?P<ss>\d{2}) "
    r"(?P<prog>dnsmasq(?:-dhcp)?)\[(?P<pid>\d+)\]: (?P<msg>.*)", re.ASCII
)
_EXTRA_RE = re.compile(r"(?P<serial>\d+) (?P<client>\S+)/(?P<cport>\d+) (?P<rest>.*)", re.ASCII)
_QUERY_RE = re.compile(r"query\[(?P<qtype>[A-Za-z0-9]+)\] (?P<name>\S+) from (?P<client>\S+)")
_FORWARD_RE = re.compile(r"forwarded (?P<name>\S+) to (?P<server>\S+)")
_ANSWER_RE = re.compile(
    r"(?P<source>reply|config|cached|cached-stale|/\S+|validation) (?P<name>\S+) is (?P<value>.+)"
)
_OTHER_ACTION_RE = re.compile(r"(?:dnssec-query|validation|query|forwarded|reply|config|cached)\b")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


class Action(StrEnum):
    QUERY = "query"
    FORWARDED = "forwarded"
    ANSWER = "answer"
    OTHER = "other"  # a banner, "using nameserver ...", a warning: nothing to record


@dataclass(frozen=True)
class DnsLine:
    resolver: str
    month: int
    day: int
    clock: tuple[int, int, int]
    action: Action
    serial: int | None = None
    client: str | None = None  # from ``extra`` (or the query's ``from``)
    name: str | None = None  # lower case, no trailing dot
    qtype: str | None = None
    server: str | None = None  # forwarded to
    source: str | None = None  # reply | config | cached | hosts | validation...
    value: str | None = None  # address, NXDOMAIN, NODATA-IPv6, <CNAME> (EDE text cut)


def _name(text: str) -> str:
    return text.lower().rstrip(".")


def _value(text: str) -> str:
    value = text.strip()
    if " (EDE:" in value:
        value = value.split(" (EDE:", 1)[0]
    return value


def parse_dns_line(line: str) -> DnsLine:
    resolver, tab, body = line.partition("\t")
    if not tab or not resolver or " " in resolver:
        raise ValueError("no '<resolver>\\t' prefix")
    m = _SYSLOG_RE.fullmatch(body)
    if not m:
        raise ValueError("not a dnsmasq syslog-style line")
    month = _MONTHS.get(m["mon"])
    if month is None:
        raise ValueError(f"bad timestamp: month {m['mon']!r}")
    head = {"resolver": resolver, "month": month, "day": int(m["day"]),
            "clock": (int(m["hh"]), int(m["mm"]), int(m["ss"]))}
    msg = m["msg"]
    ex = _EXTRA_RE.fullmatch(msg)
    if ex:
        if len(ex["serial"]) > 18:  # the table's column is int64
            raise ValueError(f"query number {ex['serial']!r} is out of range")
        head |= {"serial": int(ex["serial"]), "client": ex["client"]}
        msg = ex["rest"]
    if (q := _QUERY_RE.fullmatch(msg)) is not None:
        return DnsLine(**(head | {"client": head.get("client") or q["client"]}),
                       action=Action.QUERY, name=_name(q["name"]), qtype=q["qtype"])
    if (f := _FORWARD_RE.fullmatch(msg)) is not None:
        return DnsLine(**head, action=Action.FORWARDED, name=_name(f["name"]), server=f["server"])
    if (a := _ANSWER_RE.fullmatch(msg)) is not None:
        source = "hosts" if a["source"].startswith("/") else a["source"]
        return DnsLine(**head, action=Action.ANSWER, name=_name(a["name"]), source=source,
                       value=_value(a["value"]))
    if ex is not None or _OTHER_ACTION_RE.match(msg):
        raise ValueError("query-log line in an unknown shape")
    return DnsLine(**head, action=Action.OTHER)


def syslog_ts(rec: DnsLine, ref: datetime) -> float:
    """Epoch seconds of the line, in the year (around ``ref``'s) that puts it closest."""
    best = None
    for year in (ref.year - 1, ref.year, ref.year + 1):
        try:
            dt = datetime(year, rec.month, rec.day, *rec.clock, tzinfo=UTC)
        except ValueError:
            continue
        if best is None or abs((dt - ref).total_seconds()) < abs((best - ref).total_seconds()):
            best = dt
    if best is None:
        raise ValueError(f"bad timestamp: date {rec.month}/{rec.day} does not exist")
    return best.timestamp()
