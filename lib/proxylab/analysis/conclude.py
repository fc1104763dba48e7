"""The conclusion, computed from the classified routes - never written by hand.

For each target (S3, the web site, the regional API, the private API) the runs
split into "crossed the proxy" and "bypassed it". A condition *explains* the
split when it holds in exactly the bypassing scenarios. Candidate conditions are
the scenario's variables (set or not), its endpoint layout, and the client logic
itself (NO_PROXY matched the host the client decides on; the client chose a
direct connection). When several conditions explain the same split (the seed
sets NO_PROXY and AWS_ENDPOINT_URL_* together), the runs alone cannot separate
them; the counterfactual - the client logic re-run on the same variables minus
one - says which one the clients act on.

Conditions are :class:`Condition` values keyed by :class:`~proxylab.vocab.ConditionKind`;
the sentences that state them live in :mod:`proxylab.report.words`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from proxylab.analysis import predict
from proxylab.analysis.routes import PROXY_SIDE
from proxylab.capture import RunRecord
from proxylab.vocab import BypassBasis, Client, ConditionKind

TARGET_ORDER = ("s3", "web", "regional-api", "private-api")
TARGET_LABEL = {"s3": "S3", "web": "the web site", "regional-api": "the regional API",
                "private-api": "the private API"}
TARGET_STEPS = {"s3": ("s3_get", "s3_put"), "web": ("web",), "regional-api": ("api",),
                "private-api": ("api",)}
IGNORED_VARS = {"BUCKET_NAME", "SOURCE_KEY", "API_GATEWAY_URL", "WEB_URL", "STEP_TIMEOUT"}
LAYOUT_KEYS = ("s3_gateway", "execute_api_interface", "execute_api_private_dns")


@dataclass(frozen=True)
class Condition:
    """One candidate explanation of a split. ``variable`` for VAR_SET (as the
    scenario spells it) and NO_PROXY_MATCHED (always ``NO_PROXY``, so scenarios
    using ``no_proxy`` compare); ``client`` for the client-logic kinds; ``key`` for
    LAYOUT (an endpoint-layout field)."""

    kind: ConditionKind
    variable: str = ""
    client: Client | None = None
    key: str = ""

    def sort_key(self) -> tuple[str, str, str, str]:
        return (str(self.kind), self.variable, str(self.client or ""), self.key)


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
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)  # scen -> (route, outcome)
    explained_by: list[Condition] = field(default_factory=list)
    acting: list[str] = field(default_factory=list)  # variables the clients act on
    mixed: list[str] = field(default_factory=list)  # scenarios whose runs disagree
    reasons: dict[str, predict.Decision] = field(default_factory=dict)  # why it went direct

    @property
    def others(self) -> list[str]:
        """Variables that explain the split but whose removal changes nothing."""
        return [c.variable for c in self.explained_by
                if c.kind == ConditionKind.VAR_SET and c.variable not in self.acting]


@dataclass(frozen=True)
class Mismatch:
    """A step whose observed route differs from the clients' predicted one."""

    scenario: str
    step: str
    predicted: str
    observed: str


@dataclass
class Conclusion:
    findings: list[Finding]
    inconsistent_runs: list[str]
    prediction_mismatches: list[Mismatch]
    basis: BypassBasis | None = None  # what the partial bypasses depended on

    @property
    def bypassing(self) -> list[Finding]:
        return [f for f in self.findings if f.bypassed_in and f.crossed_in]

    @property
    def always_bypassed(self) -> list[Finding]:
        return [f for f in self.findings if f.bypassed_in and not f.crossed_in]

    @property
    def never_bypassed(self) -> list[Finding]:
        return [f for f in self.findings if not f.bypassed_in]

    @property
    def acting(self) -> list[str]:
        return sorted({a for f in self.bypassing for a in f.acting})

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [{**f.__dict__,
                              "explained_by": [c.__dict__ for c in f.explained_by],
                              "reasons": {s: str(d.reason) for s, d in f.reasons.items()}}
                             for f in self.findings],
                "inconsistent_runs": self.inconsistent_runs,
                "prediction_mismatches": [m.__dict__ for m in self.prediction_mismatches]}


def _conditions(env: dict[str, str], layout: dict[str, Any], step: str,
                resources: dict[str, str], url: str | None = None,
                runtime: str | None = None) -> set[Condition]:
    conds = {Condition(ConditionKind.VAR_SET, variable=k)
             for k, v in env.items() if v and k not in IGNORED_VARS}
    decision = predict.decide(step, env, resources, url=url, runtime=runtime)
    matched = (decision.match is not None if decision.client.node
               else predict.no_proxy_match(decision.compared, env) is not None)
    if matched:
        conds.add(Condition(ConditionKind.NO_PROXY_MATCHED, variable="NO_PROXY",
                            client=decision.client))
    if decision.proxy is None:
        # Whichever client it was: a catalogue mixing runtimes (seed-node) bypasses
        # through botocore's NO_PROXY in one run and the SDK v3's own agent in another,
        # and both are the client's own logic choosing direct (the reasons say which).
        conds.add(Condition(ConditionKind.CLIENT_DIRECT))
    conds |= {Condition(ConditionKind.LAYOUT, key=k) for k in LAYOUT_KEYS if layout.get(k)}
    return conds


def conclude(routes: pd.DataFrame, runs: pd.DataFrame, records: dict[str, RunRecord]) -> Conclusion:
    """Per-target findings and what the headline can claim."""
    if routes.empty:
        return Conclusion([], [], [])
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
        failed: dict[str, tuple[str, str]] = {}
        first_run: dict[str, str] = {}
        urls: dict[str, str] = {}
        for _, row in sub.iterrows():
            scen = str(row["scenario"])
            # the step's own URL: a port in it is part of what NO_PROXY is tested against
            url = row["url"] if "url" in row and not pd.isna(row["url"]) else None
            urls.setdefault(scen, url or f"https://{row['host']}/")
            side.setdefault(scen, set()).add(row["route"] not in PROXY_SIDE)
            first_run.setdefault(scen, str(row["run_id"]))
            if row["route"] in ("failed-at-proxy", "failed-direct") or row["outcome"] != "ok":
                failed.setdefault(scen, (str(row["route"]), str(row["outcome"])))
        mixed = sorted(s for s, v in side.items() if len(v) > 1)
        bypassed = [s for s, v in side.items() if v == {True}]
        crossed = [s for s, v in side.items() if v == {False}]
        f = Finding(target, TARGET_LABEL[target], bypassed, crossed, failed, mixed=mixed)
        step = TARGET_STEPS[target][0]
        conds_by_scen = {}
        for scen, run_id in first_run.items():
            rec = records[run_id]
            conds_by_scen[scen] = _conditions(env_by_run.get(run_id, {}), rec.layout.to_dict(),
                                              step, dict(rec.resources), urls.get(scen),
                                              rec.scenario.runtime)
        names = sorted({c for cs in conds_by_scen.values() for c in cs}, key=Condition.sort_key)
        if bypassed and crossed:
            explaining = [c for c in names
                          if all(c in conds_by_scen[s] for s in bypassed)
                          and not any(c in conds_by_scen[s] for s in crossed)]
            f.explained_by = _rank(explaining)
            if f.explained_by and f.explained_by[0].kind == ConditionKind.CLIENT_DIRECT:
                f.reasons = {s: predict.decide(step, env_by_run.get(first_run[s], {}),
                                               dict(records[first_run[s]].resources),
                                               url=urls.get(s),
                                               runtime=records[first_run[s]].scenario.runtime)
                             for s in bypassed}
            f.acting = _acting(f.explained_by, bypassed, first_run, records, env_by_run, step,
                               urls)
        findings.append(f)
    inconsistent = sorted(set(r.loc[r["route"] == "inconsistent", "run_id"].astype(str)))
    mism = r[(r["prediction_matches"] == False)]  # noqa: E712 - nullable boolean
    mismatches = [Mismatch(str(row["scenario"]), str(row["step"]), str(row["predicted_route"]),
                           str(row["route"])) for _, row in mism.iterrows()]
    return Conclusion(findings, inconsistent, mismatches, _basis(findings))


def _basis(findings: list[Finding]) -> BypassBasis | None:
    bypassing = [f for f in findings if f.bypassed_in and f.crossed_in]
    if not bypassing:
        return None
    if all(f.acting for f in bypassing):
        return BypassBasis.ACTING
    if all(f.acting or (f.explained_by[:1]
                        and f.explained_by[0].kind == ConditionKind.CLIENT_DIRECT)
           for f in bypassing):
        return BypassBasis.CLIENT_DIRECT
    return BypassBasis.SOME


def _rank(explaining: list[Condition]) -> list[Condition]:
    """Most specific first; drop what a more specific condition already implies.

    "NO_PROXY matched" implies "NO_PROXY was set" and "the client chose a direct
    connection"; a client-logic condition makes endpoint-layout coincidences moot
    (the layout decides where a direct connection lands, not whether it is made)."""
    matched = [c for c in explaining if c.kind == ConditionKind.NO_PROXY_MATCHED]
    direct = [c for c in explaining if c.kind == ConditionKind.CLIENT_DIRECT]
    was_set = [c for c in explaining if c.kind == ConditionKind.VAR_SET]
    layout = [c for c in explaining if c.kind == ConditionKind.LAYOUT]
    if matched:
        was_set = [c for c in was_set if c.variable.upper() != "NO_PROXY"]
        direct = []
    if matched or direct:
        layout = []
    return matched + direct + was_set + layout


def _acting(explaining: list[Condition], bypassed: list[str], first_run: dict[str, str],
            records: dict[str, RunRecord], env_by_run: dict[str, dict], step: str,
            urls: dict[str, str] | None = None) -> list[str]:
    """Of the variables that explain the split, those whose removal changes the
    clients' decision in every bypassing scenario (the counterfactual)."""
    out = []
    for cond in explaining:
        var = cond.variable
        if cond.kind not in (ConditionKind.VAR_SET, ConditionKind.NO_PROXY_MATCHED) or not var:
            continue
        changes = True
        for scen in bypassed:
            run_id = first_run[scen]
            env = dict(env_by_run.get(run_id, {}))
            resources = dict(records[run_id].resources)
            url = (urls or {}).get(scen)
            runtime = records[run_id].scenario.runtime
            before = predict.decide(step, env, resources, url=url, runtime=runtime).proxy
            for key in [k for k in env if k.upper() == var.upper()]:
                env.pop(key)
            after = predict.decide(step, env, resources, url=url, runtime=runtime).proxy
            changes = changes and (before is None) and (after is not None)
        if changes:
            out.append(var)
    return out
