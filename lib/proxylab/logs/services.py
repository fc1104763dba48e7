"""The ``service_hits`` table, from ``services.log``.

The record's grammar (fields, checks, JSON shape) is
:class:`proxylab.grammar.services.ServiceRecord`; this module only builds the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from proxylab.grammar.services import ServiceRecord
from proxylab.logs.base import Malformed, ParseResult, to_utc, typed
from proxylab.vocab import Via

VIAS = tuple(v.value for v in Via)
DTYPES: dict[str, str] = {
    "run_id": "category",
    "service": "category",
    "ts": "ts",
    "source_ip": "string",
    "local_ip": "string",
    "via": "category",
    "vpce_id": "string",
    "host": "string",
    "method": "category",
    "path": "string",
    "operation": "string",
    "status": "Int64",
    "raw_line_no": "Int64",
}


def parse_record(text: str) -> dict[str, Any]:
    """One JSON line -> a ``service_hits`` row (:class:`ServiceRecord` does the checking)."""
    rec = ServiceRecord.from_json(text)
    return {k: getattr(rec, k) for k in DTYPES if k not in ("run_id", "raw_line_no")} | {
        "via": rec.via.value}


def parse_lines(lines: Iterable[str], run_id: str = "") -> ParseResult:
    """Parse ``services.log`` into ``service_hits``."""
    rows: list[dict[str, Any]] = []
    malformed: list[Malformed] = []
    n = skipped = 0
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            skipped += 1
            continue
        try:
            row = parse_record(line)
        except (ValueError, TypeError, OverflowError) as exc:
            malformed.append(Malformed(n, line, str(exc)))
            continue
        row["raw_line_no"] = n
        rows.append(row)
    df = pd.DataFrame(rows, columns=[c for c in DTYPES if c != "run_id"])
    df["ts"] = to_utc(pd.Series([r["ts"] for r in rows], dtype="float64"))
    df["run_id"] = run_id
    return ParseResult(typed(df, DTYPES), malformed, lines=n, skipped=skipped,
                       source="services.log")
