"""The facts a report sentence states, as keys, and the parts a step's "why" is made of.

A step's paragraph is a list of parts (:func:`why_parts`), each one fact with the
key ``(scenario, step, route, kind, evidence)`` it states; the list is the same in
every language, and each language words each part kind with its own function
(:mod:`proxylab.report.words.en`, :mod:`proxylab.report.words.ja`). Findings and
the headline have their keys here too, so the report can show - and a test
check - that both languages said the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxylab.analysis.conclude import Conclusion, Finding
from proxylab.analysis.routes import RouteFact
from proxylab.vocab import BypassBasis, ReasonKind, Route

FactKey = tuple[str, str, str, str, str]  # (scenario or target, step, route/side, kind, evidence)


@dataclass(frozen=True)
class Said:
    """One rendered sentence and the facts it states."""

    text: str
    facts: frozenset[FactKey]


def ref(file: str, line_no: int | None) -> str:
    return f"{file}:{line_no}" if line_no is not None else file


def status_text(n: int | None, width: int = 0) -> str:
    return "-" if n is None else f"{n:0{width}d}"


# ------------------------------------------------------------------ step parts
# A step's "why" is a list of parts, each one fact; the list is the same in every
# language, each language has one phrase function per part kind.

Part = tuple[str, Any, FactKey]


def why_parts(f: RouteFact) -> list[Part]:
    """The facts one step's paragraph states, in order."""
    route = str(f.route)

    def key(kind: str, ev: str = "") -> FactKey:
        return (f.scenario, f.step, route, kind, ev)

    parts: list[Part] = [("decision", f.decision, key(str(f.decision.reason)))]
    if f.decision.rule is not None and f.decision.reason in (ReasonKind.NO_PROXY_MATCHED,
                                                             ReasonKind.NO_ENTRY_MATCHED):
        # A Node client that consulted NO_PROXY: its own matching rule, which differs
        # between fetch and http.request and between Node versions.
        parts.append(("node-rule", f.decision, key("rule", str(f.decision.rule))))
    sq = f.squid[0] if f.squid else None
    sq_key = key("squid", ref("proxy_access.log", sq.line_no)) if sq else None
    svc = f.service
    svc_key = key("service", ref("services.log", svc.line_no)) if svc else None
    guess = f.route_guess
    if guess == Route.PROXY:
        if sq is not None and sq_key:
            parts.append(("squid", sq, sq_key))
        if svc is not None and svc_key:
            parts.append(("front", svc, svc_key))
    elif guess == Route.ENDPOINT:
        if svc is not None and svc_key:
            parts.append(("endpoint-front", (f, svc), svc_key))
        else:
            parts.append(("endpoint-inferred", f, key("inferred")))
    elif guess == Route.FAILED_AT_PROXY:
        if sq is not None and sq_key:
            parts.append(("squid-failed", sq, sq_key))
        d = f.dns_from("proxy-vpc")
        if d is not None:
            parts.append(("dns", d, key("dns", ref("dns.log", d.line_no))))
    elif guess == Route.DIRECT:
        if svc is not None and svc_key:
            parts.append(("direct-front", svc, svc_key))
        else:
            parts.append(("direct-inferred", f, key("inferred")))
    elif guess == Route.FAILED_DIRECT:
        parts.append(("nothing-seen", f, key("no-evidence")))
        d = f.dns_from("lambda-vpc")
        if d is not None:
            parts.append(("dns", d, key("dns", ref("dns.log", d.line_no))))
    parts += [("flag", fl, key(str(fl.kind))) for fl in f.flags]
    if not f.flags and f.prediction_matches is False:
        parts.append(("mismatch", f, key(str(f.path_reason))))
    return parts


def finding_facts(f: Finding) -> frozenset[FactKey]:
    """What a finding's sentence states, in every language."""
    t = f.target
    keys: set[FactKey] = {(t, s, "bypassed", "", "") for s in f.bypassed_in}
    keys |= {(t, s, "crossed", "", "") for s in f.crossed_in}
    keys |= {(t, "", "explained", str(c.kind), c.variable or c.key) for c in f.explained_by}
    if (f.bypassed_in and f.crossed_in and f.acting and len(f.explained_by) > 1 and f.others
            and not f.reasons):
        keys |= {(t, "", "acting", v, "") for v in f.acting}
    keys |= {(t, s, "reason", str(d.reason), "") for s, d in f.reasons.items()}
    keys |= {(t, s, "failed", route, outcome) for s, (route, outcome) in f.failed.items()}
    keys |= {(t, s, "mixed", "", "") for s in f.mixed}
    return frozenset(keys)


def headline_facts(c: Conclusion) -> frozenset[FactKey]:
    keys: set[FactKey] = {("headline", f.target, "bypassed", str(c.basis), "")
                          for f in c.bypassing}
    keys |= {("headline", "", "acting", v, "") for v in c.acting
             if c.basis == BypassBasis.ACTING}
    keys |= {("headline", f.target, "always-bypassed", "", "") for f in c.always_bypassed}
    keys |= {("headline", f.target, "never-bypassed", "", "") for f in c.never_bypassed}
    return frozenset(keys)
