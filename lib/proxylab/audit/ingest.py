"""Streaming, chunked aggregation of Squid access logs.

Memory must not grow with the log: each newline-aligned chunk (12 MiB by default)
is parsed (:mod:`proxylab.audit.parse`), filtered (``--since/--until``,
``--client-cidr``) and reduced at once to three small aggregate tables, keyed on
what the audit needs and nothing with per-request cardinality:

- ``by_request``: host:port x method x Squid code/status -> requests, bytes, first/last seen
- ``by_time``: host:port x time bucket -> requests, bytes (charts over time)
- ``by_client``: client address -> requests, bytes

Each chunk yields its fine groups (raw URL token x method x code/status x client x
bucket; for the native format one streaming polars query does parse and group);
they are re-reduced every ~10k rows, so the peak is a few chunks plus the
cardinality of (hosts x statuses x buckets). In one process a worker thread parses
and reduces chunk k while the main thread reads/gunzips and padding-fills chunk k+1;
a large plain file goes to several processes instead (:mod:`proxylab.audit.parallel`).
Host names are split from ports and classified only after aggregation, once per
distinct host.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from proxylab.audit.options import IngestOptions
from proxylab.audit.parallel import splittable
from proxylab.audit.parse import NATIVE, detect_format, prepare_chunk
from proxylab.audit.reduce import Accumulator, ChunkResult, process_chunk
from proxylab.audit.sources import Source, expand_paths, iter_chunks, open_source


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
    acc = Accumulator()
    stats: list[SourceStats] = []
    samples: list[MalformedSample] = []
    with ThreadPoolExecutor(max(1, opts.workers), thread_name_prefix="audit") as pool:
        for src in sources:
            st = SourceStats(src.name)
            stats.append(st)
            if splittable(src, opts.processes, opts.parallel_min_bytes):
                _ingest_parallel(src, st, opts, acc, samples, progress)
            else:
                _ingest_source(src, st, opts, pool, acc, samples, progress)
    acc.compact()
    return Aggregates(
        by_request=acc.req.sort(["requests", "hostport"], descending=[True, False]),
        by_time=acc.tim.sort(["bucket", "hostport"]),
        by_client=acc.cli.sort("requests", descending=True),
        sources=stats,
        samples=samples,
        bucket_seconds=opts.bucket_seconds,
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
    errors: list[str] = []
    fh = open_source(src)
    raw = getattr(fh, "fileobj", None) or fh  # gzip: report compressed position
    last_pos = 0
    pending: list[Future] = []

    def drain(limit: int) -> None:
        while len(pending) > limit:
            r: ChunkResult = pending.pop(0).result()
            st.lines += r.lines
            st.parsed += r.parsed - r.filtered
            st.malformed += r.malformed
            st.filtered += r.filtered
            for s in r.samples:
                if len(samples) < opts.sample_limit:
                    samples.append(MalformedSample(src.name, s))
            acc.add(r)

    try:
        fmt = None
        for buf in iter_chunks(fh, opts.chunk_bytes, errors):
            if fmt is None:
                fmt = opts.log_format if opts.log_format != "auto" else detect_format(buf)
                st.format = fmt
            prepare_chunk(buf, fmt)
            pending.append(pool.submit(process_chunk, buf, fmt, opts, True,
                                       opts.sample_limit - len(samples)))
            drain(opts.workers)
            if progress is not None and src.size:
                try:
                    pos = raw.tell()
                except (OSError, ValueError):
                    pos = last_pos
                progress(pos - last_pos)
                last_pos = pos
        drain(0)
    finally:
        if fh is not raw or src.name != "-":
            fh.close()
    if errors:
        st.error = errors[0]


__all__ = ["Aggregates", "ChunkResult", "IngestOptions", "MalformedSample", "SourceStats",
           "ingest", "process_chunk"]
