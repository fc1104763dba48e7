"""Squid access-log lines: the native ``squid`` logformat, ``common`` and ``combined``.

Native (``logformat squid``)::

    %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
    1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT www.google.com:443 -
        HIER_DIRECT/172.217.31.164 -                                              (one line)

Columns are padded (``%6tr``), so fields are split on any run of whitespace.
Clients and peers may be IPv6; URLs are CONNECT authorities (``host:port``),
absolute URLs (``http://host/path``) or Squid's own ``error:...`` pseudo-URLs;
``NONE_NONE/000`` and ``HIER_NONE/-`` are transactions that never reached an
origin, which is exactly the evidence of a proxy-side failure.

``common`` / ``combined``::

    %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh
    %>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh

The line grammar (:func:`parse_line`, :func:`split_target`) is public so other
readers of Squid logs (``proxylab audit``) share one definition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import pandas as pd

from proxylab.logs.base import MAX_EPOCH, Malformed, ParseResult, concat, to_utc, typed

FORMATS = ("squid", "common", "combined")

DTYPES: dict[str, str] = {
    "run_id": "category",
    "ts": "ts",
    "elapsed_ms": "Int64",
    "client_ip": "string",
    "squid_code": "category",
    "http_status": "Int64",
    "bytes": "Int64",
    "method": "category",
    "host": "string",
    "port": "Int64",
    "url": "string",
    "user": "string",
    "hierarchy": "category",
    "peer": "string",
    "content_type": "string",
    "log_format": "category",
    "raw_line_no": "Int64",
}

# re.ASCII: "\d" must not accept other scripts' digits (int("²") fails; RE2 agrees).
_TS_RE = re.compile(r"\d{1,12}(?:\.\d{1,9})?", re.ASCII)
_TAG_RE = re.compile(r"[A-Z][A-Z0-9_]*")
_STATUS_RE = re.compile(r"\d{1,3}", re.ASCII)
_COMMON_RE = re.compile(
    r"(?P<client>\S+)\s+(?P<ident>\S+)\s+(?P<user>\S+)\s+\[(?P<tl>[^\]]+)\]\s+"
    r'"(?P<method>\S+)\s+(?P<url>\S+)(?:\s+(?P<proto>[^"\s]*))?"\s+(?P<status>\d{1,3})\s+'
    r'(?P<bytes>\d+|-)'
    r'(?:\s+"(?P<referer>(?:[^"\\]|\\.)*)"\s+"(?P<ua>(?:[^"\\]|\\.)*)")?'
    r"\s+(?P<code>[A-Z][A-Z0-9_]*):(?P<hier>[A-Z][A-Z0-9_]*)",
    re.ASCII,
)
_TL_RE = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})\s+([+-])(\d{2})(\d{2})", re.ASCII
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}


class LineError(ValueError):
    """A line does not fit the grammar; the message says which field."""


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
    log_format: str

    @property
    def host(self) -> str | None:
        return split_target(self.url)[0]

    @property
    def port(self) -> int | None:
        return split_target(self.url)[1]


@lru_cache(maxsize=65536)
def split_target(url: str) -> tuple[str | None, int | None]:
    """(host, port) of a request target: ``host:port`` (CONNECT), ``[v6]:port``,
    ``scheme://[user@]host[:port]/...``; (None, None) for ``-`` and ``error:...``."""
    if not url or url == "-":
        return None, None
    scheme = None
    if "://" in url:
        scheme, _, rest = url.partition("://")
        authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        authority = authority.rpartition("@")[2]
        scheme = scheme.lower()
    elif url.startswith("error:") or url.startswith("/"):
        return None, None
    else:
        authority = url
    host, port = _split_authority(authority)
    if port is None and scheme is not None:
        port = _DEFAULT_PORTS.get(scheme)
    return (host.lower() if host else None), port


def _split_authority(authority: str) -> tuple[str | None, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None, None
        host, rest = authority[1:end], authority[end + 1 :]
        if rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit() and len(rest) <= 6:
            return host, int(rest[1:])
        return host, None
    if authority.count(":") == 1:
        host, _, port = authority.partition(":")
        digits = port.isascii() and port.isdigit() and len(port) <= 5
        return (host or None), (int(port) if digits else None)
    return (authority or None), None


_GOOD_TAGS: set[str] = set()


def _tag(value: str) -> bool:
    """Squid tags repeat endlessly (TCP_TUNNEL, HIER_DIRECT): check each once."""
    if value in _GOOD_TAGS:
        return True
    if _TAG_RE.fullmatch(value):
        if len(_GOOD_TAGS) < 4096:
            _GOOD_TAGS.add(value)
        return True
    return False


def _native(line: str) -> SquidLine:
    return SquidLine(*_native_fields(line.split()), log_format="squid")


def _native_fields(f: list[str]) -> tuple:
    """The ten native fields, checked, as SquidLine's positional values."""
    if len(f) != 10:
        raise LineError(f"native format has 10 fields, this line has {len(f)}")
    ts_s, tr, client, code_status, size, method, url, user, hier_peer, mt = f
    if not _TS_RE.fullmatch(ts_s):
        raise LineError(f"timestamp {ts_s!r} is not seconds.millis")
    if float(ts_s) >= MAX_EPOCH:
        raise LineError(f"timestamp {ts_s!r} is out of range")
    if not (tr.isascii() and tr.isdigit()):
        raise LineError(f"elapsed {tr!r} is not a number of milliseconds")
    code, sep, status = code_status.partition("/")
    if not sep or not _tag(code) or not (status.isascii() and status.isdigit()
                                         and len(status) <= 3):
        raise LineError(f"result {code_status!r} is not CODE/status")
    if not (size.isascii() and size.isdigit()):
        raise LineError(f"bytes {size!r} is not a number")
    hier, sep, peer = hier_peer.partition("/")
    if not sep or not _tag(hier):
        raise LineError(f"hierarchy {hier_peer!r} is not HIER/peer")
    return (float(ts_s), int(tr), client, code, int(status), int(size), method, url,
            None if user == "-" else user, hier, None if peer in ("", "-") else peer,
            None if mt == "-" else mt)


def _common(line: str) -> SquidLine:
    m = _COMMON_RE.fullmatch(line.strip())
    if not m:
        raise LineError("not a common/combined log line")
    return SquidLine(
        ts=_parse_tl(m["tl"]),
        elapsed_ms=None,
        client_ip=m["client"],
        squid_code=m["code"],
        http_status=int(m["status"]),
        bytes=None if m["bytes"] == "-" else int(m["bytes"]),
        method=m["method"],
        url=m["url"],
        user=None if m["user"] == "-" else m["user"],
        hierarchy=m["hier"],
        peer=None,
        content_type=None,
        log_format="combined" if m["ua"] is not None else "common",
    )


def _parse_tl(text: str) -> float:
    m = _TL_RE.fullmatch(text.strip())
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


def looks_native(line: str) -> bool:
    head = line.lstrip().split(None, 1)
    return bool(head) and bool(_TS_RE.fullmatch(head[0])) and head[0].count(".") <= 1


def parse_line(line: str, fmt: str = "auto") -> SquidLine:
    """One line in ``fmt`` (``squid`` | ``common`` | ``combined`` | ``auto``).

    Raises :class:`LineError` naming the field that does not fit."""
    if fmt == "squid" or (fmt == "auto" and looks_native(line)):
        return _native(line)
    if fmt in ("common", "combined"):
        return _common(line)
    if fmt == "auto":
        try:
            return _common(line)
        except LineError:
            if len(line.split()) == 10 and "[" not in line:  # native-shaped: say which field
                _native(line)
            raise
    raise ValueError(f"unknown Squid log format {fmt!r} (known: {', '.join(FORMATS)}, auto)")


def detect_format(lines: Iterable[str], sample: int = 50) -> str:
    """The format most of the first ``sample`` non-blank lines parse as."""
    votes = {f: 0 for f in FORMATS}
    seen = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            votes[parse_line(line).log_format] += 1
        except LineError:
            pass
        seen += 1
        if seen >= sample:
            break
    best = max(votes, key=lambda f: votes[f])
    return best if votes[best] else "squid"


# Above this many lines the native format is matched column-wise by Arrow (RE2), and
# only lines that do not match go through the per-line parser (for their reason).
VECTOR_MIN_LINES = 20_000
_NATIVE_RE2 = (
    r"^\s*(?P<ts>\d{1,10}(?:\.\d{1,9})?)\s+(?P<tr>\d+)\s+(?P<client>\S+)\s+"
    r"(?P<code>[A-Z][A-Z0-9_]*)/(?P<status>\d{1,3})\s+(?P<bytes>\d+)\s+(?P<method>\S+)\s+"
    r"(?P<url>\S+)\s+(?P<user>\S+)\s+(?P<hier>[A-Z][A-Z0-9_]*)/(?P<peer>\S*)\s+(?P<mt>\S+)\s*$"
)


def parse_lines(lines: Iterable[str], run_id: str = "", fmt: str = "auto") -> ParseResult:
    """Parse a whole access log into the ``proxy_requests`` table (DESIGN.md §5).

    ``fmt="auto"`` reads each line in whichever supported format it fits, so a
    file whose ``logformat`` changed midway still parses."""
    if fmt not in FORMATS and fmt != "auto":
        raise ValueError(f"unknown Squid log format {fmt!r} (known: {', '.join(FORMATS)}, auto)")
    if not isinstance(lines, list):
        lines = list(lines)
    if fmt in ("squid", "auto") and len(lines) >= VECTOR_MIN_LINES:
        return _parse_vectorized(lines, run_id, fmt)
    return _parse_rows(lines, run_id, fmt)


def _parse_rows(lines: list[str], run_id: str, fmt: str,
                numbers: Iterable[int] | None = None) -> ParseResult:
    """The per-line parser; ``numbers`` gives the original line numbers of ``lines``."""
    rows: list[tuple] = []
    add = rows.append
    malformed: list[Malformed] = []
    n = skipped = 0
    native_ok = fmt in ("squid", "auto")
    ts_re = _TS_RE.fullmatch
    pairs = zip(numbers, lines, strict=False) if numbers is not None else enumerate(lines, 1)
    for n, raw in pairs:
        f = raw.split()
        if not f:
            skipped += 1
            continue
        try:
            # Fast path: the native format, recognised by its seconds.millis first field.
            if native_ok and (fmt == "squid" or (ts_re(f[0]) and len(f) == 10)):
                rec = (*_native_fields(f), "squid")
            else:
                x = parse_line(raw.rstrip("\r\n"), fmt)
                rec = (x.ts, x.elapsed_ms, x.client_ip, x.squid_code, x.http_status, x.bytes,
                       x.method, x.url, x.user, x.hierarchy, x.peer, x.content_type,
                       x.log_format)
        except LineError as exc:
            malformed.append(Malformed(n, raw.rstrip("\r\n"), str(exc)))
            continue
        add((*rec, *split_target(rec[7]), n))
    names = ["ts", "elapsed_ms", "client_ip", "squid_code", "http_status", "bytes", "method",
             "url", "user", "hierarchy", "peer", "content_type", "log_format", "host", "port",
             "raw_line_no"]
    if not rows:
        df = pd.DataFrame({k: [] for k in names})
        df["run_id"] = run_id
        return ParseResult(typed(df, DTYPES), malformed, lines=n, skipped=skipped,
                           source="proxy_access.log")
    cols = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))
    return ParseResult(_frame(cols, run_id, len(rows)), malformed, lines=n, skipped=skipped,
                       source="proxy_access.log")


def _parse_vectorized(lines: list[str], run_id: str, fmt: str) -> ParseResult:
    """Native lines matched column-wise by Arrow; the rest, and any line whose
    timestamp is out of range, go through :func:`_parse_rows` (same rows, same
    reasons), and the two are merged back in line order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(lines, type=pa.string())
    m = pc.extract_regex(arr, _NATIVE_RE2)
    ok_np = m.is_valid().to_numpy(zero_copy_only=False).copy()
    matched = pc.filter(m, pa.array(ok_np))
    in_range = pc.less(pc.cast(matched.field("ts"), pa.float64()), MAX_EPOCH)
    ok_np[np.flatnonzero(ok_np)] = in_range.to_numpy(zero_copy_only=False)
    ok = pa.array(ok_np)
    line_no = np.arange(1, len(lines) + 1)
    rest_idx = np.flatnonzero(~ok_np)
    rest = _parse_rows([lines[i] for i in rest_idx], run_id, fmt,
                       numbers=(int(i) + 1 for i in rest_idx))
    good = pc.filter(m, ok)
    f = {name: good.field(name) for name in ("ts", "tr", "client", "code", "status", "bytes",
                                              "method", "url", "user", "hier", "peer", "mt")}

    def dash_null(a):
        empty = pc.or_(pc.equal(a, "-"), pc.equal(a, ""))
        return pc.if_else(empty, pa.scalar(None, pa.string()), a)

    url_dict = f["url"].dictionary_encode()
    targets = [split_target(u) for u in url_dict.dictionary.to_pylist()]
    idx = url_dict.indices.to_numpy(zero_copy_only=False)
    hosts = pa.array([t[0] for t in targets], type=pa.string()).take(pa.array(idx))
    ports = pa.array([t[1] for t in targets], type=pa.int64()).take(pa.array(idx))

    def cat(a):
        d = a.dictionary_encode()
        return pd.Categorical.from_codes(d.indices.to_numpy(zero_copy_only=False),
                                         categories=pd.Index(d.dictionary.to_pylist(),
                                                             dtype="string"))

    def text(a):
        return pd.array(pd.arrays.ArrowStringArray(a), dtype="string")

    n_good = len(good)
    df = pd.DataFrame({
        "run_id": pd.Categorical.from_codes(np.zeros(n_good, dtype=int),
                                            categories=pd.Index([run_id], dtype="string")),
        "ts": to_utc(pd.Series(pc.cast(f["ts"], pa.float64()).to_numpy(zero_copy_only=False))),
        "elapsed_ms": pd.array(pc.cast(f["tr"], pa.int64()).to_numpy(zero_copy_only=False),
                               dtype="Int64"),
        "client_ip": text(f["client"]),
        "squid_code": cat(f["code"]),
        "http_status": pd.array(pc.cast(f["status"], pa.int64()).to_numpy(zero_copy_only=False),
                                dtype="Int64"),
        "bytes": pd.array(pc.cast(f["bytes"], pa.int64()).to_numpy(zero_copy_only=False),
                          dtype="Int64"),
        "method": cat(f["method"]),
        "host": text(hosts),
        "port": pd.array(ports.to_pylist(), dtype="Int64"),
        "url": text(f["url"]),
        "user": text(dash_null(f["user"])),
        "hierarchy": cat(f["hier"]),
        "peer": text(dash_null(f["peer"])),
        "content_type": text(dash_null(f["mt"])),
        "log_format": pd.Categorical.from_codes(np.zeros(n_good, dtype=int),
                                                categories=pd.Index(["squid"], dtype="string")),
        "raw_line_no": pd.array(line_no[ok_np], dtype="Int64"),
    })
    if len(rest.frame):
        df = concat([df, rest.frame], DTYPES).sort_values("raw_line_no", kind="stable")
        df = df.reset_index(drop=True)
    return ParseResult(df, rest.malformed, lines=len(lines), skipped=rest.skipped,
                       source="proxy_access.log")


def _frame(cols: dict[str, list], run_id: str, n: int) -> pd.DataFrame:
    """Build each column straight in its final dtype: a million rows through pandas'
    generic inference and then a second conversion costs more than the parsing."""
    out: dict[str, object] = {}
    for name, dt in DTYPES.items():
        if name == "run_id":
            out[name] = pd.Categorical.from_codes([0] * n, categories=[run_id]) if n else \
                pd.Categorical([])
        elif dt == "ts":
            out[name] = to_utc(pd.Series(cols[name], dtype="float64"))
        elif dt == "category":
            out[name] = pd.Categorical(cols[name])
        else:
            out[name] = pd.array(cols[name], dtype=dt)
    df = pd.DataFrame(out)
    df["run_id"] = df["run_id"].astype(pd.CategoricalDtype(pd.Index([run_id], dtype="string")))
    for name, dt in DTYPES.items():
        if dt == "category" and name != "run_id":
            cats = df[name].cat.categories
            df[name] = df[name].cat.set_categories(pd.Index(cats, dtype="string"))
    return df
