"""The conclusion, computed from the classified routes - never written by hand.

For each target (S3, the web site, the regional API, the private API) the runs
split into "crossed the proxy" and "bypassed it". A condition *explains* the
split when it holds in exactly the bypassing scenarios. Candidate conditions are
the scenario's variables (set or not), its endpoint layout, and the client logic
itself ("NO_PROXY matched the host the client decides on"). When several
conditions explain the same split (the seed sets NO_PROXY and AWS_ENDPOINT_URL_*
together), the runs alone cannot separate them; the counterfactual - the client
logic re-run on the same variables minus one - says which one the clients act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from proxylab.analysis import predict
from proxylab.analysis.routes import PROXY_SIDE
from proxylab.capture import RunRecord

TARGET_ORDER = ("s3", "web", "regional-api", "private-api")
TARGET_LABEL = {"s3": "S3", "web": "the web site", "regional-api": "the regional API",
                "private-api": "the private API"}
TARGET_STEPS = {"s3": ("s3_get", "s3_put"), "web": ("web",), "regional-api": ("api",),
                "private-api": ("api",)}
DIRECT = "the client's own proxy logic chose a direct connection"
IGNORED_VARS = {"BUCKET_NAME", "SOURCE_KEY", "API_GATEWAY_URL", "WEB_URL", "STEP_TIMEOUT"}


def target_of(step: str, function: str) -> str:
    if step.startswith("s3"):
        return "s3"
    if step == "api":
        return "private-api" if function == "private" else "regional-api"
    return step


@dataclass
class Finding:
    """One target's result across scenarios."""

    target: str
    label: str
    bypassed_in: list[str]
    crossed_in: list[str]
    failed: dict[str, str] = field(default_factory=dict)  # scenario -> route/outcome
    explained_by: list[str] = field(default_factory=list)
    acting: list[str] = field(default_factory=list)  # conditions the clients act on
    mixed: list[str] = field(default_factory=list)  # scenarios whose runs disagree
    reasons: dict[str, str] = field(default_factory=dict)  # scenario -> why it went direct
    sentence: str = ""


@dataclass
class Conclusion:
    headline: str
    findings: list[Finding]
    inconsistent_runs: list[str]
    prediction_mismatches: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"headline": self.headline, "findings": [f.__dict__ for f in self.findings],
                "inconsistent_runs": self.inconsistent_runs,
                "prediction_mismatches": self.prediction_mismatches}


def _conditions(env: dict[str, str], layout: dict[str, Any], step: str,
                resources: dict[str, str], url: str | None = None) -> dict[str, bool]:
    conds = {f"{k} was set": True for k, v in env.items() if v and k not in IGNORED_VARS}
    decision = predict.decide(step, env, resources, url=url)
    # Named NO_PROXY whatever the variable's case, so scenarios using no_proxy compare.
    conds[f"NO_PROXY matched the host {_client(step)} decides on"] = (
        predict.matching_entry(decision.decision_host, env) is not None)
    conds[DIRECT] = decision.proxy is None
    for key in ("s3_gateway", "execute_api_interface", "execute_api_private_dns"):
        if layout.get(key):
            conds[f"the layout had {key.replace('_', ' ')}"] = True
    return conds


def _client(step: str) -> str:
    return "botocore" if predict.STEP_CLIENTS.get(step) == "botocore" else "urllib"


def conclude(routes: pd.DataFrame, runs: pd.DataFrame, records: dict[str, RunRecord]) -> Conclusion:
    """Per-target findings and a one-paragraph headline."""
    if routes.empty:
        return Conclusion("No probe steps were captured, so there is nothing to conclude.",
                          [], [], [])
    r = routes.copy()
    r["target"] = [target_of(str(s), str(f)) for s, f in zip(r["step"], r["function"],
                                                              strict=False)]
    env_by_run = {rid: dict(rec.env) for rid, rec in records.items()}
    findings: list[Finding] = []
    for target in [t for t in TARGET_ORDER if t in set(r["target"])]:
        sub = r[(r["target"] == target) & (r["route"] != "inconsistent")]
        if sub.empty:
            continue
        side: dict[str, set[bool]] = {}
        failed: dict[str, str] = {}
        first_run: dict[str, str] = {}
        urls: dict[str, str] = {}
        for _, row in sub.iterrows():
            scen = str(row["scenario"])
            urls.setdefault(scen, f"https://{row['host']}/")
            side.setdefault(scen, set()).add(row["route"] not in PROXY_SIDE)
            first_run.setdefault(scen, str(row["run_id"]))
            if row["route"] in ("failed-at-proxy", "failed-direct") or row["outcome"] != "ok":
                failed.setdefault(scen, f"{row['route']}, {row['outcome']}")
        mixed = sorted(s for s, v in side.items() if len(v) > 1)
        bypassed = [s for s, v in side.items() if v == {True}]
        crossed = [s for s, v in side.items() if v == {False}]
        f = Finding(target, TARGET_LABEL[target], bypassed, crossed, failed, mixed=mixed)
        step = TARGET_STEPS[target][0]
        conds_by_scen = {}
        for scen, run_id in first_run.items():
            rec = records[run_id]
            layout = rec.layout.to_dict()
            resources = dict(rec.resources)
            conds_by_scen[scen] = _conditions(env_by_run.get(run_id, {}), layout, step, resources,
                                              urls.get(scen))
        names = sorted({c for cs in conds_by_scen.values() for c in cs})
        if bypassed and crossed:
            explaining = [c for c in names
                          if all(conds_by_scen[s].get(c, False) for s in bypassed)
                          and not any(conds_by_scen[s].get(c, False) for s in crossed)]
            f.explained_by = _rank(explaining)
            if f.explained_by and f.explained_by[0] == DIRECT:
                f.reasons = {s: _direct_reason(first_run[s], records, env_by_run, step,
                                               urls.get(s)) for s in bypassed}
            f.acting = _acting(f.explained_by, bypassed, first_run, records, env_by_run, step,
                               urls)
        f.sentence = _sentence(f)
        findings.append(f)
    inconsistent = sorted(set(r.loc[r["route"] == "inconsistent", "run_id"].astype(str)))
    mism = r[(r["prediction_matches"] == False)]  # noqa: E712 - nullable boolean
    mismatches = [f"{row['scenario']} {row['step']}: predicted {row['predicted_route']}, "
                  f"observed {row['route']}" for _, row in mism.iterrows()]
    return Conclusion(_headline(findings), findings, inconsistent, mismatches)


def _rank(explaining: list[str]) -> list[str]:
    """Most specific first; drop what a more specific condition already implies.

    "NO_PROXY matched" implies "NO_PROXY was set" and "the client chose a direct
    connection"; a client-logic condition makes endpoint-layout coincidences moot
    (the layout decides where a direct connection lands, not whether it is made)."""
    matched = [c for c in explaining if " matched the host " in c]
    direct = [c for c in explaining if c == DIRECT]
    was_set = [c for c in explaining if c.endswith(" was set")]
    layout = [c for c in explaining if c.startswith("the layout had ")]
    if matched:
        was_set = [c for c in was_set if c.upper() != "NO_PROXY WAS SET"]
        direct = []
    if matched or direct:
        layout = []
    return matched + direct + was_set + layout


def _direct_reason(run_id: str, records: dict[str, RunRecord], env_by_run: dict[str, dict],
                   step: str, url: str | None) -> str:
    resources = dict(records[run_id].resources)
    why = predict.decide(step, env_by_run.get(run_id, {}), resources, url=url).why
    return why.split(", so ")[0].split("; ")[-1]


def _acting(explaining: list[str], bypassed: list[str], first_run: dict[str, str],
            records: dict[str, RunRecord], env_by_run: dict[str, dict], step: str,
            urls: dict[str, str] | None = None) -> list[str]:
    """Of the variables that explain the split, those whose removal changes the
    clients' decision in every bypassing scenario (the counterfactual)."""
    out = []
    for cond in explaining:
        var = _var_of(cond)
        if var is None:
            continue
        changes = True
        for scen in bypassed:
            run_id = first_run[scen]
            env = dict(env_by_run.get(run_id, {}))
            resources = dict(records[run_id].resources)
            url = (urls or {}).get(scen)
            before = predict.decide(step, env, resources, url=url).proxy
            for key in [k for k in env if k.upper() == var.upper()]:
                env.pop(key)
            after = predict.decide(step, env, resources, url=url).proxy
            changes = changes and (before is None) and (after is not None)
        if changes:
            out.append(var)
    return out


def _var_of(cond: str) -> str | None:
    """The variable a condition is about (None for layout conditions)."""
    if cond.endswith(" was set"):
        return cond[: -len(" was set")]
    if " matched the host " in cond:
        return cond.split(" matched the host ")[0]
    return None


def _sentence(f: Finding) -> str:
    label = f.label[0].upper() + f.label[1:]
    if not f.bypassed_in:
        text = (f"{label} crossed the proxy in every scenario that called it "
                f"({', '.join(f.crossed_in)})")
    elif not f.crossed_in:
        text = (f"{label} bypassed the proxy in every scenario that called it "
                f"({', '.join(f.bypassed_in)})")
    else:
        text = f"{label} bypassed the proxy only in {', '.join(f.bypassed_in)}"
        if f.explained_by and f.reasons:
            text += " - exactly where " + _join(f.explained_by) + " (" + "; ".join(
                f"{s}: {r}" for s, r in f.reasons.items()) + ")"
        elif f.explained_by:
            text += " - exactly where " + _join(f.explained_by)
            if f.acting and len(f.explained_by) > 1:
                others = [v for v in (_var_of(c) for c in f.explained_by)
                          if v is not None and v not in f.acting]
                if others:
                    text += (f". These runs cannot separate them, but the clients' own logic "
                             f"acts on {_join(f.acting)} only: without "
                             f"{_join(others)} the decision is unchanged")
        else:
            text += " - no single variable or layout setting explains the split"
    if f.failed:
        text += ". It failed in " + ", ".join(f"{s} ({v})" for s, v in f.failed.items())
    if f.mixed:
        text += f". Repeated runs disagreed in {', '.join(f.mixed)}"
    return text + "."


def _join(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _headline(findings: list[Finding]) -> str:
    bypassing = [f for f in findings if f.bypassed_in and f.crossed_in]
    always = [f for f in findings if f.bypassed_in and not f.crossed_in]
    never = [f for f in findings if not f.bypassed_in]
    parts = []
    if bypassing:
        acts = sorted({a for f in bypassing for a in f.acting})
        what = _join([f.label for f in bypassing])
        if all(f.acting for f in bypassing):
            cond = f" when {_join(acts)} matched them"
        elif all(f.explained_by[:1] == [DIRECT] or f.acting for f in bypassing):
            cond = " where the clients' own proxy logic chose a direct connection"
        else:
            cond = " in some scenarios"
        where = "; ".join(f"{f.label}: {', '.join(f.bypassed_in)}" for f in bypassing)
        only = "" if cond == " in some scenarios" else " only"
        parts.append(f"{what[0].upper() + what[1:]} bypassed the proxy{only}{cond} ({where})")
    if always:
        parts.append(_join([f.label for f in always]) + " never used the proxy")
    if never:
        parts.append(_join([f.label for f in never]) + " always crossed the proxy")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]
