"""The compiled reader (``--engine c``, the default when built): native Squid lines
checked by the grammar and folded in one C pass (:file:`_scan.c`) into the three
tables the audit needs, held in C across chunks (a :class:`Folder` per process).

Why: the polars reader spends most of its time making and checking per-line text
columns, and then folding per-chunk frames together; the C pass does the grammar's
checks while it splits a line and folds each record into hash tables at once, so a
process keeps no per-line data and no per-chunk frames: ~5x less CPU and a flat
memory (hosts x buckets), measured in benchmarks/bench_audit.py. It reads the raw
bytes (no padding fill), takes the native format only, and leaves ``--client-cidr``
to the polars reader (that filter needs each group's client before the fold);
:func:`handles` says which chunks it takes. Nothing here imports polars or numpy, so
a worker process that only scans starts in a few milliseconds.

Its verdicts are held to the grammar line for line, and its tables and samples to the
polars reader's, by tests/unit/test_squid_grammar_property.py and
tests/unit/test_audit_scan.py.
"""

from __future__ import annotations

from proxylab.audit.options import BUCKET_LADDER, MAX_BUCKETS, compiled_reader_built, grown_bucket
from proxylab.audit.options import COMPILED_READER as READER
from proxylab.grammar.squid import MAX_EPOCH


def available() -> bool:
    """Whether the extension was built (see :func:`.options.compiled_reader_built`)."""
    return compiled_reader_built()


def handles(fmt: str, opts) -> bool:
    """Whether chunks of ``fmt`` under ``opts`` go to the compiled reader (raw, unfilled)."""
    return opts.engine == READER and fmt == "native" and not opts.client_cidrs


NOT_BUILT = ("the compiled audit reader (--engine c) is not built here: it is compiled by "
             "`pip install -e .` (`make venv`) when a C compiler is installed (Debian: "
             "apt-get install gcc); meanwhile use --engine polars")


def folder(opts, bucket: int | None = None):
    """An empty :class:`Folder` for ``opts`` (its window; ``bucket`` or the options')."""
    try:
        from proxylab.audit._scan import Folder
    except ImportError:
        from proxylab.errors import UserError

        raise UserError(NOT_BUILT) from None

    return Folder(bucket or opts.bucket_seconds, opts.since, opts.until, MAX_EPOCH)


def feed(f, buf: bytes, want: int) -> tuple[int, int, int, list[str]]:
    """Fold one raw native chunk into ``f``: (lines, records, filtered, first ``want``
    malformed lines as samples)."""
    lines, records, filtered, spans = f.feed(buf, max(0, want))
    return lines, records, filtered, [sample_text(buf[s:e]) for s, e in spans]


def grow(f, opts) -> None:
    """The timeline's bucket grown in place once the folded buckets pass MAX_BUCKETS
    (when the user did not fix it), by the accumulator's own rule (:func:`grown_bucket`),
    so a process's memory stays hosts x MAX_BUCKETS whatever the log's span."""
    if (opts.bucket_auto and opts.bucket_seconds in BUCKET_LADDER
            and f.buckets > MAX_BUCKETS):
        new = grown_bucket(f.distinct_buckets(), f.bucket)
        if new > f.bucket:
            f.rebucket(new)


def sample_text(line: bytes, limit: int = 300) -> str:
    """A raw malformed line (no newline) as the polars reader shows it (its in-place
    edits, then the padding fill undone, see :func:`proxylab.audit.parse.prepare_chunk`):
    a raw ``\\x01`` or a CR that does not end the line shows as ``\\x02``, and so does the
    first byte of gzip's magic at the start. Pure Python: a scanning worker never loads
    numpy; the property tests hold the two readers' samples equal."""
    b = line.replace(b"\x01", b"\x02")
    if b"\r" in b:
        ends_cr = b.endswith(b"\r")
        b = b.replace(b"\r", b"\x02")
        if ends_cr:
            b = b[:-1] + b"\r"
    if b.startswith(b"\x1f\x8b"):
        b = b"\x02" + b[1:]
    return b[:limit].decode("utf-8", "replace")
