"""Small display helpers so the notebooks stay a few lines per cell."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from proxylab.capture import find_captures
from proxylab.report import charts
from proxylab.report.document import _display, md_table
from proxylab.report.redact import Redactor


def capture_paths(captures: Iterable[str | Path] | str | None) -> list[Path]:
    """Papermill passes lists; a single string (a runs directory) is accepted too."""
    if captures is None:
        return []
    if isinstance(captures, (str, Path)):
        captures = [captures]
    return [Path(c) for c in captures]


def lab_from_captures(captures: Iterable[str | Path]) -> dict[str, Any] | None:
    caps = find_captures(*capture_paths(captures))
    return caps[-1].record.lab.to_dict() if caps else None


def lab_live(backend: str = "local", lab_name: str | None = None,
             bring_up: bool = False) -> dict[str, Any]:
    """Describe (and optionally bring up) a lab; needs what the backend needs (root locally)."""
    from proxylab.labs.registry import get_lab

    lab = get_lab(backend, **({"name": lab_name} if lab_name else {}))
    desc = lab.up() if bring_up else lab.describe()
    return desc.to_dict()


def show_lab(lab: dict[str, Any] | None, redact: Redactor | None = None) -> None:
    r = redact or (lambda x: x)
    if not lab:
        _display("No lab description: no captures given and no live lab described.")
        return
    places = md_table(["place", "stands for", "addresses", "routes"],
                      [[p.get("name"), r(p.get("stands_for")), r(", ".join(p.get("addresses", []))),
                        r("; ".join(p.get("routes", [])))] for p in lab.get("places", [])])
    services = md_table(["service", "place", "address", "healthy", "detail"],
                        [[s.get("name"), s.get("place"), r(s.get("address")), s.get("healthy"),
                          r(s.get("detail", ""))] for s in lab.get("services", [])])
    head = (f"**{lab.get('backend')}** lab `{lab.get('name')}` in {lab.get('region')} "
            f"(up: {lab.get('up')})")
    _display(f"{head}\n\n{places}\n\n{services}",
             charts.png(charts.topology(lab, redact=redact)))


def show_runs(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The captures as a table (scenario, status, when, where)."""
    caps = find_captures(*capture_paths(paths))
    df = pd.DataFrame([{
        "run_id": c.run_id,
        "scenario": c.record.scenario.id,
        "status": str(c.record.status),
        "started": pd.Timestamp(c.record.started_at, unit="s", tz="UTC"),
        "error": c.record.error,
        "path": str(c.path),
    } for c in caps])
    _display(md_table(["run", "scenario", "status", "started", "error"],
                      [[d.run_id, d.scenario, d.status, d.started, d.error]
                       for d in df.itertuples()]) if len(df) else "No captures.")
    return df
