"""Small display helpers so the notebooks stay a few lines per cell."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from proxylab.capture import find_captures
from proxylab.report import charts
from proxylab.report.document import _display, md_table, shown_runs, tables_dir  # noqa: F401
from proxylab.report.redact import Redactor
from proxylab.report.render import project_root, resolve  # noqa: F401 - for the notebooks

Captures = Iterable[str | Path] | str | Path | None

# What to do when a selection finds nothing (shown in the notebook, said by the CLI).
HOW_TO_CAPTURE = (
    "Make captures with `sudo make report` (the seed scenarios on the local lab) or "
    "`sudo .venv/bin/proxylab run --catalog seed`; they go to `data/runs/`. Or set "
    "`captures` to capture directories (or a runs directory), e.g. "
    "`captures = \"tests/fixtures/captures\"`."
)


def capture_paths(captures: Captures) -> list[Path]:
    """Papermill passes lists; a single string (a runs directory) is accepted too.
    Relative paths are taken from the project root, not the kernel's directory."""
    if captures is None:
        return []
    if isinstance(captures, (str, Path)):
        captures = [captures]
    return [resolve(c) for c in captures]


def select(captures: Captures = "data/runs", latest: bool = False,
           skipped: list[str] | None = None) -> list[str]:
    """The capture directories a notebook works on, as absolute paths.

    ``skipped``: when given, the reasons of captures that could not be read are
    appended to it (they are not in the returned list, so the report names them).

    ``latest``: keep only the newest run of each scenario from the most recent
    catalogue and lab backend (what a runs directory's newest ``make report`` wrote),
    so a ``data/runs/`` holding weeks of runs shows one coherent set. An empty
    selection is said in the notebook, with the command that makes captures."""
    paths = capture_paths(captures)
    missing = [p for p in paths if not p.exists()]
    with warnings.catch_warnings():
        if skipped is not None:  # the caller shows them (a warning in a report cell would
            warnings.simplefilter("ignore")  # print local paths as stderr)
        caps = (find_captures(*[p for p in paths if p.exists()], skipped=skipped)
                if len(missing) < len(paths) else [])
    if latest and caps:
        caps = latest_set(caps)
    if not caps:
        where = ", ".join(f"`{p}`" for p in paths) or "(nothing given)"
        why = f" (no such directory: {', '.join(f'`{p}`' for p in missing)})" if missing else ""
        _display(f"**No captures found** in {where}{why}.\n\n{HOW_TO_CAPTURE}")
    return [str(c.path) for c in caps]


def latest_set(caps: list[Any]) -> list[Any]:
    """The newest run per scenario among captures of the newest capture's catalogue and
    backend (``find_captures`` returns them oldest first)."""
    def key(c: Any) -> tuple[str, str]:
        return (c.record.catalog, c.record.lab.backend)

    newest = key(caps[-1])
    by_scenario: dict[str, Any] = {}
    for c in caps:
        if key(c) == newest:
            by_scenario[c.record.scenario.id or c.run_id] = c
    return sorted(by_scenario.values(), key=lambda c: (c.record.started_at, c.run_id))


def lab_from_captures(captures: Iterable[str | Path]) -> dict[str, Any] | None:
    paths = capture_paths(captures)  # none given: none found (not the default runs dir)
    caps = find_captures(*paths) if paths else []
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
    given = capture_paths(paths)
    caps = find_captures(*given) if given else []
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
