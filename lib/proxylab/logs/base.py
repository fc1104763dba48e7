"""What every parser returns, and the dtype helpers that keep tables consistent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from proxylab.grammar.squid import MAX_EPOCH as _MAX_EPOCH

UTC = "UTC"
MAX_EPOCH = _MAX_EPOCH  # the grammar's bound (datetime64[ns] ends in 2262)


@dataclass(frozen=True)
class Malformed:
    """A line a parser could not read: 1-based line number, the text, and why."""

    line_no: int
    text: str
    reason: str


@dataclass
class ParseResult:
    """One parsed file: the rows, the lines set aside, and how many lines were seen.

    ``skipped`` counts lines that are well-formed but carry nothing for the table
    (a dnsmasq start-up banner, a blank line): unlike malformed lines they say
    nothing is wrong.
    """

    frame: pd.DataFrame
    malformed: list[Malformed] = field(default_factory=list)
    lines: int = 0
    skipped: int = 0
    source: str = ""

    @property
    def malformed_count(self) -> int:
        return len(self.malformed)

    def malformed_frame(self, run_id: str = "", file: str = "") -> pd.DataFrame:
        return malformed_frame(self.malformed, run_id=run_id, file=file or self.source)


def malformed_frame(items: Iterable[Malformed], run_id: str = "", file: str = "") -> pd.DataFrame:
    rows = [
        {"run_id": run_id, "file": file, "line_no": m.line_no, "text": m.text, "reason": m.reason}
        for m in items
    ]
    return typed(
        pd.DataFrame(rows, columns=["run_id", "file", "line_no", "text", "reason"]),
        {"run_id": "category", "file": "category", "line_no": "Int64", "text": "string",
         "reason": "string"},
    )


def typed(df: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """Apply a column -> dtype map; ``"ts"`` means tz-aware UTC datetime.

    Empty frames get the same dtypes as full ones, so concatenating runs never
    silently turns a column into ``object``.
    """
    for col, dt in dtypes.items():
        if col not in df.columns:
            df[col] = pd.Series([None] * len(df), index=df.index, dtype="object")
        if dt == "ts":
            df[col] = to_utc(df[col])
        elif dt == "category":
            df[col] = df[col].astype("string").astype("category")
        else:
            df[col] = df[col].astype(dt)
    return df[list(dtypes)]


def to_utc(values: Any) -> pd.Series:
    """Epoch seconds (float), datetimes or ISO strings -> datetime64[ns, UTC]."""
    s = pd.Series(values)
    if s.empty:
        return pd.Series(pd.to_datetime(s, utc=True), dtype="datetime64[ns, UTC]")
    if pd.api.types.is_numeric_dtype(s):
        # Round to microseconds: 1748149505.823 is not exact in binary floating point.
        us = (s.astype("float64") * 1e6).round().astype("Int64")
        return pd.to_datetime(us, unit="us", utc=True).astype("datetime64[ns, UTC]")
    return pd.to_datetime(s, utc=True, errors="coerce", format="mixed").astype(
        "datetime64[ns, UTC]"
    )


def concat(frames: list[pd.DataFrame], dtypes: dict[str, str]) -> pd.DataFrame:
    """Concatenate per-run frames and re-apply dtypes (categories are unioned)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return typed(pd.DataFrame(columns=list(dtypes)), dtypes)
    out = pd.concat(
        [f.astype({c: "object" for c, d in dtypes.items() if d == "category"}) for f in frames],
        ignore_index=True,
    )
    return typed(out, dtypes)
