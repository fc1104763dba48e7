"""Vectorised parsing of Squid access-log chunks into columns (polars, optionally Arrow).

Why this shape: per-line Python or a capturing regex (pyarrow, polars or duckdb)
tops out near 1 M lines/s (see benchmarks/bench_audit.py --engines). A CSV reader
splitting on single spaces is 2-3x faster, but Squid's native format pads ``%6tr`` (elapsed ms) with
spaces. So every space that follows a space is overwritten *in place* with the
control byte ``\x01``: ``"   135"`` becomes ``" \x01\x01135"``, a line then has
exactly ten single-space-separated fields, and the elapsed column (the only padded
one, never read) absorbs the filler. Byte offsets are kept and the filler is
mapped back to spaces when a malformed line is sampled.

Reader: polars' CSV reader (``--engine polars``; the default only where the compiled
reader of :mod:`.scan` is not built, and always for ``common``/``combined`` and
``--client-cidr``): a bad value nulls one line instead of failing the chunk. Arrow's
reader is an option (``--engine arrow``): it releases the GIL and uses its own
threads, which pays off only when a second core is really free (see
:func:`parse_native_arrow`).

Which lines are well-formed is the grammar's rule (:mod:`proxylab.grammar.squid`),
not this reader's: every field is checked with the grammar's own patterns (the four
group keys once per distinct token), and ``tests/unit/test_squid_grammar_property.py``
holds this reader to the grammar line for line. That costs ~0.25 CPU-s more per
million lines than the earlier reader (~+29%), which left four fields (elapsed, user,
hierarchy, type) unread and took ``1e9``/``+5``/``inf`` as numbers: six more anchored
regexes per line, ~30 ns each, plus three more text columns (measured with
benchmarks/bench_audit.py). Where it goes (one polars thread, per million lines, the
streaming query alone: 0.47 CPU-s with every check, 0.26 without): the regexes on
time 0.01, elapsed 0.035, bytes 0.02, hierarchy 0.045, user/type as group keys 0.015,
reading the five extra text columns the rest. Numeric casts, string comparisons and a
numpy byte pass cost about what the regex they would replace costs (each per-line
kernel is ~5-30 ns), so cheaper checks need fewer per-line columns, not other ones.

Every chunk yields the same columns: ts (epoch seconds, f64), client, cs
(``CODE/status``, e.g. ``TCP_TUNNEL/200``), bytes (i64), method, url, and ``ok``
(the line had the expected shape).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from proxylab.grammar.squid import (
    CODE_STATUS,
    COMMON_PATTERN,
    HIER_PEER,
    MAX_EPOCH,
    NUMBER,
    TOKEN,
    TS,
    LineError,
    parse_tl,
)
from proxylab.grammar.squid import detect_format as grammar_detect_format
from proxylab.grammar.text import split_lines
from proxylab.vocab import SquidFormat

NATIVE = "native"
COMMON = "common"
COMBINED = "combined"
FORMATS = (NATIVE, COMMON, COMBINED)

_NATIVE_NAMES = ["ts", "elapsed", "client", "cs", "bytes", "method", "url", "user", "hier",
                 "ctype", "extra"]
_NATIVE_SCHEMA = {n: pl.String for n in _NATIVE_NAMES}
COLUMNS = ["ts", "client", "cs", "bytes", "method", "url", "ok"]


_AUDIT_NAME = {SquidFormat.NATIVE: NATIVE, SquidFormat.COMMON: COMMON,
               SquidFormat.COMBINED: COMBINED}


def detect_format(buf: bytes | bytearray, probe_lines: int = 200) -> str:
    """The logformat most of the first lines parse as by the grammar; native when none do."""
    head = bytes(buf[: 256 * 1024]).decode("utf-8", "replace")
    lines = split_lines(head)[:probe_lines]
    return _AUDIT_NAME[grammar_detect_format(lines, sample=probe_lines)]


FILLER = 1  # byte written over padding spaces


def fill_padding(buf: bytearray) -> None:
    """Overwrite spaces that follow a space with the filler byte, in place."""
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
        extra_columns="ignore",
    )


@dataclass
class Parsed:
    """One parsed chunk.

    ``df`` has the COLUMNS (``ok`` = well-formed). When ``rows_are_lines`` each row is
    one input line (so a bad row can be cut out of the chunk for a sample); otherwise
    the reader dropped ``lines - df.height`` bad/blank lines itself and handed over
    the text of some in ``dropped_samples``.
    """

    df: pl.DataFrame
    lines: int
    rows_are_lines: bool
    dropped_samples: list[bytes] = field(default_factory=list)


_ARROW_NAMES = _NATIVE_NAMES[:10]


def parse_native_arrow(buf: bytes, sample_limit: int = 20) -> Parsed:
    """Parse a padding-filled native chunk with Arrow's CSV reader (``--engine arrow``).

    Arrow's reader releases the GIL and splits the chunk over its threads (polars'
    holds the GIL and parses an in-memory buffer on one thread), so it can use a
    second free core; it costs ~15% more CPU and ~50 MB more peak memory, and on the
    shared 2-vCPU machine measured (benchmarks/bench_audit.py --engines) it was not
    faster, so it is an option, not the default. Lines without exactly ten fields
    are dropped by the reader and a few kept as samples; the fields of the others are
    read as text and checked by the same grammar expressions as the polars path.
    """
    if len(buf) and int(np.frombuffer(buf, np.uint8).max()) >= 128:
        # Arrow decodes a bad row's text as UTF-8 before calling the handler and chokes
        # on binary garbage; Squid escapes URLs, so non-ASCII chunks are rare: go tolerant.
        return parse_native(buf)
    # Imported here: the default path never needs pyarrow (~0.05 s and ~28 MB RSS saved
    # per process, which counts twice with two ingestion workers).
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = dict.fromkeys(_ARROW_NAMES, pa.string())
    samples: list[bytes] = []

    def invalid(row) -> str:
        if len(samples) < sample_limit:
            samples.append(row.text.encode("utf-8", "surrogateescape"))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(buf),
            read_options=pacsv.ReadOptions(column_names=_ARROW_NAMES, use_threads=True,
                                           block_size=2 << 20),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False,
                                             invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(column_types=types),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return parse_native(buf)
    df = pl.from_arrow(table, rechunk=False).with_columns(pl.lit(None, pl.String).alias("extra"))
    out = df.select(*_TYPED, _NATIVE_FIELDS_OK.alias("ok"))
    return Parsed(out, buf.count(b"\n"), False, samples)


def scan_native(buf: bytes) -> pl.LazyFrame:
    """A padding-filled native chunk as a lazy frame, for a query that parses and reduces
    it in one pass on polars' streaming engine (no chunk-sized DataFrame materialised:
    ~25% less CPU and ~30% less memory than :func:`parse_native` + a group-by).

    Columns: ts (f64), client, cs, bytes (i64), method, url, user, ctype and ``ok``: the
    line obeys the grammar's rule (:mod:`proxylab.grammar.squid`) in every field but
    the six that serve as group keys (client, cs, method, url, and user and type, which
    repeat a handful of values), which :func:`key_tokens_ok` checks once per distinct
    token (a little less CPU than checking user and type per line)."""
    lf = pl.scan_csv(
        buf, has_header=False, separator=" ", quote_char=None,
        schema={n: _NATIVE_SCHEMA.get(n, pl.String) for n in _NATIVE_NAMES},
        ignore_errors=True, truncate_ragged_lines=True, encoding="utf8-lossy",
        missing_columns="insert", extra_columns="ignore", raise_if_empty=False,
    )
    return lf.select(*_TYPED, pl.col("user"), pl.col("ctype"), _LINE_OK.alias("ok"))


# The grammar's field patterns, anchored. The elapsed time carries the padding fill.
_FULL = {k: f"^(?:{v})$" for k, v in {"ts": TS, "bytes": NUMBER, "user": TOKEN,
                                       "hier": HIER_PEER, "ctype": TOKEN}.items()}
_LINE_OK = (  # every field but the group keys (see scan_native)
    pl.col("ts").str.contains(_FULL["ts"])
    & pl.col("elapsed").str.contains(f"^\x01*{NUMBER}$")
    & pl.col("bytes").str.contains(_FULL["bytes"])
    & pl.col("hier").str.contains(_FULL["hier"])
    & pl.col("extra").is_null()
    & pl.all_horizontal(pl.col("client", "cs", "method", "url", "user", "ctype").is_not_null())
    & (pl.col("ts").cast(pl.Float64, strict=False) < MAX_EPOCH)
).fill_null(False)
_NATIVE_FIELDS_OK = (
    _LINE_OK & pl.col("user").str.contains(_FULL["user"])
    & pl.col("ctype").str.contains(_FULL["ctype"])
).fill_null(False)
_TYPED = (pl.col("ts").cast(pl.Float64, strict=False), pl.col("client"), pl.col("cs"),
          pl.col("bytes").cast(pl.Int64, strict=False), pl.col("method"), pl.col("url"))
NATIVE_OK = pl.col("ok")

# Group keys: checked on distinct tokens (a few thousand per chunk), not per line.
KEY_PATTERNS = {"cs": f"^{CODE_STATUS}$", "client": f"^{TOKEN}$", "method": f"^{TOKEN}$",
                "url": f"^{TOKEN}$", "user": f"^{TOKEN}$", "ctype": f"^{TOKEN}$"}


def bad_key_tokens(df: pl.DataFrame) -> dict[str, pl.Series]:
    """The distinct key tokens (client, CODE/status, method, url) of ``df`` that do not
    fit the grammar, per column (columns with none are left out)."""
    out = {}
    for col, pattern in KEY_PATTERNS.items():
        if col in df.columns:
            uniq = df[col].drop_nulls().unique()
            bad = uniq.filter(~uniq.str.contains(pattern))
            if len(bad):
                out[col] = bad
    return out


def has_bad_key(bad: dict[str, pl.Series]) -> pl.Expr:
    """Per row: one of its key tokens is among ``bad``."""
    expr = pl.lit(False)
    for col, values in bad.items():
        expr = expr | pl.col(col).is_in(values.implode()).fill_null(False)
    return expr


def key_tokens_ok(df: pl.DataFrame, bad: dict[str, pl.Series] | None = None) -> pl.Series:
    """``ok`` and every key token fits the grammar, each distinct token checked once."""
    bad = bad_key_tokens(df) if bad is None else bad
    return df.select(pl.col("ok") & ~has_bad_key(bad)).to_series() if bad else df["ok"]


def parse_native(buf: bytes) -> Parsed:
    """polars reader (default): one row per line (blank lines included), bad values as
    nulls, invalid UTF-8 replaced."""
    df = _read(buf, _NATIVE_NAMES, _NATIVE_SCHEMA, list(range(11)), None)
    out = df.select(*_TYPED, _NATIVE_FIELDS_OK.alias("ok"))
    return Parsed(out, out.height, True)


def parse_common(buf: bytes, combined: bool) -> pl.DataFrame:
    """Squid's ``common``/``combined`` logformats, one row per line, by the grammar's own
    :data:`~proxylab.grammar.squid.COMMON_PATTERN` (ASCII classes only, so polars' regex
    and Python's agree) and its ``%tl`` reader, once per distinct time. Either
    logformat's line is accepted whichever was detected, as the grammar does."""
    lines = pl.Series("line", split_lines(bytes(buf).decode("utf-8", "replace")),
                      dtype=pl.String)
    g = lines.str.extract_groups(f"^{COMMON_PATTERN}$").struct.unnest()
    tl = g["tl"].drop_nulls().unique()
    times = pl.DataFrame({"tl": tl, "ts": [_tl_or_none(t) for t in tl.to_list()]},
                         schema={"tl": pl.String, "ts": pl.Float64})
    ts = g.select("tl").join(times, on="tl", how="left", maintain_order="left")["ts"]
    out = g.select(
        ts.alias("ts"),
        pl.col("client"),
        pl.concat_str(pl.col("code"), pl.lit("/"), pl.col("status")).alias("cs"),
        pl.col("bytes").replace("-", "0").cast(pl.Int64, strict=False).alias("bytes"),
        pl.col("method"),
        pl.col("url"),
    )
    ok = g["client"].is_not_null() & ts.is_not_null()
    return out.with_columns(ok.alias("ok"))


def _tl_or_none(text: str) -> float | None:
    try:
        return parse_tl(text)
    except LineError:
        return None


def _writable_view(data: bytes) -> np.ndarray:
    """A writable numpy view of a ``bytes`` object's buffer.

    polars reads ``bytes`` without copying but nothing else (memoryview, ndarray and
    BytesIO cost a copy or 60% more time), while the padding fill must write. The
    object is fresh and referenced only by the chunk pipeline, so writing into it
    before anyone hashes or shares it is safe; it saves a chunk-sized copy.
    """
    if not data:
        return np.zeros(0, np.uint8)
    addr = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    return np.ctypeslib.as_array((ctypes.c_ubyte * len(data)).from_address(addr))


def fill_padding_array(a: np.ndarray, block: int = 1 << 18, line_ends: bool = False) -> None:
    """:func:`fill_padding` on a writable uint8 array.

    Works in cache-sized blocks: whole-chunk boolean temporaries would cost four
    chunk-sized arrays of memory and run slower. Each block looks one byte back; the
    look-back flag is taken before the block is written. With ``line_ends``, a space
    right before ``\n`` (or ending the array) is filled too (see :func:`prepare_chunk`).
    """
    n = len(a)
    prev_space = False
    for s in range(0, n, block):
        e = min(n, s + block)
        seg = a[s:e]
        sp = seg == 32
        pad = np.empty(len(seg), dtype=bool)
        pad[0] = prev_space
        pad[1:] = sp[:-1]
        prev_space = bool(sp[-1])
        np.logical_and(sp, pad, out=pad)
        if line_ends:
            end = np.empty(len(seg), dtype=bool)
            np.equal(seg[1:], 10, out=end[:-1])
            end[-1] = e == n or a[e] == 10
            np.logical_and(end, sp, out=end)
            np.logical_or(pad, end, out=pad)
        # space (32) - 31 = FILLER (1): arithmetic on the 0/1 mask, 2x a masked assignment
        np.subtract(seg, pad.view(np.uint8) * np.uint8(32 - FILLER), out=seg)


def _mark_carriage_returns(a: np.ndarray) -> None:
    """A CR not ending a line (polars would strip it off a field) -> ``\x02``, which
    keeps its line malformed as the grammar has it; a space before ``\r\n`` -> filler."""
    cr = np.flatnonzero(a == 13)
    nxt = cr + 1
    ends = np.zeros(len(cr), dtype=bool)
    inside = nxt < len(a)
    ends[inside] = a[nxt[inside]] == 10
    a[cr[~ends]] = 2
    before = cr[ends] - 1
    before = before[before >= 0]
    a[before[a[before] == 32]] = FILLER


def prepare_chunk(data: bytes, fmt: str) -> None:
    """The padding fill for the native format, in place (no-op for the others).

    More in-place edits keep the reader's verdicts the grammar's: a raw ``\x01``
    (the filler byte; never written by Squid) and a CR that does not end a line
    (polars strips one off a field) become ``\x02``, so their lines stay malformed
    (a sample shows ``\x02``); and a space that ends a line (before ``\n`` or
    ``\r\n``) becomes the filler, so the CSV reader sees an eleventh field instead
    of an empty one it would drop.

    ``data`` must be a fresh object owned by the caller, as
    :func:`proxylab.audit.sources.iter_chunks` yields. Split from parsing so the
    reading thread can fill chunk k+1 (numpy, GIL released) while polars parses chunk k.
    """
    if fmt == NATIVE:
        a = _writable_view(data)
        if data.find(b"\x01") >= 0:
            a[a == FILLER] = 2
        fill_padding_array(a, line_ends=True)
        if data.find(b"\r") >= 0:  # rare: CRLF files, or a stray CR
            _mark_carriage_returns(a)
        # rare: binary junk in a log. One-byte find first: memchr is ~20x faster than
        # bytes.find of the two-byte magic (0.09 CPU-s per million lines, measured)
        if data.find(GZIP_MAGIC[:1]) >= 0 and data.find(GZIP_MAGIC) >= 0:
            _defuse_gzip_magic(a)


GZIP_MAGIC = b"\x1f\x8b"


def _defuse_gzip_magic(a: np.ndarray) -> None:
    """A line starting with gzip's magic makes polars' CSV reader (both engines' paths)
    take the rest of the chunk for gzip and fail with ``OSError: unexpected end of
    file``, losing the whole audit (issue 15 fuzzing). Its first byte becomes ``\x02``:
    the line was malformed anyway (not printable ASCII) and stays so."""
    at = np.flatnonzero((a[:-1] == 0x1F) & (a[1:] == 0x8B))
    at = at[(at == 0) | (a[np.maximum(at - 1, 0)] == 10)]
    a[at] = 2


def parse_chunk(data: bytes, fmt: str, prepared: bool = False, sample_limit: int = 20,
                engine: str = "polars") -> Parsed:
    """Parse one newline-terminated chunk in the given format (see :func:`prepare_chunk`).

    ``engine`` picks the native-format reader: ``polars`` (default) or ``arrow``.
    """
    if not prepared:
        prepare_chunk(data, fmt)
    if fmt == NATIVE:
        if engine == "arrow":
            return parse_native_arrow(data, sample_limit)
        return parse_native(data)
    df = parse_common(data, combined=fmt == COMBINED)
    return Parsed(df, df.height, True)


def unfill(line: bytes) -> bytes:
    """Undo the padding fill on a sampled line."""
    return line.replace(bytes([FILLER]), b" ")
