"""Runs that say the same thing: the report's summary view for large capture sets.

A set of hundreds of runs is mostly repeats: the same scenario, the same route and
outcome for every step. Two runs are *alike* when they ran the same scenario, ended
with the same status and error, and every step has the same host, route, endpoint
kind, outcome, prediction match and flags. The report details one run of each group
(its table, reasons, excerpt and timeline) and names the others, so the page grows
with what differs, not with the number of repeats; and every run is still counted
in the distribution (:func:`distribution`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Which columns of ``routes`` decide that two runs' steps say the same.
SIGNATURE = ("step", "host", "route", "endpoint_kind", "route_guess", "outcome",
             "prediction_matches", "flag")


@dataclass(frozen=True)
class RunGroup:
    """Alike runs in capture order; ``shown`` is the first, the one detailed."""

    scenario: str
    runs: tuple[str, ...]

    @property
    def shown(self) -> str:
        return self.runs[0]

    @property
    def others(self) -> tuple[str, ...]:
        return self.runs[1:]


def groups(routes: pd.DataFrame, runs: pd.DataFrame) -> list[RunGroup]:
    """The runs of ``runs`` (in its order) grouped by what they show."""
    sig = routes[["run_id", *SIGNATURE]].astype("string").fillna("\0")
    per_run = (sig.drop(columns="run_id").agg("\x1f".join, axis=1)
               .groupby(sig["run_id"], sort=False).agg("\x1e".join)) if len(sig) else \
        pd.Series(dtype="string")
    order: dict[tuple[str, ...], list[str]] = {}
    scenario: dict[tuple[str, ...], str] = {}
    for run in runs.itertuples(index=False):
        rid = str(run.run_id)
        key = (str(run.scenario), str(run.status), "" if pd.isna(run.error) else str(run.error),
               str(per_run.get(rid, "")))
        order.setdefault(key, []).append(rid)
        scenario[key] = str(run.scenario)
    return [RunGroup(scenario[k], tuple(v)) for k, v in order.items()]


def distribution(routes: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and step over all runs: runs, hosts, and the count of each route
    and each outcome (``{"proxy": 99, "failed-at-proxy": 1}``), in first-seen order."""
    if routes.empty:
        return pd.DataFrame(columns=["scenario", "step", "runs", "hosts", "routes", "outcomes"])
    r = routes.assign(scenario=routes["scenario"].astype(str), step=routes["step"].astype(str))
    out = []
    for (scen, step), g in r.groupby(["scenario", "step"], sort=False):
        out.append({"scenario": scen, "step": step, "runs": g["run_id"].nunique(),
                    "hosts": list(dict.fromkeys(g["host"].astype(str))),
                    "routes": g["route"].astype(str).value_counts(sort=False).to_dict(),
                    "outcomes": g["outcome"].astype(str).value_counts(sort=False).to_dict()})
    return pd.DataFrame(out)
