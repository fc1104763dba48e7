"""Vectorised parsing of Squid access-log chunks into columns (polars).

Why this shape: per-line Python or a capturing regex tops out near 1 M lines/s
(see benchmarks/bench_audit.py --engines). A CSV reader splitting on single spaces
is several times faster, but Squid's native format pads ``%6tr`` (elapsed ms) with
spaces. The padding only ever precedes a number, so every space that follows a space
(or a line start) is overwritten with ``0`` *in place*: ``"   135"`` becomes
``"000135"``, which still reads as 135 and keeps byte offsets (so malformed-line
samples can be cut out of an untouched copy). A line then has exactly ten fields.

Every chunk yields the same columns: ts (epoch seconds, f64), client, cs
(``CODE/status``, e.g. ``TCP_TUNNEL/200``), bytes (i64), method, url, and ``ok``
(the line had the expected shape).
"""

from __future__ import annotations

import ctypes
import re

import numpy as np
import polars as pl

NATIVE = "native"
COMMON = "common"
COMBINED = "combined"
FORMATS = (NATIVE, COMMON, COMBINED)

_NATIVE_RE = re.compile(
    rb"^\s*\d+\.\d+\s+-?\d+\s+\S+\s+[A-Z_]+/\d{3}\s+\d+\s+\S+\s+\S+\s+\S+\s+\S+/\S+\s+\S+\s*$"
)
_COMMON_RE = re.compile(rb'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} \d+ \S+:\S+\s*$')
_COMBINED_RE = re.compile(rb'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} \d+ "[^"]*" "[^"]*" \S+:\S+\s*$')

_NATIVE_NAMES = ["ts", "elapsed", "client", "cs", "bytes", "method", "url", "user", "hier",
                 "ctype", "extra"]
_NATIVE_SCHEMA = {n: pl.String for n in _NATIVE_NAMES} | {"ts": pl.Float64, "bytes": pl.Int64}
_COMMON_NAMES = ["client", "ident", "user", "tdate", "tz", "request", "status", "bytes",
                 "codehier", "extra"]
_COMBINED_NAMES = ["client", "ident", "user", "tdate", "tz", "request", "status", "bytes",
                   "referer", "agent", "codehier", "extra"]
COLUMNS = ["ts", "client", "cs", "bytes", "method", "url", "ok"]


def detect_format(buf: bytes | bytearray, probe_lines: int = 200) -> str:
    """Pick the logformat that matches most of the first lines; native when none match."""
    scores = dict.fromkeys(FORMATS, 0)
    for line in bytes(buf[: 256 * 1024]).splitlines()[:probe_lines]:
        if _NATIVE_RE.match(line):
            scores[NATIVE] += 1
        elif _COMBINED_RE.match(line):
            scores[COMBINED] += 1
        elif _COMMON_RE.match(line):
            scores[COMMON] += 1
    best = max(FORMATS, key=lambda f: scores[f])
    return best if scores[best] else NATIVE


def fill_padding(buf: bytearray) -> None:
    """Overwrite spaces that follow a space or a newline with '0', in place (see module doc)."""
    fill_padding_array(np.frombuffer(buf, dtype=np.uint8))


def _read(buf: bytes, names: list[str], schema: dict, columns: list[int], quote: str | None):
    return pl.read_csv(
        buf,
        has_header=False,
        separator=" ",
        quote_char=quote,
        schema=dict(zip(names, [schema.get(n, pl.String) for n in names], strict=True)),
        columns=columns,
        ignore_errors=True,
        truncate_ragged_lines=True,
        encoding="utf8-lossy",
        missing_columns="insert",
    )


def parse_native(buf: bytes) -> pl.DataFrame:
    """Parse a padding-filled native chunk (one row per line, blank lines included)."""
    df = _read(buf, _NATIVE_NAMES, _NATIVE_SCHEMA, [0, 2, 3, 4, 5, 6, 8, 9, 10], None)
    ok = pl.all_horizontal(
        pl.col("ts", "client", "cs", "bytes", "method", "url", "hier", "ctype").is_not_null()
    ) & pl.col("extra").is_null()
    return df.select(pl.col("ts", "client", "cs", "bytes", "method", "url"), ok.alias("ok"))


def parse_common(buf: bytes, combined: bool) -> pl.DataFrame:
    """Parse Squid's ``common``/``combined`` logformats (Apache-style, quoted request)."""
    names = _COMBINED_NAMES if combined else _COMMON_NAMES
    schema = {"bytes": pl.Int64}
    wanted = ["client", "tdate", "tz", "request", "status", "bytes", "codehier", "extra"]
    df = _read(buf, names, schema, [names.index(n) for n in wanted], '"')
    req = pl.col("request").str.split_exact(" ", 2)
    ts = (
        pl.concat_str(pl.col("tdate"), pl.lit(" "), pl.col("tz"))
        .str.strptime(pl.Datetime("ms", "UTC"), "[%d/%b/%Y:%H:%M:%S %z]", strict=False)
        .dt.epoch("ms")
        .cast(pl.Float64)
        / 1000.0
    )
    code = pl.col("codehier").str.split_exact(":", 1).struct.field("field_0")
    status_ok = pl.col("status").str.contains(r"^\d{3}$")
    out = df.select(
        ts.alias("ts"),
        pl.col("client"),
        pl.concat_str(code, pl.lit("/"), pl.col("status")).alias("cs"),
        pl.col("bytes"),
        req.struct.field("field_0").alias("method"),
        req.struct.field("field_1").alias("url"),
        status_ok.alias("_status_ok"),
    )
    ok = (
        pl.all_horizontal(pl.col("ts", "client", "cs", "bytes", "method", "url").is_not_null())
        & pl.col("_status_ok").fill_null(False)
    )
    return out.with_columns(ok.alias("ok")).drop("_status_ok").with_columns(
        pl.col("ok") & df["extra"].is_null()
    )


def _writable_bytes(buf: bytearray) -> tuple[bytes, np.ndarray]:
    """A fresh ``bytes`` copy of ``buf`` plus a writable numpy view of it.

    polars reads ``bytes`` without copying but nothing else (memoryview, ndarray and
    BytesIO cost a copy or 60% more time), while the padding fill must write. The
    copy is new and referenced only here, so writing into it before anyone hashes or
    shares it is safe; it saves one 16 MiB copy per chunk and keeps ``buf`` pristine
    for malformed-line samples.
    """
    data = bytes(buf)
    if not data:
        return data, np.zeros(0, np.uint8)
    addr = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    view = np.ctypeslib.as_array((ctypes.c_ubyte * len(data)).from_address(addr))
    return data, view


def fill_padding_array(a: np.ndarray) -> None:
    """:func:`fill_padding` on a writable uint8 array."""
    if not len(a):
        return
    sp = a == 32
    pad = sp[1:] & (sp[:-1] | (a[:-1] == 10))
    a[1:][pad] = 48
    if sp[0]:
        a[0] = 48


def parse_chunk(buf: bytearray, fmt: str) -> pl.DataFrame:
    """Parse one newline-terminated chunk in the given format; ``buf`` is left untouched."""
    if fmt == NATIVE:
        data, view = _writable_bytes(buf)
        fill_padding_array(view)
        del view
        return parse_native(data)
    return parse_common(bytes(buf), combined=fmt == COMBINED)
