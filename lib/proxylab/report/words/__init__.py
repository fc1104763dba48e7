"""Facts -> words, in English and Japanese: every sentence of the report that
states a result is written in this package, from the analysis' facts and
nothing else.

The analysis hands over typed facts - :class:`~proxylab.analysis.routes.RouteFact`
(the route, the client's :class:`~proxylab.analysis.predict.Decision`, references
to the Squid, service and DNS rows), :class:`~proxylab.analysis.conclude.Finding`
and :class:`~proxylab.analysis.conclude.Condition` - and each language
(:mod:`.en`, :mod:`.ja`) words them with one function per fact kind. No language
re-parses a log line or re-runs the prediction, so the languages cannot disagree
on a fact; what they say is checkable: each rendering returns a :class:`Said`
with the text *and* the fact keys it stated (:mod:`.facts`), and a test requires
the same set of keys from both languages. A new language is one more module with
the same functions, and an entry in ``_LANG``.
"""

from __future__ import annotations

from types import ModuleType

from proxylab.analysis.conclude import Conclusion, Condition, Finding
from proxylab.analysis.routes import RouteFact
from proxylab.report.i18n import LANGS
from proxylab.report.words import en, ja
from proxylab.report.words.facts import (
    FactKey,
    Said,
    finding_facts,
    headline_facts,
    why_parts,
)
from proxylab.vocab import SkipKind, UncheckedReason

_LANG: dict[str, ModuleType] = {"en": en, "ja": ja}


def why(f: RouteFact, lang: str) -> Said:
    """One step's paragraph: the client's decision, then what the evidence shows,
    then any contradiction or mismatch with the prediction."""
    w = _LANG[lang]
    said: dict[str, list[str]] = {"main": [], "flag": [], "mismatch": []}
    facts: set[FactKey] = set()
    for kind, payload, key in why_parts(f):
        text = w.PARTS[kind](payload)
        if text:
            said[kind if kind in ("flag", "mismatch") else "main"].append(text)
            facts.add(key)
    return Said(w.assemble((said["main"], said["flag"], said["mismatch"])), frozenset(facts))


def flags(f: RouteFact, lang: str) -> Said:
    """The ways one step's evidence contradicts itself (the checks section)."""
    w = _LANG[lang]
    return Said("; ".join(w.FLAG[x.kind](x) for x in f.flags),
                frozenset((f.scenario, f.step, str(f.route), str(x.kind), "") for x in f.flags))


def condition(c: Condition, lang: str) -> str:
    return _LANG[lang].condition(c)


def finding(f: Finding, lang: str) -> Said:
    return Said(_LANG[lang].finding(f), finding_facts(f))


def headline(c: Conclusion, lang: str) -> Said:
    return Said(_LANG[lang].headline(c), headline_facts(c))


def unchecked(scenario: str, check: str, reason: str | None, lang: str) -> Said:
    """Why one expected item could not be checked (never worded as "did not hold")."""
    why = UncheckedReason(reason) if reason else None
    texts = _LANG[lang].UNCHECKED
    return Said(texts.get(why, texts[None]),
                frozenset({(scenario, check, "unchecked", reason or "", "")}))


def modified(run_id: str, files: list[str], lang: str) -> Said:
    """A capture whose raw files changed after it was written."""
    return Said(_LANG[lang].modified(files),
                frozenset((run_id, "", "modified", "", f) for f in files))


def skipped(capture: str, kind: str, detail: str, lang: str) -> Said:
    """Why a capture was set aside, from the loader's kind and detail (the detail - an
    error from the JSON parser or the record's check - is quoted as it was)."""
    from proxylab.capture import SCHEMA

    text = _LANG[lang].SKIPPED[SkipKind(kind)].format(detail=detail, max=SCHEMA)
    return Said(text, frozenset({(capture, "", "skipped", str(kind), "")}))


__all__ = ["LANGS", "FactKey", "Said", "condition", "finding", "flags", "headline", "modified",
           "skipped", "unchecked", "why", "why_parts"]
