"""The client matrix report's sentences, in English (:mod:`.en`) and Japanese
(:mod:`.ja`): each written from one typed fact of :mod:`proxylab.clients.facts`.

As in :mod:`proxylab.report.words`, every rendering returns a :class:`Said` with the
text and the fact key it stated, so a test requires both languages to state the same
facts. A language is a module with the same names, and an entry in ``LANGS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from proxylab.clients.facts import BehaviourFact, Change, Summary
from proxylab.clients.words import en, ja

LANGS: dict[str, ModuleType] = {"en": en, "ja": ja}


@dataclass(frozen=True)
class Said:
    text: str
    key: Any


def lang(code: str) -> ModuleType:
    try:
        return LANGS[code]
    except KeyError:
        from proxylab.errors import UserError

        raise UserError(f"unknown language {code!r} (known: {', '.join(LANGS)})") from None


def behaviour(fact: BehaviourFact, code: str) -> Said:
    return Said(lang(code).behaviour(fact), fact.key)


def summary(fact: Summary, code: str) -> Said:
    return Said(lang(code).summary(fact), fact.key)


def change(fact: Change, code: str) -> Said:
    return Said(lang(code).change(fact), fact.key)
