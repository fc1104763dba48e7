"""Python and Node.js runs of the same scenario, side by side, as facts.

Two scenarios pair when they differ only in their runtime: the same function, the
same endpoint layout and the same variables (as the function got them). Each Node
step is set beside the Python step that calls the same thing (``web_https`` is the
web call made with ``https.request`` instead of ``fetch``), with the route each
took and the client that decided it - the same variables, different routes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from proxylab.capture import RunRecord
from proxylab.vocab import Runtime, parse_enum

# The Python probe step a Node probe step corresponds to.
PYTHON_STEP = {"s3_get": "s3_get", "s3_put": "s3_put", "web": "web", "api": "api",
               "web_https": "web", "api_https": "api"}


@dataclass(frozen=True)
class PairedStep:
    python_step: str
    node_step: str
    python_route: str
    node_route: str
    python_client: str
    node_client: str

    @property
    def differs(self) -> bool:
        return self.python_route != self.node_route


@dataclass(frozen=True)
class RuntimePair:
    python: str  # scenario ids
    node: str
    runtime: str  # the Node scenario's runtime
    steps: tuple[PairedStep, ...]


def _is_node(record: RunRecord) -> bool:
    rt = parse_enum(Runtime, record.scenario.runtime)
    return rt is not None and rt.node_major is not None


def _same_setup(a: RunRecord, b: RunRecord) -> bool:
    return (a.scenario.function == b.scenario.function
            and a.scenario.endpoints == b.scenario.endpoints
            and dict(a.env) == dict(b.env))


def _route(row: pd.Series) -> str:
    route = str(row["route"])
    if route == "endpoint" and not pd.isna(row["endpoint_kind"]):
        return f"endpoint ({row['endpoint_kind']})"
    return route


def pairs(records: dict[str, RunRecord], routes: pd.DataFrame) -> list[RuntimePair]:
    """Every Python scenario with a Node twin, in catalogue (first run) order; each
    scenario's first run stands for it."""
    first: dict[str, RunRecord] = {}
    for rec in records.values():
        first.setdefault(rec.scenario.id, rec)
    by_run = {rid: grp for rid, grp in routes.groupby(routes["run_id"].astype(str),
                                                       observed=True)}
    python = [r for r in first.values() if not _is_node(r)]
    node = [r for r in first.values() if _is_node(r)]
    out = []
    for py in python:
        for nd in node:
            if not _same_setup(py, nd) or py.run_id not in by_run or nd.run_id not in by_run:
                continue
            py_rows = {str(r["step"]): r for _, r in by_run[py.run_id].iterrows()}
            steps = []
            for _, r in by_run[nd.run_id].iterrows():
                p = py_rows.get(PYTHON_STEP.get(str(r["step"]), ""))
                if p is None:
                    continue
                steps.append(PairedStep(str(p["step"]), str(r["step"]), _route(p), _route(r),
                                        str(p["client"]), str(r["client"])))
            out.append(RuntimePair(py.scenario.id, nd.scenario.id, str(nd.scenario.runtime),
                                   tuple(steps)))
    return out
