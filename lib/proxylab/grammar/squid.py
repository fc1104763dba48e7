"""The Squid access-log line: native ``squid``, ``common`` and ``combined`` logformats.

This is the one grammar of a Squid line. Table builders (:mod:`proxylab.logs.squid`),
the audit's vectorised reader (:mod:`proxylab.audit.parse`, checked line for line
against this module by ``tests/unit/test_squid_grammar_property.py``), the AWS lab's
CloudWatch filter and the expectation checker call :func:`parse_line` (one line ->
:class:`SquidLine` or :class:`LineError`) and :func:`verdict` (record / malformed /
blank), on lines made by :func:`proxylab.grammar.text.split_lines`; fast readers use
the patterns below instead of writing their own.

Native (``logformat squid``)::

    %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
    1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT www.google.com:443 -
        HIER_DIRECT/172.217.31.164 -                                              (one line)

The well-formedness rule is what Squid writes, and nothing looser:

- a line ends at ``\\n`` (a ``\\r`` before it is dropped: CRLF files parse); an empty
  line is *blank*, not malformed (readers may count it as they always have);
- fields are separated by exactly one ASCII space, except the run of spaces before
  the elapsed time, which is ``%6tr``'s right-aligned padding; no leading or
  trailing space;
- every field is printable ASCII (``!``..``~``): Squid URL-escapes ``%ru`` and
  ``%un`` and cuts ``%mt`` at ``;`` or whitespace, so a tab, ``\\v``, NUL, any other
  control byte or any non-ASCII character (``'²'``, Arabic-Indic digits, U+00A0)
  cannot come from Squid and makes the line malformed. This also means a reader
  that splits on ``\\n`` only and one that splits on every Unicode line break agree;
- numbers are ASCII digits: time ``\\d{1,10}(.\\d{1,9})?`` below :data:`MAX_EPOCH`
  (so ``nan``, ``inf``, ``1E20``, ``+5`` are malformed), elapsed and bytes at most 18
  digits (they fit an int64), the status exactly three (``%03>Hs``);
- code and hierarchy are Squid tags ``[A-Z][A-Z0-9_]*``; the peer after ``/`` may
  be empty.

``common`` / ``combined``::

    %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh
    %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh

with the same line and character rules (quoted fields may hold spaces).

Every pattern here spells its character classes in ASCII (no ``\\s``/``\\d``/``\\S``),
so Python's ``re``, RE2 (Arrow) and Rust's regex (polars) read them identically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from proxylab.grammar.hostport import split_target
from proxylab.vocab import SquidFormat

# Largest epoch second pandas can hold in datetime64[ns] (year 2262), with margin.
MAX_EPOCH = 9.2e9

TOKEN = r"[!-~]+"  # one field: printable ASCII, no space
TS = r"[0-9]{1,10}(?:\.[0-9]{1,9})?"
NUMBER = r"[0-9]{1,18}"
TAG = r"[A-Z][A-Z0-9_]*"
STATUS = r"[0-9]{3}"
CODE_STATUS = rf"{TAG}/{STATUS}"
HIER_PEER = rf"{TAG}/[!-~]*"

NATIVE_PATTERN = (
    rf"(?P<ts>{TS}) +(?P<tr>{NUMBER}) (?P<client>{TOKEN}) (?P<code>{TAG})/(?P<status>{STATUS}) "
    rf"(?P<bytes>{NUMBER}) (?P<method>{TOKEN}) (?P<url>{TOKEN}) (?P<user>{TOKEN}) "
    rf"(?P<hier>{TAG})/(?P<peer>[!-~]*) (?P<mt>{TOKEN})"
)
_QUOTED = r'(?:[ !#-\[\]-~]|\\[ -~])*'  # printable ASCII, \" and \\ escaped
COMMON_PATTERN = (
    rf"(?P<client>{TOKEN}) (?P<ident>{TOKEN}) (?P<user>{TOKEN}) \[(?P<tl>[ -\\\^-~]+)\] "
    rf'"(?P<method>[!#-~]+) (?P<url>[!#-~]+)(?: (?P<proto>[!#-~]*))?" (?P<status>{STATUS}) '
    rf'(?P<bytes>{NUMBER}|-)'
    rf'(?: "(?P<referer>{_QUOTED})" "(?P<ua>{_QUOTED})")?'
    rf" (?P<code>{TAG}):(?P<hier>{TAG})"
)

NATIVE_RE = re.compile(NATIVE_PATTERN)
_COMMON_RE = re.compile(COMMON_PATTERN)
_TL_RE = re.compile(
    r"([0-9]{1,2})/([A-Za-z]{3})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})"
    r"([0-9]{2})"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_PRINTABLE = re.compile(r"[ -~]*")


class LineError(ValueError):
    """A line does not fit the grammar; the message says which field."""


class Verdict(StrEnum):
    RECORD = "record"
    MALFORMED = "malformed"
    BLANK = "blank"


@dataclass(frozen=True)
class SquidLine:
    """One access-log line, format-independent. Absent fields are None."""

    ts: float
    elapsed_ms: int | None
    client_ip: str
    squid_code: str
    http_status: int
    bytes: int | None
    method: str
    url: str
    user: str | None
    hierarchy: str
    peer: str | None
    content_type: str | None
    log_format: SquidFormat

    @property
    def host(self) -> str | None:
        return split_target(self.url)[0]

    @property
    def port(self) -> int | None:
        return split_target(self.url)[1]

    @property
    def request_start(self) -> float:
        """When the request began: Squid logs a transaction when it *ends*."""
        return self.ts - (self.elapsed_ms or 0) / 1000.0


def strip_ending(line: str) -> str:
    """Drop a ``\\n`` or ``\\r\\n`` a caller left on (a lone trailing CR is content, and
    malformed: :func:`proxylab.grammar.text.split_lines` already took the CR of CRLF)."""
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    return line


def _nonprintable(line: str) -> str | None:
    if _PRINTABLE.fullmatch(line):
        return None
    bad = next(c for c in line if not " " <= c <= "~")
    return f"character {bad!r} at column {line.index(bad) + 1} is not printable ASCII"


def _opt(value: str) -> str | None:
    return None if value in ("", "-") else value


def native_from_match(m: re.Match[str]) -> SquidLine:
    """A :class:`SquidLine` from a match of :data:`NATIVE_PATTERN` (range-checked)."""
    ts = float(m["ts"])
    if ts >= MAX_EPOCH:
        raise LineError(f"timestamp {m['ts']!r} is out of range")
    return SquidLine(ts, int(m["tr"]), m["client"], m["code"], int(m["status"]),
                     int(m["bytes"]), m["method"], m["url"], _opt(m["user"]), m["hier"],
                     _opt(m["peer"]), _opt(m["mt"]), SquidFormat.NATIVE)


_NATIVE_FIELDS = (
    ("timestamp", re.compile(TS), "seconds.millis"), ("elapsed", re.compile(NUMBER), "ms"),
    ("client", re.compile(TOKEN), "an address"),
    ("result", re.compile(CODE_STATUS), "CODE/status"), ("bytes", re.compile(NUMBER), "a number"),
    ("method", re.compile(TOKEN), "a method"), ("url", re.compile(TOKEN), "a URL"),
    ("user", re.compile(TOKEN), "a user or -"),
    ("hierarchy", re.compile(HIER_PEER), "HIER/peer"), ("type", re.compile(TOKEN), "a type"),
)


def _native_reason(line: str) -> str:
    """Why a line that looks native does not match: the first field that fails."""
    bad = _nonprintable(line)
    if bad:
        return bad
    if line != line.strip(" "):
        return "leading or trailing space"
    head, sep, rest = line.partition(" ")
    fields = [head, *rest.lstrip(" ").split(" ")] if sep else [head]
    if "" in fields:
        return "two spaces between fields (only the elapsed time is padded)"
    if len(fields) != 10:
        return f"native format has 10 fields, this line has {len(fields)}"
    if _DECIMAL.fullmatch(fields[0]) and float(fields[0]) >= MAX_EPOCH:
        return f"timestamp {fields[0]!r} is out of range"
    for (name, rx, what), value in zip(_NATIVE_FIELDS, fields, strict=True):
        if not rx.fullmatch(value):
            return f"{name} {value!r} is not {what}"
    return "not a native Squid line"


def parse_native(line: str) -> SquidLine:
    line = strip_ending(line)
    m = NATIVE_RE.fullmatch(line)
    if m is None:
        raise LineError(_native_reason(line))
    return native_from_match(m)


def parse_tl(text: str) -> float:
    """``%tl`` (``25/May/2025:05:05:05 +0000``) -> epoch seconds."""
    m = _TL_RE.fullmatch(text)
    if not m or m[2].lower() not in _MONTHS:
        raise LineError(f"time {text!r} is not dd/Mon/yyyy:HH:MM:SS +zzzz")
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
    try:
        dt = datetime(int(year), _MONTHS[mon.lower()], int(day), int(hh), int(mm), int(ss),
                      tzinfo=timezone(offset))
    except ValueError as exc:
        raise LineError(f"time {text!r}: {exc}") from None
    if not 0 <= dt.timestamp() < MAX_EPOCH:
        raise LineError(f"time {text!r} is out of range")
    return dt.timestamp()


def common_from_match(m: re.Match[str], ts: float | None = None) -> SquidLine:
    return SquidLine(
        ts=parse_tl(m["tl"]) if ts is None else ts, elapsed_ms=None, client_ip=m["client"],
        squid_code=m["code"], http_status=int(m["status"]),
        bytes=None if m["bytes"] == "-" else int(m["bytes"]), method=m["method"], url=m["url"],
        user=_opt(m["user"]), hierarchy=m["hier"], peer=None, content_type=None,
        log_format=SquidFormat.COMBINED if m["ua"] is not None else SquidFormat.COMMON,
    )


def parse_common(line: str) -> SquidLine:
    line = strip_ending(line)
    m = _COMMON_RE.fullmatch(line)
    if not m:
        raise LineError(_nonprintable(line) or "not a common/combined log line")
    return common_from_match(m)


_NATIVE_START = re.compile(r"[ \t]*[0-9]+(?:\.[0-9]+)?(?![0-9.])")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def looks_native(line: str) -> bool:
    """The line starts (after any blanks) with a native timestamp: it is judged, and
    its errors explained, as a native line."""
    return _NATIVE_START.match(line) is not None


def parse_line(line: str, fmt: SquidFormat | str = "auto") -> SquidLine:
    """One line in ``fmt`` (``squid`` | ``common`` | ``combined`` | ``auto``), with or
    without its line ending. Raises :class:`LineError` naming the field that does
    not fit (a blank line is an error here; :func:`verdict` tells them apart)."""
    if fmt == SquidFormat.NATIVE or (fmt == "auto" and looks_native(line)):
        return parse_native(line)
    if fmt in (SquidFormat.COMMON, SquidFormat.COMBINED):
        return parse_common(line)
    if fmt == "auto":
        try:
            return parse_common(line)
        except LineError:
            if len(line.split()) == 10 and "[" not in line:  # native-shaped: say which field
                raise LineError(_native_reason(strip_ending(line))) from None
            raise
    known = ", ".join(f.value for f in SquidFormat)
    raise ValueError(f"unknown Squid log format {fmt!r} (known: {known}, auto)")


def verdict(line: str, fmt: SquidFormat | str = "auto") -> Verdict:
    if strip_ending(line) == "":
        return Verdict.BLANK
    try:
        parse_line(line, fmt)
    except LineError:
        return Verdict.MALFORMED
    return Verdict.RECORD


def detect_format(lines: Iterable[str], sample: int = 50) -> SquidFormat:
    """The format most of the first ``sample`` non-blank lines parse as (native if none)."""
    votes = dict.fromkeys(SquidFormat, 0)
    seen = 0
    for line in lines:
        if strip_ending(line) == "":
            continue
        try:
            votes[parse_line(line).log_format] += 1
        except LineError:
            pass
        seen += 1
        if seen >= sample:
            break
    best = max(votes, key=lambda f: votes[f])
    return best if votes[best] else SquidFormat.NATIVE
