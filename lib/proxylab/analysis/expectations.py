"""A scenario's optional ``expect`` block, checked item by item against the tables.

The runner prints a quick verdict right after each run
(:mod:`proxylab.scenarios.expect`); this is the report's version: one row per
expected item with what was expected and what the parsed evidence shows, so a
reader sees *which* expectation failed and by how much.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from proxylab.logs.base import typed
from proxylab.logs.tables import Tables

COLUMNS = {"run_id": "category", "scenario": "category", "check": "string",
           "expected": "string", "observed": "string", "ok": "boolean"}


def _resolve(value: str, resources: dict[str, str]) -> str:
    try:
        from proxylab.scenarios.model import resolve_text

        return resolve_text(value, resources).lower()
    except (ImportError, KeyError):
        return value.lower()


def evaluate(tables: Tables) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for run_id, record in tables.records.items():
        rec = record.to_dict()
        scen = rec.get("scenario") or {}
        exp = scen.get("expect")
        if not exp:
            continue
        res = (rec.get("lab") or {}).get("resources") or {}
        sid = scen.get("id", "")

        def add(check: str, expected: str, observed: str, ok: bool,
                run_id: str = run_id, sid: str = sid) -> None:
            rows.append({"run_id": run_id, "scenario": sid, "check": check,
                         "expected": expected, "observed": observed, "ok": ok})

        pr = tables.proxy_requests[tables.proxy_requests["run_id"] == run_id]
        seen = sorted({h for h in pr["host"].dropna()})
        seen_hp = {f"{h}:{p}" for h, p in zip(pr["host"], pr["port"], strict=False)
                   if not pd.isna(h) and not pd.isna(p)}
        if exp.get("status") is not None:
            add("status", exp["status"], rec.get("status", ""), rec.get("status") == exp["status"])
        if exp.get("crosses_proxy") is not None:
            want = sorted({_resolve(h, res) for h in exp["crosses_proxy"]})
            norm = sorted({w if w in seen or w not in seen_hp else w.rsplit(":", 1)[0]
                           for w in want})
            add("crosses proxy (exactly)", ", ".join(want), ", ".join(seen) or "(none)",
                set(norm) == set(seen))
        for h in exp.get("bypasses_proxy") or []:
            host = _resolve(h, res)
            crossed = host in seen or host in seen_hp
            add(f"bypasses proxy: {host}", "not in Squid's log",
                "in Squid's log" if crossed else "not in Squid's log", not crossed)
        steps = tables.steps[tables.steps["run_id"] == run_id]
        got_steps = {str(s): str(o) for s, o in zip(steps["step"], steps["outcome"], strict=False)}
        for step, outcome in (exp.get("steps") or {}).items():
            got = got_steps.get(step, "no step line")
            add(f"step {step}", outcome, got, got == outcome)
        hits = tables.service_hits[tables.service_hits["run_id"] == run_id]
        for service, via in (exp.get("services") or {}).items():
            vias = sorted({str(v) for v in hits.loc[hits["service"] == service, "via"]})
            add(f"{service} arrived via", via, ", ".join(vias) or "(no request)", vias == [via])
    return typed(pd.DataFrame(rows, columns=list(COLUMNS)), dict(COLUMNS))
