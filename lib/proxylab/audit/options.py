"""What one audit is asked to do: filters, tuning, and the multi-process thresholds.

Its own module so the reader (:mod:`.ingest`), the reducer (:mod:`.reduce`) and the
worker processes (:mod:`.parallel`) share it without importing one another; no
polars here (a worker imports it before polars loads).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

MAX_BUCKETS = 1500  # distinct timeline buckets before the bucket grows (62 days of hours)
BUCKET_LADDER = (3600, 6 * 3600, 86400, 7 * 86400)  # each a multiple of the one before
PARALLEL_MIN_BYTES = 64 << 20  # below this a worker's start-up (~0.2 s CPU) does not pay
PARALLEL_CHUNK_BYTES = 8 << 20  # per range; each process's peak RSS is ~65 MB + ~8x this


def grown_bucket(buckets, current: int) -> int:
    """The timeline's bucket for these distinct ``buckets`` (epoch seconds, multiples of
    ``current``): the smallest step of the ladder, from ``current`` up, that holds them
    in at most MAX_BUCKETS; the last step when none does. Distinct buckets, not
    max - min: a stray timestamp (a line from 1970 in a damaged log) adds one bucket,
    it does not make the whole timeline weekly. One rule for every reader."""
    values = list(buckets)
    steps = [b for b in BUCKET_LADDER if b >= current]
    return next((b for b in steps if len({v // b for v in values}) <= MAX_BUCKETS), steps[-1])


def default_processes() -> int:
    """Two processes when two CPUs are usable. Each process costs ~130 MB at peak, so two
    keep a 5M-line audit under the 300 MB target; more must be asked for (``--jobs``)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


COMPILED_READER = "c"  # :mod:`.scan`, the C extension ``_scan``


def compiled_reader_built() -> bool:
    """Whether the compiled reader's extension was built (``pip install -e .`` compiles
    it when a C compiler is there; setup.py marks it optional)."""
    import importlib.util

    try:
        return importlib.util.find_spec("proxylab.audit._scan") is not None
    except (ImportError, ValueError):
        return False


def default_reader() -> str:
    """The compiled reader when it was built, else polars."""
    return COMPILED_READER if compiled_reader_built() else "polars"


@dataclass(frozen=True)
class IngestOptions:
    """Filters and tuning for one audit."""

    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive
    client_cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    bucket_seconds: int = 3600
    # the timeline's bucket grows (x6, x4, x7: 6 hours, a day, a week) while the logs
    # occupy more than MAX_BUCKETS of them, so its memory stays hosts x MAX_BUCKETS; off when the
    # user asked for a bucket (--bucket)
    bucket_auto: bool = True
    chunk_bytes: int = 12 << 20  # single process; peak RSS grows ~5x the chunk size
    workers: int = 1  # polars parallelises inside a chunk; more Python workers contend
    # Large plain files: this many processes (this one included), each taking ranges of
    # parallel_chunk_bytes (smaller than chunk_bytes: the processes' memory adds up).
    processes: int = field(default_factory=default_processes)
    parallel_min_bytes: int = PARALLEL_MIN_BYTES  # below this, a worker (~0.2 s) does not pay
    parallel_chunk_bytes: int = PARALLEL_CHUNK_BYTES
    sample_limit: int = 20
    log_format: str = "auto"  # auto | native | common | combined
    # native-format reader: c (compiled, the default when built: audit.scan) | polars |
    # arrow (audit.parse)
    engine: str = field(default_factory=default_reader)


def parse_time(value: str) -> float:
    """ISO 8601 (naive = UTC, trailing Z accepted) or epoch seconds -> epoch seconds.

    The library's reading of ``--since``/``--until`` (the CLI and the notebook share it);
    ValueError says what is accepted."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not a time: use ISO 8601 (2025-05-25T05:00Z) or epoch seconds"
        ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
