"""Streaming, chunked aggregation of Squid access logs.

Memory must not grow with the log: each newline-aligned chunk (12 MiB by default)
is parsed (:mod:`proxylab.audit.parse`), filtered (``--since/--until``,
``--client-cidr``) and reduced at once to three small aggregate tables, keyed on
what the audit needs and nothing with per-request cardinality:

- ``by_request``: host:port x method x Squid code/status -> requests, bytes, first/last seen
- ``by_time``: host:port x time bucket -> requests, bytes (charts over time)
- ``by_client``: client address -> requests, bytes

The compiled reader (:mod:`.scan`, the default for the native format) folds every
chunk's records in C into one folder per process, which the accumulator takes in at
the end, so a process holds a chunk or two plus the tables' own cardinality (hosts x
statuses, hosts x buckets -- the bucket grows with the log's span, in the folder as in
:class:`.reduce.Accumulator` -- and clients). With the polars reader, each chunk's fine
groups (raw URL token x method x code/status x client x bucket; one streaming polars
query parses and groups) are reduced in the chunk's own worker to those three tables
(:func:`.reduce.reduce_fine`), and the accumulator folds reduced tables. In one
process a worker thread parses and reduces chunk k while the main thread reads/gunzips
(and, for polars, padding-fills) chunk k+1 (:mod:`.stream`); a large plain file goes
to several processes as byte ranges, and a set of whole files (rotated, gzip) to
several processes one file each at a time (:mod:`.parallel`). Host names are split
from ports and classified only after aggregation, once per distinct host.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from proxylab.audit.options import IngestOptions
from proxylab.audit.parallel import files_in_processes, splittable
from proxylab.audit.parse import NATIVE, detect_format
from proxylab.audit.reduce import Accumulator, ChunkResult, process_chunk
from proxylab.audit.sources import Source, expand_paths
from proxylab.audit.stream import read_source


@dataclass
class MalformedSample:
    """One malformed line, kept verbatim (truncated) with where it came from."""

    source: str
    line: str


@dataclass
class SourceStats:
    """Per-input accounting, so a user sees which file was bad."""

    name: str
    format: str = NATIVE
    lines: int = 0
    parsed: int = 0
    malformed: int = 0
    filtered: int = 0
    error: str | None = None


@dataclass
class Aggregates:
    """The whole audit's data, small enough for pandas/report code."""

    by_request: pl.DataFrame
    by_time: pl.DataFrame
    by_client: pl.DataFrame
    sources: list[SourceStats]
    samples: list[MalformedSample] = field(default_factory=list)
    bucket_seconds: int = 3600

    @property
    def lines(self) -> int:
        return sum(s.lines for s in self.sources)

    @property
    def parsed(self) -> int:
        return sum(s.parsed for s in self.sources)

    @property
    def malformed(self) -> int:
        return sum(s.malformed for s in self.sources)

    @property
    def filtered(self) -> int:
        return sum(s.filtered for s in self.sources)


def ingest(
    paths: list[str] | list[Source],
    opts: IngestOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> Aggregates:
    """Read every source and return the aggregates.

    ``progress`` receives the number of on-disk bytes consumed since its last call
    (compressed bytes for gzip), for a progress bar.
    """
    opts = opts or IngestOptions()
    sources = [p if isinstance(p, Source) else None for p in paths]
    if any(s is None for s in sources):
        sources = expand_paths([str(p) for p in paths])
    acc = Accumulator.for_options(opts)
    samples: list[MalformedSample] = []
    stats = [SourceStats(src.name) for src in sources]
    # Several files not split by offset (rotated, gzip): whole files to processes.
    whole = [i for i, src in enumerate(sources)
             if not splittable(src, opts.processes, opts.parallel_min_bytes)]
    done: set[int] = set()
    if files_in_processes([sources[i] for i in whole], opts):
        from proxylab.audit.parallel import ingest_files_parallel

        results, tables = ingest_files_parallel([sources[i] for i in whole], opts, progress)
        acc.merge(*tables)
        got = dict(zip(whole, results, strict=True))
        done = set(whole)
    with ThreadPoolExecutor(max(1, opts.workers), thread_name_prefix="audit") as pool:
        for i, (src, st) in enumerate(zip(sources, stats, strict=True)):
            if i in done:  # samples in source order, as one process takes them
                _record(src, st, got[i], samples, opts)
            elif splittable(src, opts.processes, opts.parallel_min_bytes):
                _ingest_parallel(src, st, opts, acc, samples, progress)
            else:
                _ingest_source(src, st, opts, pool, acc, samples, progress)
    acc.compact()
    return Aggregates(
        # total orders: group-by order is arbitrary, and ties would otherwise come out in
        # whatever order the chunks and processes happened to fold them
        by_request=acc.req.sort(["requests", "hostport", "method", "cs"],
                                descending=[True, False, False, False]),
        by_time=acc.tim.sort(["bucket", "hostport"]),
        by_client=acc.cli.sort(["requests", "client"], descending=[True, False]),
        sources=stats,
        samples=samples,
        bucket_seconds=acc.bucket,
    )


def _ingest_parallel(src, st, opts, acc, samples, progress) -> None:
    """A large plain file: ranges over several processes (see :mod:`.parallel`)."""
    from proxylab.audit.parallel import ingest_file_parallel

    fmt = opts.log_format
    if fmt == "auto":
        with open(src.name, "rb") as fh:
            fmt = detect_format(fh.read(256 * 1024))
    st.format = fmt
    res = ingest_file_parallel(src, fmt, opts, opts.processes, progress)
    st.lines, st.parsed, st.malformed, st.filtered = (res.lines, res.parsed, res.malformed,
                                                     res.filtered)
    for _i, _k, line in res.samples:
        if len(samples) < opts.sample_limit:
            samples.append(MalformedSample(src.name, line))
    if res.errors:
        st.error = res.errors[0]
    acc.merge(*res.tables)


def _ingest_source(src, st, opts, pool, acc, samples, progress) -> None:
    got = read_source(src, opts, acc, pool, opts.sample_limit - len(samples), progress)
    _record(src, st, got, samples, opts)


def _record(src, st, got, samples, opts) -> None:
    st.format, st.lines, st.parsed, st.malformed, st.filtered, st.error = (
        got.format, got.lines, got.parsed, got.malformed, got.filtered, got.error)
    for s in got.samples:
        if len(samples) < opts.sample_limit:
            samples.append(MalformedSample(src.name, s))


__all__ = ["Aggregates", "ChunkResult", "IngestOptions", "MalformedSample", "SourceStats",
           "ingest", "process_chunk"]
