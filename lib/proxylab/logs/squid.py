"""The ``proxy_requests`` table, built from Squid access logs.

The line grammar (fields, the one well-formedness rule, host:port splitting) is
:mod:`proxylab.grammar.squid`; this module only turns lines into a typed table.
Its names (:func:`parse_line`, :func:`split_target`, :class:`SquidLine`...) are
re-exported for existing callers; new code imports the grammar.

Above :data:`VECTOR_MIN_LINES` the native lines are read column-wise by the audit's
compiled reader (:file:`proxylab/audit/_scan.c`, the grammar spelled out in C), or
without it by Arrow's RE2 with the grammar's own
:data:`~proxylab.grammar.squid.NATIVE_PATTERN` (same verdicts: the pattern uses ASCII
classes only), and only lines they do not take go through the per-line parser, for
their reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from proxylab.grammar.hostport import split_target
from proxylab.grammar.squid import (
    MAX_EPOCH,
    NATIVE_PATTERN,
    NATIVE_RE,
    LineError,
    SquidLine,
    detect_format,
    looks_native,
    parse_line,
    strip_ending,
)
from proxylab.logs.base import Malformed, ParseResult, concat, to_utc, typed
from proxylab.vocab import SquidFormat

__all__ = ["DTYPES", "FORMATS", "LineError", "SquidLine", "detect_format", "looks_native",
           "parse_line", "parse_lines", "split_target"]

FORMATS = tuple(f.value for f in SquidFormat)

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


# Above this many lines the native format is matched column-wise by Arrow (RE2), and
# only lines that do not match go through the per-line parser (for their reason).
VECTOR_MIN_LINES = 20_000
_NATIVE_RE2 = f"^{NATIVE_PATTERN}$"


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


NAMES = ("ts", "elapsed_ms", "client_ip", "squid_code", "http_status", "bytes", "method",
         "url", "user", "hierarchy", "peer", "content_type", "log_format", "host", "port",
         "raw_line_no")


@dataclass
class Scanned:
    """One file's rows before they are a frame (tuples in :data:`NAMES` order), so a
    set of runs builds one frame for all of them (see :func:`frame_of`)."""

    rows: list[tuple]
    malformed: list[Malformed]
    lines: int
    skipped: int


def scan(lines: list[str], fmt: str = "auto", numbers: Iterable[int] | None = None) -> Scanned:
    """The per-line reader; ``numbers`` gives the original line numbers of ``lines``."""
    rows: list[tuple] = []
    add = rows.append
    malformed: list[Malformed] = []
    n = skipped = 0
    native_ok = fmt in ("squid", "auto")
    native = NATIVE_RE.fullmatch
    pairs = zip(numbers, lines, strict=False) if numbers is not None else enumerate(lines, 1)
    for n, raw in pairs:
        line = strip_ending(raw)
        if not line:
            skipped += 1
            continue
        try:
            # Fast path: a native line, read straight from the grammar's match.
            m = native(line) if native_ok else None
            if m is not None and float(m["ts"]) < MAX_EPOCH:
                user, peer, mt = m["user"], m["peer"], m["mt"]
                rec = (float(m["ts"]), int(m["tr"]), m["client"], m["code"], int(m["status"]),
                       int(m["bytes"]), m["method"], m["url"], None if user == "-" else user,
                       m["hier"], None if peer in ("", "-") else peer,
                       None if mt == "-" else mt, "squid")
            else:
                x = parse_line(line, fmt)
                rec = (x.ts, x.elapsed_ms, x.client_ip, x.squid_code, x.http_status, x.bytes,
                       x.method, x.url, x.user, x.hierarchy, x.peer, x.content_type,
                       x.log_format.value)
        except LineError as exc:
            malformed.append(Malformed(n, line, str(exc)))
            continue
        add((*rec, *split_target(rec[7]), n))
    return Scanned(rows, malformed, n, skipped)


def frame_of(rows: list[tuple], run_ids: list[str]) -> pd.DataFrame:
    """``proxy_requests`` of rows from :func:`scan`, ``run_ids[i]`` the run of row i."""
    if not rows:
        df = pd.DataFrame({k: [] for k in NAMES})
        df["run_id"] = run_ids[0] if run_ids else ""
        return typed(df, DTYPES)
    cols = dict(zip(NAMES, map(list, zip(*rows, strict=True)), strict=True))
    return _frame(cols, run_ids, len(rows))


def _parse_rows(lines: list[str], run_id: str, fmt: str,
                numbers: Iterable[int] | None = None) -> ParseResult:
    """The per-line parser as a table; ``numbers`` as in :func:`scan`."""
    sc = scan(lines, fmt, numbers)
    return ParseResult(frame_of(sc.rows, [run_id] * max(len(sc.rows), 1)), sc.malformed,
                       lines=sc.lines, skipped=sc.skipped, source="proxy_access.log")


_TEXT_FIELDS = ("client", "code", "method", "url", "user", "hier", "peer", "mt")


def _native_columns_compiled(lines: list[str]):
    """The native records of ``lines`` by the audit's compiled reader (one C pass over
    the joined lines, each field handed over in Arrow's string layout: no per-field
    Python objects): (1-based line numbers of the records, of the other lines, fields),
    or None when the reader is not built or the lines do not split back as given."""
    import numpy as np
    import pyarrow as pa

    try:
        from proxylab.audit import _scan
    except ImportError:
        return None
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    n, nums, texts, others = _scan.records(data, MAX_EPOCH, False)
    if n != len(lines):  # a line holding "\n" itself: the per-line numbering rules
        return None
    i64 = np.int64
    line_no, ts, tr, status, nbytes = (np.frombuffer(b, np.float64 if k == 1 else i64)
                                       for k, b in enumerate(nums))
    f = {"ts": pa.array(ts), "tr": pa.array(tr), "status": pa.array(status),
         "bytes": pa.array(nbytes)}
    for name, (buf, offsets) in zip(_TEXT_FIELDS, texts, strict=True):
        f[name] = pa.StringArray.from_buffers(len(line_no), pa.py_buffer(offsets),
                                              pa.py_buffer(buf))
    return line_no, np.frombuffer(others, i64), f


def _native_columns_re2(lines: list[str]):
    """:func:`_native_columns_compiled` by Arrow's RE2 and the grammar's own pattern
    (the way without a C compiler): same verdicts, the pattern being ASCII-only."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(lines, type=pa.string())
    m = pc.extract_regex(arr, _NATIVE_RE2)
    ok_np = m.is_valid().to_numpy(zero_copy_only=False).copy()
    matched = pc.filter(m, pa.array(ok_np))
    in_range = pc.less(pc.cast(matched.field("ts"), pa.float64()), MAX_EPOCH)
    ok_np[np.flatnonzero(ok_np)] = in_range.to_numpy(zero_copy_only=False)
    good = pc.filter(m, pa.array(ok_np))
    line_no = np.arange(1, len(lines) + 1)
    return line_no[ok_np], line_no[~ok_np], {
        name: good.field(name) for name in ("ts", "tr", "status", "bytes", *_TEXT_FIELDS)}


def _parse_vectorized(lines: list[str], run_id: str, fmt: str) -> ParseResult:
    """Native lines read column-wise (the compiled reader, else Arrow's RE2); the rest,
    and any line whose timestamp is out of range, go through :func:`_parse_rows` (same
    rows, same reasons), and the two are merged back in line order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    line_no, rest_no, f = _native_columns_compiled(lines) or _native_columns_re2(lines)
    rest = _parse_rows([lines[i - 1] for i in rest_no], run_id, fmt,
                       numbers=(int(i) for i in rest_no))

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

    n_good = len(line_no)
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
        "raw_line_no": pd.array(line_no, dtype="Int64"),
    })
    if len(rest.frame):
        df = concat([df, rest.frame], DTYPES).sort_values("raw_line_no", kind="stable")
        df = df.reset_index(drop=True)
    return ParseResult(df, rest.malformed, lines=len(lines), skipped=rest.skipped,
                       source="proxy_access.log")


def _frame(cols: dict[str, list], run_ids: list[str], n: int) -> pd.DataFrame:
    """Build each column straight in its final dtype: a million rows through pandas'
    generic inference and then a second conversion costs more than the parsing."""
    out: dict[str, object] = {}
    for name, dt in DTYPES.items():
        if name == "run_id":
            out[name] = pd.Categorical(run_ids)
        elif dt == "ts":
            out[name] = to_utc(pd.Series(cols[name], dtype="float64"))
        elif dt == "category":
            out[name] = pd.Categorical(cols[name])
        else:
            out[name] = pd.array(cols[name], dtype=dt)
    df = pd.DataFrame(out)
    for name, dt in DTYPES.items():
        if dt == "category":
            cats = df[name].cat.categories
            df[name] = df[name].cat.set_categories(pd.Index(cats, dtype="string"))
    return df
