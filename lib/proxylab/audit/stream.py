"""One source read in one process: chunks read (and gunzipped) by the calling thread,
parsed and reduced by a worker thread.

Shared by :mod:`.ingest` (a file that is not split over processes) and the worker
processes of :mod:`.parallel` (rotated and compressed files, one file per process at a
time), which is why it is neither of them. The calling thread reads and
padding-fills chunk k+1 (numpy and the inflater release the GIL) while the worker
thread runs polars on chunk k.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from proxylab.audit import scan
from proxylab.audit.options import IngestOptions
from proxylab.audit.parse import NATIVE, detect_format, prepare_chunk
from proxylab.audit.reduce import Accumulator, ChunkResult, process_chunk
from proxylab.audit.sources import Source, iter_chunks, open_source


@dataclass
class SourceCounts:
    """What one source held: its format, line counts, first malformed lines, error."""

    format: str = NATIVE
    lines: int = 0
    parsed: int = 0  # well-formed and kept
    malformed: int = 0
    filtered: int = 0
    samples: list[str] = field(default_factory=list)
    error: str | None = None


def read_source(src: Source, opts: IngestOptions, acc: Accumulator, pool: ThreadPoolExecutor,
                sample_budget: int, progress: Callable[[int], None] | None = None
                ) -> SourceCounts:
    """Fold ``src`` into ``acc``; keep up to ``sample_budget`` malformed lines."""
    out = SourceCounts()
    errors: list[str] = []
    fh = open_source(src)
    raw = getattr(fh, "fileobj", None) or fh  # gzip: report compressed position
    last_pos = 0
    pending: list[Future] = []

    def drain(limit: int) -> None:
        while len(pending) > limit:
            r: ChunkResult = pending.pop(0).result()
            out.lines += r.lines
            out.parsed += r.parsed - r.filtered
            out.malformed += r.malformed
            out.filtered += r.filtered
            out.samples += r.samples[: max(0, sample_budget - len(out.samples))]
            acc.add(r)

    try:
        fmt = None
        for buf in iter_chunks(fh, opts.chunk_bytes, errors):
            if fmt is None:
                fmt = opts.log_format if opts.log_format != "auto" else detect_format(buf)
                out.format = fmt
            folder = acc.folder_for(opts) if scan.handles(fmt, opts) else None
            if folder is None:  # the compiled reader reads raw bytes, into its folder
                prepare_chunk(buf, fmt)
            pending.append(pool.submit(process_chunk, buf, fmt, opts, folder is None,
                                       sample_budget - len(out.samples), folder))
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
        out.error = errors[0]
    return out
