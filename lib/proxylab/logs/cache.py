"""The derived tables of a capture set, parsed once and kept as Parquet.

A report parses the same captures in notebook 03 and again in 04, and a user renders
the same set again in another language or after a wording change: parsing is the
larger part of the cost for hundreds of runs. ``data/tables/<key>/`` keeps the
frames :func:`~proxylab.logs.tables.load_tables` built, one Parquet file per table
and ``meta.json`` with the exact dtypes (Parquet round-trips values and category
order, not pandas' category dtype spelling, so the dtypes are restored from it).

The key is a sha256 over what decides the frames: every capture's directory as the
``path`` column records it, its run.json and raw files *as they are now* (a file
edited after the capture gets parsed afresh; ``run.json`` records the checksums of
when it was written, which the report compares separately), and the source of the
code that parses (``logs/``, ``grammar/``, ``capture.py``, ``vocab.py``), so a
changed parser never reads an old cache. An unreadable or partial entry is parsed
again and rewritten, never an error: the cache only ever saves time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from proxylab.capture import RAW_FILES, Capture

FORMAT = 1
TABLES = ("runs", "proxy_requests", "function_events", "invocations", "dns_queries",
          "service_hits", "malformed")
KEEP = 12  # entries kept per cache directory (the newest by use)
META = "meta.json"


def default_dir() -> Path:
    """``PROXYLAB_TABLES`` or ``data/tables`` (relative: the caller resolves it)."""
    return Path(os.environ.get("PROXYLAB_TABLES", "data/tables"))


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 of the parsing code's source: a new parser means a new key."""
    pkg = Path(__file__).resolve().parents[1]
    files = sorted([*(pkg / "logs").glob("*.py"), *(pkg / "grammar").glob("*.py"),
                    pkg / "capture.py", pkg / "vocab.py"])
    h = hashlib.sha256(f"format {FORMAT}".encode())
    for f in files:
        h.update(f.name.encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def key(captures: Iterable[Capture]) -> str:
    """The cache key of a capture set, in the order the tables hold it."""
    h = hashlib.sha256(code_fingerprint().encode())
    for cap in captures:
        h.update(b"\0capture\0" + str(cap.path).encode())
        for name in ("run.json", *RAW_FILES):
            p = cap.path / name
            try:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            except FileNotFoundError:
                digest = "-"
            h.update(f"\0{name}\0{digest}".encode())
    return h.hexdigest()[:32]


def _dtype_of(s: pd.Series) -> dict[str, str]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return {"kind": "category", "categories": str(s.cat.categories.dtype)}
    return {"kind": str(s.dtype)}


def _restore(df: pd.DataFrame, dtypes: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The dtypes the frames had when written (category order comes from Parquet)."""
    for col, want in dtypes.items():
        s = df[col]
        if want["kind"] == "category":
            if isinstance(s.dtype, pd.CategoricalDtype):
                codes, cats = s.cat.codes.to_numpy(), list(s.cat.categories)
            else:  # an empty category column comes back as nulls
                codes, cats = [-1] * len(s), []
            df[col] = pd.Categorical.from_codes(
                codes, categories=pd.Index(cats, dtype=want["categories"]))
        elif str(s.dtype) != want["kind"]:
            df[col] = s.astype(want["kind"])
    return df[list(dtypes)]


def read(cache_dir: Path, entry: str) -> dict[str, pd.DataFrame] | None:
    """The frames of one entry, or None when it is absent or cannot be read whole."""
    d = cache_dir / entry
    try:
        meta = json.loads((d / META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("key") != entry:
            return None
        frames = {name: _restore(pd.read_parquet(d / f"{name}.parquet"), meta["dtypes"][name])
                  for name in TABLES}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    with contextlib.suppress(OSError):
        os.utime(d / META)  # newest by use: what pruning keeps
    return frames


def write(cache_dir: Path, entry: str, frames: dict[str, pd.DataFrame]) -> Path | None:
    """Write one entry whole or not at all (a temporary directory renamed into place);
    None when the directory cannot be written (a read-only checkout still reports)."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry}-", dir=cache_dir))
    except OSError:
        return None
    try:
        for name in TABLES:
            frames[name].to_parquet(tmp / f"{name}.parquet", index=False)
        meta = {"format": FORMAT, "key": entry,
                "dtypes": {n: {c: _dtype_of(frames[n][c]) for c in frames[n].columns}
                           for n in TABLES}}
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        final = cache_dir / entry
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    except (OSError, ValueError, TypeError):  # ValueError/TypeError: pyarrow refusing a value
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    prune(cache_dir)
    return final


def prune(cache_dir: Path, keep: int = KEEP) -> None:
    """Keep the ``keep`` entries used last; a report of many sets never fills a disk."""
    entries = [d for d in cache_dir.iterdir() if d.is_dir() and (d / META).exists()]
    entries.sort(key=lambda d: (d / META).stat().st_mtime, reverse=True)
    for d in entries[keep:]:
        shutil.rmtree(d, ignore_errors=True)
