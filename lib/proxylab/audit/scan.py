"""The compiled reader (``--engine c``, the default when built): native Squid lines
checked and folded in one C pass (:file:`_scan.c`), straight into the three reduced
tables a chunk hands over.

Why: the polars reader spends most of its time making and checking per-line text
columns; the C pass does the grammar's checks while it splits a line and keeps no
per-line data, which is ~4x less CPU per line and no chunk-sized frames (measured in
benchmarks/bench_audit.py). It reads the raw bytes (no padding fill), takes the
native format only, and leaves ``--client-cidr`` to the polars reader (that filter
needs the client of each group before the fold); :func:`handles` says which chunks it
takes. Its verdicts are held to the grammar line for line, and its tables to the
polars reader's, by tests/unit/test_squid_grammar_property.py and
tests/unit/test_audit_scan.py.
"""

from __future__ import annotations

import importlib.util

from proxylab.grammar.squid import MAX_EPOCH

READER = "c"
MODULE = "proxylab.audit._scan"


def available() -> bool:
    """Whether the extension was built (``pip install -e .`` compiles it when a C
    compiler is there; setup.py marks it optional)."""
    try:
        return importlib.util.find_spec(MODULE) is not None
    except (ImportError, ValueError):
        return False


def handles(fmt: str, opts) -> bool:
    """Whether chunks of ``fmt`` under ``opts`` go to the compiled reader (raw, unfilled)."""
    from proxylab.audit.parse import NATIVE

    return opts.engine == READER and fmt == NATIVE and not opts.client_cidrs


def scan(buf: bytes, opts, want: int):
    """One raw native chunk: (lines, records, filtered, samples, req, tim, cli), each table
    as a dict of columns (lists of str, numpy arrays) named as :mod:`.reduce`'s tables,
    rows in no particular order."""
    import numpy as np

    from proxylab.audit import _scan
    from proxylab.audit.parse import sample_text

    lines, records, filtered, spans, req, tim, cli = _scan.scan_chunk(
        buf, opts.bucket_seconds, opts.since, opts.until, MAX_EPOCH, max(0, want))

    def cols(names: tuple[str, ...], values: tuple, kinds: str) -> dict:
        return {n: v if k == "s" else np.frombuffer(v, np.int64 if k == "i" else np.float64)
                for n, v, k in zip(names, values, kinds, strict=True)}

    return (lines, records, filtered, [sample_text(buf[s:e]) for s, e in spans],
            cols(("hostport", "method", "cs", "requests", "bytes", "first", "last"), req,
                 "sssiiff"),
            cols(("hostport", "bucket", "requests", "bytes"), tim, "siii"),
            cols(("client", "requests", "bytes"), cli, "sii"))
