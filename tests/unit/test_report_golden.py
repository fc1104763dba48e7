"""The seed report's derived tables and facts, pinned: whatever makes the report
faster (a tables cache, one parse for both notebooks, vectorised classification, a
summary view for large sets) must leave every table, every fact and every stated
sentence's facts exactly as they were.

The golden file was written by the report pipeline as it stood before issue 16
(``PROXYLAB_REGOLD=1 pytest tests/unit/test_report_golden.py`` rewrites it; do that
only for a change that is meant to alter what the report says, and say so).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "captures"
GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "seed_report.json"
DAMAGED = ROOT / "tests" / "fixtures" / "golden" / "damaged_report.json"
# A Node.js run: two clients of one run reach one host by different rules (fetch
# direct, https.request through the proxy), the case routes._assign_hits settles.
NODE = ROOT / "tests" / "fixtures" / "node-captures"
NODE_GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "node_report.json"
# Lines appended to every fixture capture's files for the damaged set: malformed lines
# of every reader, so the golden covers the set-aside path too.
BAD_LINES = {
    "services.log": 'garbage line\n\n{"ts": "x"}\n',
    "function.log": 'START RequestId: broken\nREPORT RequestId\n{"proxylab":"step","step":\n',
    "proxy_access.log": "1795534330.000 bad squid line\n",
    "dns.log": "lambda-vpc\tNov 24 15:32:10 dnsmasq[1]: query[A] \n",
}
TABLES = ("runs", "proxy_requests", "function_events", "invocations", "dns_queries",
          "service_hits", "malformed")


def frame_digest(df: pd.DataFrame) -> dict[str, Any]:
    """A frame as plain JSON: columns, dtypes, category lists in order, every value."""
    df = df.copy()
    if "path" in df.columns:  # where the checkout is, not what the capture says
        df["path"] = [Path(str(p)).name for p in df["path"]]
    cats = {c: [str(x) for x in df[c].cat.categories] for c in df.columns
            if isinstance(df[c].dtype, pd.CategoricalDtype)}
    return {"columns": list(df.columns), "dtypes": [str(t) for t in df.dtypes],
            "index": [str(i) for i in df.index], "categories": cats,
            "rows": [[None if pd.isna(v) else str(v) for v in row]
                     for row in df.itertuples(index=False)]}


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple, frozenset, set)):
        items = [_plain(x) for x in obj]
        return sorted(items, key=repr) if isinstance(obj, (set, frozenset)) else items
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    return str(obj)


def digest(paths: list[Path]) -> dict[str, Any]:
    """Everything the report derives from ``paths``: the tables, the analysis (frames
    and typed facts), and the facts behind every sentence of every section."""
    from proxylab.report.document import Report

    doc = Report.load(paths, lang="en")
    a = doc.analysis
    sections = ["title", "question", "answer", "setup", "matrix", "checks", "quality", "method"]
    for name in sections:
        getattr(doc, f"{name}_md")()
    for rid in doc.runs["run_id"].astype(str):
        if (a.routes["run_id"] == rid).any():
            doc.run_md(rid)
        else:
            doc.no_steps_md(rid)
    return {
        "tables": {n: frame_digest(getattr(a.tables, n)) for n in TABLES},
        "skipped": [Path(m.split(":")[0]).name for m in a.tables.skipped],
        "routes": frame_digest(a.routes),
        "evidence": frame_digest(a.evidence),
        "expectations": frame_digest(a.expectations),
        "facts": _plain(a.facts),
        "conclusion": _plain(a.conclusion),
        "checks": _plain(a.checks),
        "said": sorted(_plain(s.facts) for s in doc.said),
    }


def _captures() -> list[Path]:
    return sorted(p for p in FIX.iterdir() if (p / "run.json").exists())


def test_seed_report_derives_what_it_always_did():
    got = json.loads(json.dumps(digest(_captures())))
    if os.environ.get("PROXYLAB_REGOLD"):
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for key in want:
        assert got[key] == want[key], f"{key} differs from the golden report"
    assert set(got) == set(want)


def test_damaged_captures_derive_what_they_always_did(tmp_path):
    """The same with malformed lines in every file (written by main's pipeline too)."""
    import shutil

    dest = tmp_path / "bad"
    shutil.copytree(FIX, dest)
    for cap in dest.iterdir():
        for name, text in BAD_LINES.items():
            f = cap / name
            if f.exists():
                f.chmod(0o644)
                with f.open("a", encoding="utf-8") as fh:
                    fh.write(text)
    got = json.loads(json.dumps(digest(sorted(dest.iterdir()))))
    if os.environ.get("PROXYLAB_REGOLD"):
        DAMAGED.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    want = json.loads(DAMAGED.read_text(encoding="utf-8"))
    assert len(want["tables"]["malformed"]["rows"]) == 44
    for key in want:
        assert got[key] == want[key], f"{key} differs from the golden report"


def test_node_captures_derive_what_they_always_did():
    got = json.loads(json.dumps(digest(sorted(NODE.iterdir()))))
    if os.environ.get("PROXYLAB_REGOLD"):
        NODE_GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n",
                               encoding="utf-8")
    want = json.loads(NODE_GOLDEN.read_text(encoding="utf-8"))
    assert want["routes"]["rows"]
    for key in want:
        assert got[key] == want[key], f"{key} differs from the golden report"


@pytest.mark.parametrize("name", TABLES)
def test_golden_tables_are_not_empty_where_the_seed_has_rows(name):
    """The oracle has teeth: the fixture's tables hold rows (malformed may be empty)."""
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert name == "malformed" or want["tables"][name]["rows"]
