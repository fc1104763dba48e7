"""The expectation checker: a scenario's ``expect`` block against a capture's tables.

The one checker: the runner calls it on each capture right after writing it (the
progress line, ``proxylab run --json``), the report through :func:`evaluate`. Both
therefore give the same verdict for the same capture. It reads the expectation the
capture recorded (``run.json``), resolved against the lab resources recorded
beside it, and the parsed tables of :mod:`proxylab.logs` (no parser of its own).

Each expected item becomes one :class:`CheckedItem` with a :class:`Verdict`. An
item is ``UNCHECKED`` (never ``FAILED``) when the capture cannot tell: the lab
keeps no log of that service front (:meth:`RunRecord.logs_front`, the one rule),
the capture notes the file holding the evidence as missing or partial
(:meth:`RunRecord.evidence_gaps`), or the expectation names a resource the lab
lacks. A Squid line that contradicts the expectation is ``FAILED`` even in a
partial proxy log: a line that is there was seen. A service front the run cannot
log is unchecked whatever services.log holds.

Words are not made here: :func:`describe` is the CLI's short English line; the
report words the items from their typed fields (kind, subject, verdict, reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from proxylab.capture import RunRecord
from proxylab.logs.base import typed
from proxylab.logs.tables import Tables
from proxylab.scenarios.model import Expectation, resolve_text
from proxylab.vocab import CheckKind, UncheckedReason, Verdict

COLUMNS = {"run_id": "category", "scenario": "category", "check": "string",
           "expected": "string", "observed": "string", "ok": "boolean",
           "verdict": "category", "kind": "category", "subject": "string",
           "reason": "category"}
PROXY_LOG, SERVICES_LOG, FUNCTION_LOG = "proxy_access.log", "services.log", "function.log"


@dataclass(frozen=True)
class CheckedItem:
    """One expected item of one run and what the capture shows of it.

    ``subject``: the step, service or host the item is about (None for status and
    crosses_proxy). ``expected``/``observed``: a status, outcome or via, or host
    tuples for the proxy kinds (``observed`` None: nothing seen). For
    crosses_proxy, ``missing`` are the expected hosts Squid did not log and
    ``unexpected`` the hosts it logged that were not expected."""

    run_id: str
    scenario: str
    kind: CheckKind
    subject: str | None
    expected: str | tuple[str, ...] | None
    observed: str | tuple[str, ...] | None
    verdict: Verdict
    reason: UncheckedReason | None = None
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """A short name of the item (``step api``, ``service s3``): a label, not a key."""
        name = {CheckKind.SERVICE_VIA: "service", CheckKind.CROSSES_PROXY: "proxy",
                CheckKind.BYPASSES_PROXY: "bypass"}.get(self.kind, str(self.kind))
        return f"{name} {self.subject}" if self.subject else name


@dataclass(frozen=True)
class RunEvidence:
    """What one run's tables show, in the shape the checks need."""

    requests: tuple[tuple[str, int | None], ...]  # (host, port) of each Squid line
    steps: Mapping[str, str]  # step -> outcome (the last line of a step wins)
    vias: Mapping[str, tuple[str, ...]]  # service -> the vias its front logged

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted({h for h, _ in self.requests}))


def observed_run(tables: Tables, run_id: str) -> RunEvidence:
    """One run's Squid requests, step outcomes and service vias from ``tables``."""
    return observed(tables, [run_id])[run_id]


def observed(tables: Tables, run_ids: Iterable[str] | None = None) -> dict[str, RunEvidence]:
    """:func:`observed_run` of every run (or of ``run_ids``), in one pass over each table:
    a whole-table filter per run made hundreds of runs quadratic."""
    ids = list(tables.records) if run_ids is None else list(run_ids)
    wanted = set(ids)
    fe = tables.function_events
    pr = _columns_by_run(tables.proxy_requests, ("host", "port"), wanted)
    st = _columns_by_run(fe[fe["kind"] == "step"], ("step", "outcome"), wanted)
    hits = _columns_by_run(tables.service_hits, ("service", "via"), wanted)
    return {rid: _evidence_of(pr.get(rid, {}), st.get(rid, {}), hits.get(rid, {}))
            for rid in ids}


def _columns_by_run(df: pd.DataFrame, cols: tuple[str, ...],
                    wanted: set[str]) -> dict[str, dict[str, list[Any]]]:
    """Per run, the values of ``cols`` in table order."""
    out: dict[str, dict[str, list[Any]]] = {}
    values = [df[c].tolist() for c in cols]
    for i, rid in enumerate(df["run_id"].astype(str).tolist()):
        if rid in wanted:
            per = out.setdefault(rid, {c: [] for c in cols})
            for c, v in zip(cols, values, strict=True):
                per[c].append(v[i])
    return out


def _evidence_of(pr: dict[str, list[Any]], st: dict[str, list[Any]],
                 hits: dict[str, list[Any]]) -> RunEvidence:
    requests = tuple((str(h), None if pd.isna(p) else int(p))
                     for h, p in zip(pr.get("host", []), pr.get("port", []), strict=True)
                     if not pd.isna(h))
    steps = {str(s): str(o)
             for s, o in zip(st.get("step", []), st.get("outcome", []), strict=True)}
    vias: dict[str, set[str]] = {}
    for s, v in zip(hits.get("service", []), hits.get("via", []), strict=True):
        vias.setdefault(str(s), set()).add(str(v))
    return RunEvidence(requests, steps, {s: tuple(sorted(v)) for s, v in sorted(vias.items())})


def _matches(expected: str, request: tuple[str, int | None]) -> bool:
    host, port = request
    return expected == host or expected == f"{host}:{port}"


def _resolve(host: str, resources: Mapping[str, str]) -> str | None:
    try:
        return resolve_text(host, dict(resources)).lower()
    except KeyError:
        return None


def check_run(record: RunRecord, run: RunEvidence) -> list[CheckedItem]:
    """Every item of ``record``'s expectation, checked against ``run``."""
    exp: Expectation | None = record.scenario.expect
    if exp is None:
        return []
    out: list[CheckedItem] = []

    def add(kind: CheckKind, subject: str | None, expected: Any, observed: Any,
            verdict: Verdict, reason: UncheckedReason | None = None, **more: Any) -> None:
        out.append(CheckedItem(record.run_id, record.scenario.id, kind, subject, expected,
                               observed, verdict, reason, **more))

    if exp.status is not None:
        add(CheckKind.STATUS, None, exp.status, str(record.status),
            Verdict.HELD if str(record.status) == exp.status else Verdict.FAILED)
    proxy_gap = bool(record.evidence_gaps(PROXY_LOG))
    seen = run.hosts or None
    if exp.crosses_proxy is not None:
        want = [_resolve(h, record.resources) for h in exp.crosses_proxy]
        expected = tuple(sorted({h if h is not None else raw
                                 for h, raw in zip(want, exp.crosses_proxy, strict=True)}))
        if None in want:
            add(CheckKind.CROSSES_PROXY, None, expected, seen, Verdict.UNCHECKED,
                UncheckedReason.UNKNOWN_RESOURCE)
        else:
            hosts = [h for h in want if h is not None]
            missing = tuple(sorted({h for h in hosts
                                    if not any(_matches(h, r) for r in run.requests)}))
            unexpected = tuple(sorted({r[0] for r in run.requests
                                       if not any(_matches(h, r) for h in hosts)}))
            if unexpected or (missing and not proxy_gap):
                verdict, reason = Verdict.FAILED, None
            elif missing:
                verdict, reason = Verdict.UNCHECKED, UncheckedReason.EVIDENCE_INCOMPLETE
            else:
                verdict, reason = Verdict.HELD, None
            add(CheckKind.CROSSES_PROXY, None, expected, seen, verdict, reason,
                missing=missing, unexpected=unexpected)
    for raw in exp.bypasses_proxy:
        host = _resolve(raw, record.resources)
        if host is None:
            add(CheckKind.BYPASSES_PROXY, raw, None, None, Verdict.UNCHECKED,
                UncheckedReason.UNKNOWN_RESOURCE)
            continue
        crossed = tuple(sorted({r[0] for r in run.requests if _matches(host, r)})) or None
        if crossed:
            add(CheckKind.BYPASSES_PROXY, host, None, crossed, Verdict.FAILED)
        elif proxy_gap:
            add(CheckKind.BYPASSES_PROXY, host, None, None, Verdict.UNCHECKED,
                UncheckedReason.EVIDENCE_INCOMPLETE)
        else:
            add(CheckKind.BYPASSES_PROXY, host, None, None, Verdict.HELD)
    for step, outcome in exp.steps.items():
        got = run.steps.get(step)
        if got is None and record.evidence_gaps(FUNCTION_LOG):
            add(CheckKind.STEP, step, outcome, None, Verdict.UNCHECKED,
                UncheckedReason.EVIDENCE_INCOMPLETE)
        else:
            add(CheckKind.STEP, step, outcome, got,
                Verdict.HELD if got == outcome else Verdict.FAILED)
    for service, via in exp.services.items():
        vias = run.vias.get(service)
        if not record.logs_front(service):
            reason = (UncheckedReason.EVIDENCE_INCOMPLETE if record.evidence_gaps(SERVICES_LOG)
                      else UncheckedReason.SERVICE_NOT_LOGGED)
            add(CheckKind.SERVICE_VIA, service, via, None, Verdict.UNCHECKED, reason)
        else:
            add(CheckKind.SERVICE_VIA, service, via, vias,
                Verdict.HELD if vias == (via,) else Verdict.FAILED)
    return out


def check(tables: Tables, run_ids: Iterable[str] | None = None) -> list[CheckedItem]:
    """The checked items of every run in ``tables`` (or of ``run_ids``), run by run."""
    seen = observed(tables, run_ids)
    return [item for rid, run in seen.items() for item in check_run(tables.records[rid], run)]


def _text(value: str | tuple[str, ...] | None) -> str | None:
    if value is None:
        return None
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def frame(items: Iterable[CheckedItem]) -> pd.DataFrame:
    """Items as the report's table: one row each; ``ok`` is NA when unchecked."""
    rows = [{"run_id": i.run_id, "scenario": i.scenario, "check": i.label,
             "expected": _text(i.expected), "observed": _text(i.observed),
             "ok": None if i.verdict is Verdict.UNCHECKED else i.verdict is Verdict.HELD,
             "verdict": str(i.verdict), "kind": str(i.kind), "subject": i.subject,
             "reason": None if i.reason is None else str(i.reason)} for i in items]
    df = typed(pd.DataFrame(rows, columns=list(COLUMNS)), dict(COLUMNS))
    for col, kind in (("verdict", Verdict), ("kind", CheckKind), ("reason", UncheckedReason)):
        df[col] = df[col].cat.set_categories(list(map(str, kind)))
    return df


def evaluate(tables: Tables) -> pd.DataFrame:
    """:func:`check` of every run, as :func:`frame`'s table."""
    return frame(check(tables))


_WHY_UNCHECKED = {
    UncheckedReason.SERVICE_NOT_LOGGED: "the lab keeps no log of that service front",
    UncheckedReason.EVIDENCE_INCOMPLETE: "the capture notes that evidence as missing or partial",
    UncheckedReason.UNKNOWN_RESOURCE: "it names a resource the lab does not have",
}


def describe(item: CheckedItem) -> str:
    """A short English line for the CLI's progress output (the report has its own words)."""
    if item.verdict is Verdict.UNCHECKED:
        why = _WHY_UNCHECKED.get(item.reason) if item.reason is not None else None
        return f"{item.label}: not checked ({why or 'the capture cannot tell'})"
    if item.verdict is Verdict.HELD:
        return f"{item.label}: as expected"
    got = _text(item.observed)
    if item.kind is CheckKind.CROSSES_PROXY:
        parts = []
        if item.missing:
            parts.append(f"expected but not seen: {', '.join(item.missing)}")
        if item.unexpected:
            parts.append(f"seen but not expected: {', '.join(item.unexpected)}")
        return "proxy: " + "; ".join(parts)
    if item.kind is CheckKind.BYPASSES_PROXY:
        return f"proxy: should have bypassed it: {item.subject}"
    if item.kind is CheckKind.STEP:
        return f"step {item.subject}: expected {item.expected}, got {got or 'no step line'}"
    if item.kind is CheckKind.SERVICE_VIA:
        return (f"service {item.subject}: expected via {item.expected}, "
                f"got {got or 'no request'}")
    return f"{item.label}: expected {item.expected}, got {got or 'nothing'}"


__all__ = ["CheckKind", "CheckedItem", "RunEvidence", "UncheckedReason", "Verdict", "check",
           "check_run", "describe", "evaluate", "frame", "observed_run"]
