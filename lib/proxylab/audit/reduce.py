"""One chunk parsed and reduced, and the accumulator that folds chunks together.

Shared by the single-process reader (:mod:`.ingest`) and the worker processes
(:mod:`.parallel`), which is why it is neither of them: both import it, it imports
neither. Whether a line is well-formed is the grammar's rule
(:mod:`proxylab.grammar.squid`), applied column-wise by :mod:`.parse` or line by line
in C by :mod:`.scan`, whose folder an accumulator owns (:meth:`Accumulator.folder_for`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from proxylab.audit import scan
from proxylab.audit.options import BUCKET_LADDER, IngestOptions, grown_bucket
from proxylab.audit.parse import (
    NATIVE,
    NATIVE_OK,
    bad_key_tokens,
    has_bad_key,
    key_tokens_ok,
    parse_chunk,
    prepare_chunk,
    scan_native,
    unfill,
)

_COMPACT_ROWS = 200_000  # reduced rows held before they are folded together


@dataclass
class ChunkResult:
    """One chunk's counts and its three reduced tables, already keyed on what the answer
    needs (see :func:`reduce_fine`): ``req`` (host:port x method x code/status), ``tim``
    (host:port x time bucket) and ``cli`` (client)."""

    lines: int
    parsed: int
    malformed: int
    filtered: int
    samples: list[str]
    req: pl.DataFrame
    tim: pl.DataFrame
    cli: pl.DataFrame

    @property
    def tables(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        return self.req, self.tim, self.cli


_REQ_KEYS = ["hostport", "method", "cs"]
_TIME_KEYS = ["hostport", "bucket"]


def _empty_results() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    req = pl.DataFrame(
        schema={"hostport": pl.String, "method": pl.String, "cs": pl.String,
                "requests": pl.Int64, "bytes": pl.Int64, "first": pl.Float64,
                "last": pl.Float64}
    )
    tim = pl.DataFrame(schema={"hostport": pl.String, "bucket": pl.Int64,
                               "requests": pl.Int64, "bytes": pl.Int64})
    cli = pl.DataFrame(schema={"client": pl.String, "requests": pl.Int64, "bytes": pl.Int64})
    return req, tim, cli


def _client_allowed(clients: Iterable[str], cidrs) -> list[str]:
    keep = []
    for c in clients:
        try:
            addr = ipaddress.ip_address(c)
        except ValueError:
            continue
        if any(addr in net for net in cidrs):
            keep.append(c)
    return keep


def process_chunk(buf: bytes, fmt: str, opts: IngestOptions, prepared: bool = False,
                  want_samples: int | None = None, folder=None) -> ChunkResult:
    """Parse and reduce one chunk. Pure function of its input: safe in worker threads
    and processes -- but for ``folder`` (:meth:`Accumulator.folder_for`): a chunk the
    compiled reader takes is then folded into it, and the result's tables are empty.

    ``want_samples`` caps the malformed-line samples taken (finding line starts costs
    a pass over the chunk, skipped once enough samples are kept).
    """
    want = opts.sample_limit if want_samples is None else want_samples
    if scan.handles(fmt, opts):
        if prepared:
            raise ValueError("the compiled reader reads raw chunks: see scan.handles")
        return _process_scanned(buf, opts, max(0, want), folder)
    if fmt == NATIVE and opts.engine == "polars":
        if not prepared:
            prepare_chunk(buf, fmt)
        return _process_native(buf, opts, max(0, want))
    parsed = parse_chunk(buf, fmt, prepared=prepared, sample_limit=max(0, want),
                         engine=opts.engine)
    df = parsed.df
    lines = parsed.lines
    ok = key_tokens_ok(df)
    n_ok = int(ok.sum())
    samples = [unfill(t[:300]).decode("utf-8", "replace") for t in parsed.dropped_samples]
    samples = samples[: max(0, want)]
    if n_ok < df.height and len(samples) < want:
        samples += _row_samples(buf, parsed, ok, want - len(samples))
    if n_ok < df.height:
        df = df.filter(ok)
    df = df.drop("ok")
    keep = pl.lit(True)
    if opts.since is not None:
        keep = keep & (pl.col("ts") >= opts.since)
    if opts.until is not None:
        keep = keep & (pl.col("ts") < opts.until)
    if opts.client_cidrs:
        allowed = _client_allowed(df["client"].unique().to_list(), opts.client_cidrs)
        keep = keep & pl.col("client").is_in(allowed)
    if opts.since is not None or opts.until is not None or opts.client_cidrs:
        df = df.filter(keep)
    filtered = n_ok - df.height
    # One group-by on every key the audit needs, straight on the raw URL token: CONNECT
    # targets are host:port already, and the (rarer, high-cardinality) plain-HTTP URLs are
    # cut down to host:port on the grouped rows, which is 10x cheaper than per line.
    fine = df.lazy().group_by(*_FINE_KEYS, _bucket(opts).alias("bucket")).agg(*_FINE_AGGS)
    return ChunkResult(lines, n_ok, lines - n_ok, filtered, samples,
                       *reduce_fine(fine.collect()))


_FINE_KEYS = (pl.col("url"), pl.col("method"), pl.col("cs"), pl.col("client"))
_FINE_AGGS = (pl.len().cast(pl.Int64).alias("requests"), pl.col("bytes").sum(),
              pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"))


def _bucket(opts: IngestOptions) -> pl.Expr:
    # strict=False: a malformed line may carry inf/nan (its group is dropped anyway)
    return ((pl.col("ts") // opts.bucket_seconds) * opts.bucket_seconds).cast(pl.Int64,
                                                                          strict=False)


def _row_samples(buf: bytes, parsed, ok: pl.Series, want: int) -> list[str]:
    """The text of the first ``want`` rows that are not ok, in file order."""
    out: list[str] = []
    df = parsed.df
    bad_rows = np.flatnonzero(~ok.to_numpy())[:want]
    if parsed.rows_are_lines:
        starts = np.concatenate(([0], np.flatnonzero(np.frombuffer(buf, np.uint8) == 10) + 1))
        for r in bad_rows:
            if r + 1 < len(starts):
                raw = buf[starts[r] : starts[r + 1] - 1]
                out.append(unfill(raw[:300]).decode("utf-8", "replace"))
    else:  # rows kept by the reader but with a bad token: show the fields read
        for r in bad_rows:
            out.append(" ".join("" if v is None else str(v) for v in df.row(int(r))[:-1])[:300])
    return out


def _native_samples(buf: bytes, want: int, bad_keys: dict[str, pl.Series]) -> list[str]:
    """The first ``want`` malformed lines of a native chunk, in file order.

    A second streaming query yields just their row numbers (a row is a line, as in
    :func:`parse_native`), so no chunk-sized frame is materialised for a handful of lines.
    """
    bad = ~NATIVE_OK | has_bad_key(bad_keys)
    rows = (scan_native(buf).with_row_index("row").filter(bad).select("row").head(want)
            .collect(engine="streaming")["row"].to_list())
    if not rows:
        return []
    starts = np.concatenate(([0], np.flatnonzero(np.frombuffer(buf, np.uint8) == 10) + 1))
    return [unfill(buf[starts[r] : starts[r + 1] - 1][:300]).decode("utf-8", "replace")
            for r in rows if r + 1 < len(starts)]


def _process_native(buf: bytes, opts: IngestOptions, want: int) -> ChunkResult:
    """Native format, polars: parse and group in one streaming query.

    The well-formedness flag (and the time window, when one is set) are group keys, so
    every count below is an exact sum of per-line decisions, taken on the few thousand
    groups instead of the lines; the code/status check and ``--client-cidr`` run on the
    distinct tokens of the groups. Samples of malformed lines need row positions, so
    only a chunk that has malformed lines *and* still owes samples is scanned a second
    time (:func:`_native_samples`; in practice the first chunk of each process).
    """
    window = None
    if opts.since is not None:
        window = pl.col("ts") >= opts.since
    if opts.until is not None:
        before = pl.col("ts") < opts.until
        window = before if window is None else window & before
    keys = [*_FINE_KEYS, pl.col("user"), pl.col("ctype"), _bucket(opts).alias("bucket"),
            NATIVE_OK]
    if window is not None:
        keys.append(window.fill_null(False).alias("in_window"))
    grouped = (scan_native(buf).group_by(*keys).agg(*_FINE_AGGS)
               .collect(engine="streaming"))
    lines = int(grouped["requests"].sum())  # one row per line, as parse_native
    bad_keys = bad_key_tokens(grouped)
    good = key_tokens_ok(grouped, bad_keys)
    fine = grouped.filter(good)
    n_ok = int(fine["requests"].sum())
    keep = pl.lit(True)
    if window is not None:
        keep = keep & pl.col("in_window")
    if opts.client_cidrs:
        allowed = _client_allowed(fine["client"].unique().to_list(), opts.client_cidrs)
        keep = keep & pl.col("client").is_in(allowed)
    if window is not None or opts.client_cidrs:
        fine = fine.filter(keep)
    filtered = n_ok - int(fine["requests"].sum())
    samples: list[str] = []
    if n_ok < lines and want > 0:
        samples = _native_samples(buf, want, bad_keys)
    fine = fine.drop("ok", "user", "ctype", *(["in_window"] if window is not None else []))
    return ChunkResult(lines, n_ok, lines - n_ok, filtered, samples, *reduce_fine(fine))


def _process_scanned(buf: bytes, opts: IngestOptions, want: int, folder) -> ChunkResult:
    """Native format, compiled reader (:mod:`.scan`): folded into ``folder``, or into a
    folder of its own whose tables the result carries."""
    f = folder if folder is not None else scan.folder(opts)
    lines, n_ok, filtered, samples = scan.feed(f, buf, want)
    if folder is not None:  # here, in the feeding thread: the folder is not busy
        scan.grow(f, opts)
    tables = _empty_results() if folder is not None else frames(f.take())
    return ChunkResult(lines, n_ok, lines - n_ok, filtered, samples, *tables)


def frames(raw) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A folder's ``take()`` as the three tables, with this module's schemas."""
    out = []
    for cols, schema in zip(raw, _SCHEMAS, strict=True):
        data = {}
        for (name, dtype), col in zip(schema.items(), cols, strict=True):
            data[name] = col if dtype == pl.String else np.frombuffer(
                col, np.float64 if dtype == pl.Float64 else np.int64)
        out.append(pl.DataFrame(data, schema=schema))
    return tuple(out)


def _hostport(url: pl.Expr) -> pl.Expr:
    """``scheme://host:port/path`` -> ``host:port``; a CONNECT ``host:port`` is unchanged."""
    pos = url.str.find("://", literal=True)
    rest = pl.when(pos.is_not_null()).then(url.str.slice(pos + 3)).otherwise(url)
    return rest.str.split_exact("/", 1).struct.field("field_0")


_SCHEMAS = tuple(t.schema for t in _empty_results())


def reduce_fine(fine: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A chunk's fine groups (raw URL token x method x code/status x client x bucket)
    reduced, in the chunk's own worker, to the three tables the answer needs.

    Why here and not in the accumulator: the fine groups are about a ninth of the lines
    (every plain-HTTP URL is its own group, and every client multiplies the rest), so
    every chunk passed the accumulator's old 10k-row threshold and the whole host x
    bucket table was rebuilt after every chunk, in the reading thread. Reduced here (the
    same ~0.05 CPU-s per million lines, measured), a chunk hands over a few thousand
    rows, and memory is bounded by the tables' cardinality, not by chunks. The URL is
    cut to ``host:port`` on the groups, not per line."""
    lf = fine.lazy().with_columns(_hostport(pl.col("url")).alias("hostport")).drop("url")
    req, tim, cli = pl.collect_all([_reduce_request(lf), _reduce_sum(lf, _TIME_KEYS),
                                    _reduce_sum(lf, ["client"])])
    return tuple(t.cast(schema) for t, schema in zip((req, tim, cli), _SCHEMAS, strict=True))


class Accumulator:
    """Folds reduced tables (of chunks, or of worker processes) into one set.

    Pending tables are concatenated and re-reduced once they hold ``compact_rows``
    rows, so memory is bounded by the tables' own cardinality (host:port x method x
    status, host:port x bucket, clients) plus that many rows, whatever the number of
    chunks.
    """

    def __init__(self, compact_rows: int | None = None, bucket: int = 3600,
                 bucket_auto: bool = False, opts: IngestOptions | None = None) -> None:
        self.req, self.tim, self.cli = _empty_results()
        self.pending: list[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]] = []
        self.rows = 0
        self.compact_rows = _COMPACT_ROWS if compact_rows is None else compact_rows
        self.bucket, self.bucket_auto = bucket, bucket_auto
        self.base_bucket = bucket  # the bucket chunks are reduced with
        self.opts = opts or IngestOptions(bucket_seconds=bucket, bucket_auto=bucket_auto)
        self.folder = None  # the compiled reader's tables, folded in at compact()

    @classmethod
    def for_options(cls, opts: IngestOptions) -> Accumulator:
        return cls(bucket=opts.bucket_seconds, bucket_auto=opts.bucket_auto
                   and opts.bucket_seconds in BUCKET_LADDER, opts=opts)

    def folder_for(self, opts: IngestOptions):
        """The compiled reader's folder this accumulator owns (made on first use): chunks
        fold into it in C (:func:`process_chunk`), and :meth:`compact` takes it in."""
        if self.folder is None:
            self.folder = scan.folder(opts, self.bucket)
        return self.folder

    def merge_raw(self, raw, bucket: int) -> None:
        """Fold in another folder's ``take()`` (a worker process's), in C."""
        f = self.folder_for(self.opts)
        if bucket > f.bucket:
            f.rebucket(bucket)
        f.add(*raw)
        scan.grow(f, self.opts)

    @property
    def tables(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, int]:
        """The folded tables and their bucket (call :meth:`compact` first)."""
        return self.req, self.tim, self.cli, self.bucket

    def add(self, r: ChunkResult) -> None:
        self.merge(r.req, r.tim, r.cli)

    def merge(self, req: pl.DataFrame, tim: pl.DataFrame, cli: pl.DataFrame,
              bucket: int | None = None) -> None:
        """Fold in reduced tables (a chunk's, or another accumulator's, whose timeline
        may have a coarser ``bucket``: then this one's grows to it)."""
        if bucket is not None and bucket > self.bucket:
            self.compact()
            self._grow(bucket)
        if req.height or tim.height or cli.height:
            self.pending.append((req, tim, cli))
            self.rows += req.height + tim.height + cli.height
        if self.rows > self.compact_rows:
            self.compact()

    def _grow(self, bucket: int) -> None:
        """Re-bucket the folded timeline to ``bucket`` (a multiple of the current one, both
        aligned to the epoch, so every fine bucket falls in exactly one coarse one)."""
        self.bucket = bucket
        self.tim = _reduce_sum(self.tim.with_columns(pl.col("bucket") // bucket * bucket),
                               _TIME_KEYS)

    def compact(self) -> None:
        """Fold the pending tables in. Lazily, on polars' streaming engine: a fold of a
        few hundred thousand rows (a month's host x hour timeline from two processes)
        peaks at ~40% of the eager group-by's transient memory and half its CPU
        (measured). A lone pending set into empty tables is taken as it is: each set is
        already reduced (one row per key)."""
        if self.folder is not None and self.folder.size:
            if self.folder.bucket > self.bucket:
                self._grow(self.folder.bucket)
            self.pending.append(frames(self.folder.take()))
            if self.bucket > self.folder.bucket:  # empty now: later records go coarse
                self.folder.rebucket(self.bucket)
        if not self.pending:
            return
        reqs, tims, clis = zip(*self.pending, strict=True)
        self.pending, self.rows = [], 0
        schemas = (self.req.schema, self.tim.schema, self.cli.schema)
        if len(reqs) == 1 and not (self.req.height or self.tim.height or self.cli.height):
            self.req, tim, self.cli = (t.cast(sch) for t, sch in
                                       zip((reqs[0], tims[0], clis[0]), schemas, strict=True))
            if tim.height and self.bucket != self.base_bucket:  # may be finer than it
                tim = _reduce_sum(tim.lazy().with_columns(
                    pl.col("bucket") // self.bucket * self.bucket), _TIME_KEYS).collect(
                    engine="streaming")
            self.tim = tim
        else:
            def folded(own: pl.DataFrame, new: tuple[pl.DataFrame, ...]) -> pl.LazyFrame:
                return pl.concat([own.lazy(), *(t.lazy().cast(own.schema) for t in new)])

            tim = folded(self.tim, tims)
            if any(t.height for t in tims):  # pending tables may be finer than the folded one
                tim = tim.with_columns(pl.col("bucket") // self.bucket * self.bucket)
            self.req, self.tim, self.cli = pl.collect_all(
                [_reduce_request(folded(self.req, reqs)), _reduce_sum(tim, _TIME_KEYS),
                 _reduce_sum(folded(self.cli, clis), ["client"])], engine="streaming")
        if self.bucket_auto and self.tim.height:
            grow = grown_bucket(self.tim["bucket"].unique().to_list(), self.bucket)
            if grow > self.bucket:
                self._grow(grow)


def _reduce_request(df):
    return df.group_by(_REQ_KEYS).agg(
        pl.col("requests").sum(), pl.col("bytes").sum(), pl.col("first").min(),
        pl.col("last").max(),
    )


def _reduce_sum(df, keys: list[str]):
    return df.group_by(keys).agg(pl.col("requests").sum(), pl.col("bytes").sum())
