"""The aggregates as a file: what any engine hands the recommendation step.

Why: the classification, recommendations and report read only the aggregates, so the
engine that read billions of lines (Spark on a cluster, ClickHouse, Athena) and the
machine that writes the report need not be the same. Two shapes are read:

- **the aggregates file** (written by ``proxylab audit --engine ANY --save-aggregates
  FILE``): one JSON document (gzip if the name ends ``.gz``), schema below, versioned
  by ``format``/``version``. A reader refuses another format or a newer version.
- **a directory of query results**: ``summary``, ``by_request``, ``by_time``,
  ``by_client`` (and optionally ``samples``), each a ``.csv`` or ``.parquet`` file
  holding the result of the query of that name printed by ``proxylab audit sql`` (say,
  downloaded from the Athena console), with ``bucket_seconds`` taken from
  ``--bucket`` (the SQL's own bucket size).

Schema (version 1)::

    {"format": "proxylab.audit.aggregates", "version": 1, "engine": "spark",
     "bucket_seconds": 3600,
     "sources": [{"name", "format", "lines", "parsed", "malformed", "filtered", "error"}],
     "samples": [{"source", "line"}],
     "by_request": {"columns": ["hostport", "method", "cs", "requests", "bytes", "first",
                                "last"], "rows": [[...], ...]},
     "by_time": {"columns": ["hostport", "bucket", "requests", "bytes"], "rows": [...]},
     "by_client": {"columns": ["client", "requests", "bytes"], "rows": [...]}}

``first``/``last`` are epoch seconds (JSON numbers keep a float exactly); ``cs`` is
Squid's ``CODE/status``; ``bucket`` the start of a time bucket in epoch seconds.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from proxylab.audit.ingest import Aggregates, MalformedSample, SourceStats
from proxylab.errors import UserError

FORMAT = "proxylab.audit.aggregates"
VERSION = 1
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "by_request": {"hostport": pl.String, "method": pl.String, "cs": pl.String,
                   "requests": pl.Int64, "bytes": pl.Int64, "first": pl.Float64,
                   "last": pl.Float64},
    "by_time": {"hostport": pl.String, "bucket": pl.Int64, "requests": pl.Int64,
                "bytes": pl.Int64},
    "by_client": {"client": pl.String, "requests": pl.Int64, "bytes": pl.Int64},
}
QUERY_TABLES = ("summary", "by_request", "by_time", "by_client", "samples")


def typed(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """``df`` with exactly the columns and types of aggregate table ``table``."""
    schema = SCHEMAS[table]
    if df.height == 0:
        return pl.DataFrame(schema=schema)
    return df.select([pl.col(c).cast(t) for c, t in schema.items()])


def from_frames(frames: dict[str, pl.DataFrame], samples: pl.DataFrame | None,
                locations: Sequence[str] | str, bucket_seconds: int):
    """The audit SQL's results (:data:`QUERY_TABLES`, by name) as
    :class:`~proxylab.audit.ingest.Aggregates`: the in-process engine's types and orders;
    a listed source that had no line still gets its row."""
    summary = {r["source"]: r for r in frames["summary"].to_dicts() if "source" in r}
    names = ([locations] if isinstance(locations, str) else list(locations))
    if isinstance(locations, str) or any(n not in names for n in summary):
        names = sorted(summary)  # the engine named the files behind a glob/prefix
    stats = []
    for name in names:
        r = summary.get(name) or {}
        stats.append(SourceStats(name, lines=int(r.get("lines") or 0),
                                 parsed=int(r.get("parsed") or 0),
                                 malformed=int(r.get("malformed") or 0),
                                 filtered=int(r.get("filtered") or 0)))
    req = typed(frames["by_request"].rename({"first_ts": "first", "last_ts": "last"},
                                            strict=False), "by_request")
    return Aggregates(
        by_request=req.sort(["requests", "hostport"], descending=[True, False]),
        by_time=typed(frames["by_time"], "by_time").sort(["bucket", "hostport"]),
        by_client=typed(frames["by_client"], "by_client").sort(["requests", "client"],
                                                               descending=[True, False]),
        sources=stats,
        samples=[MalformedSample(r["source"], r["line"])
                 for r in (samples.to_dicts() if samples is not None else [])],
        bucket_seconds=bucket_seconds,
    )


def to_obj(agg: Aggregates, engine: str) -> dict:
    return {
        "format": FORMAT, "version": VERSION, "engine": engine,
        "bucket_seconds": agg.bucket_seconds,
        "sources": [dataclasses.asdict(s) for s in agg.sources],
        "samples": [dataclasses.asdict(s) for s in agg.samples],
        **{t: {"columns": list(SCHEMAS[t]),
               "rows": [list(r) for r in typed(getattr(agg, t), t).iter_rows()]}
           for t in SCHEMAS},
    }


def write(agg: Aggregates, path: str | Path, engine: str) -> Path:
    path = Path(path)
    text = json.dumps(to_obj(agg, engine), separators=(",", ":"))
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def from_obj(obj: dict, where: str = "aggregates") -> Aggregates:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise UserError(f"{where}: not a proxylab aggregates file (no \"format\": "
                        f"\"{FORMAT}\"); write one with proxylab audit --save-aggregates FILE")
    if not isinstance(obj.get("version"), int) or obj["version"] > VERSION:
        raise UserError(f"{where}: aggregates version {obj.get('version')!r}; this proxylab "
                        f"reads up to version {VERSION}: upgrade proxylab")
    tables = {}
    for t, schema in SCHEMAS.items():
        part = obj.get(t) or {}
        cols = part.get("columns")
        if cols != list(schema):
            raise UserError(f"{where}: table {t} has columns {cols!r}, expected {list(schema)}")
        tables[t] = pl.DataFrame(part.get("rows") or [], schema=schema, orient="row")
    fields = {f.name for f in dataclasses.fields(SourceStats)}
    return Aggregates(
        by_request=tables["by_request"].sort(["requests", "hostport"], descending=[True, False]),
        by_time=tables["by_time"].sort(["bucket", "hostport"]),
        by_client=tables["by_client"].sort(["requests", "client"], descending=[True, False]),
        sources=[SourceStats(**{k: v for k, v in s.items() if k in fields})
                 for s in obj.get("sources") or []],
        samples=[MalformedSample(s["source"], s["line"]) for s in obj.get("samples") or []],
        bucket_seconds=int(obj.get("bucket_seconds") or 3600),
    )


def read(path: str | Path, bucket_seconds: int = 3600) -> Aggregates:
    """An aggregates file, or a directory of the SQL's query results (see the module)."""
    path = Path(path)
    if path.is_dir():
        return _read_results(path, bucket_seconds)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the aggregates ({exc.strerror})") from None
    try:
        obj = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path}: not a JSON aggregates file ({exc})") from None
    return from_obj(obj, str(path))


def _read_results(d: Path, bucket_seconds: int) -> Aggregates:
    frames = {}
    for name in QUERY_TABLES:
        found = [p for p in (d / f"{name}.parquet", d / f"{name}.csv") if p.exists()]
        if not found:
            if name == "samples":
                continue
            raise UserError(f"{d}: no {name}.csv or {name}.parquet (the result of the "
                            f"`-- {name}` query of proxylab audit sql)")
        p = found[0]
        frames[name] = (pl.read_parquet(p) if p.suffix == ".parquet"
                        else pl.read_csv(p, infer_schema_length=None))
    return from_frames(frames, frames.pop("samples", None), str(d), bucket_seconds)
