"""What every language of the matrix report shares: how an answer is chosen from a
language's tables (each language module only holds words)."""

from __future__ import annotations

from types import ModuleType

from proxylab.clients.facts import BehaviourFact
from proxylab.vocab import Behaviour, MeasuredRoute

# Questions answered "matches" / "does not match" unless a language says more.
MATCH_QUESTIONS = frozenset({Behaviour.DOT_MATCHES_APEX, Behaviour.STAR_IN_LIST, Behaviour.GLOB,
                             Behaviour.CIDR_IP, Behaviour.CIDR_NAME, Behaviour.HOST_PORT})


def answer(fact: BehaviourFact, words: ModuleType) -> str:
    default = (words.MATCH if fact.behaviour in MATCH_QUESTIONS else words.ROUTE)[fact.route]
    return words.ANSWER.get((fact.behaviour, fact.route), default)


def route_or(value: str | None, absent: str, words: ModuleType) -> str:
    """A change's before/after: a route in words, else the value (a version) or ``absent``."""
    return words.ROUTE[MeasuredRoute(value)] if value in set(MeasuredRoute) else (value or absent)
