"""From tables to answers: route per step, predictions, conclusion, expectations.

``analyse(load_tables(paths))`` is the whole pipeline; the notebooks and the
report call :func:`derive`, which does it once per capture set and process. Each part
is its own module so tests can pin each rule down.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from proxylab.analysis.conclude import Conclusion, conclude
from proxylab.analysis.contacts import HostContacts, host_contacts
from proxylab.analysis.expectations import CheckedItem, check, evaluate, frame
from proxylab.analysis.routes import ROUTES, RouteFact, RouteResult, classify
from proxylab.analysis.runtimes import RuntimePair, pairs
from proxylab.capture import Capture
from proxylab.logs import cache
from proxylab.logs.tables import Tables, find_unique, load_tables, tables_of


@dataclass
class Analysis:
    tables: Tables
    routes: pd.DataFrame
    evidence: pd.DataFrame
    conclusion: Conclusion
    expectations: pd.DataFrame  # frame(checks): one row per expected item, with verdict
    checks: list[CheckedItem] = field(default_factory=list)  # the same items, typed
    facts: list[RouteFact] = field(default_factory=list)  # facts[i] is routes row i
    runtime_pairs: list[RuntimePair] = field(default_factory=list)  # Python beside Node
    hosts: HostContacts | None = None  # every host each run's function contacted

    def fact(self, index: int) -> RouteFact:
        """The facts behind ``routes`` row ``index`` (the frame's own index)."""
        return self.facts[index]

    @property
    def flagged(self) -> pd.DataFrame:
        return self.routes[self.routes["route"] == "inconsistent"]


def analyse(tables: Tables) -> Analysis:
    res = classify(tables)
    checks = check(tables)
    return Analysis(
        tables=tables,
        routes=res.routes,
        evidence=res.evidence,
        conclusion=conclude(res.routes, tables.runs, tables.records),
        expectations=frame(checks),
        checks=checks,
        facts=res.facts,
        runtime_pairs=pairs(tables.records, res.routes),
        hosts=host_contacts(tables),
    )


# The analyses this process derived last, by capture-set key: notebooks 03 and 04 run
# in one kernel (report/render.py), so 04 reads what 03 derived. One entry: a second
# set replaces the first, so memory stays that of one set.
_DERIVED: OrderedDict[str, Analysis] = OrderedDict()
_DERIVED_MAX = 1


def derive(sources: Iterable[Capture | Path | str], cache_dir: Path | None = None) -> Analysis:
    """``analyse(load_tables(sources))``, done once per capture set: the same captures
    with the same content (:func:`proxylab.logs.cache.key`) give the same
    :class:`Analysis` object again, so callers must not change it. ``cache_dir``
    keeps the parsed tables on disk too (:mod:`proxylab.logs.cache`)."""
    captures, skipped = find_unique(sources)
    entry = cache.key(captures)
    memo = f"{entry}\0" + "\0".join(skipped)
    if memo in _DERIVED:
        _DERIVED.move_to_end(memo)
        return _DERIVED[memo]
    result = analyse(tables_of(captures, skipped, cache_dir=cache_dir, entry=entry))
    _DERIVED[memo] = result
    while len(_DERIVED) > _DERIVED_MAX:
        _DERIVED.popitem(last=False)
    return result


__all__ = ["ROUTES", "Analysis", "CheckedItem", "Conclusion", "HostContacts", "RouteFact",
           "RouteResult", "RuntimePair", "analyse", "check", "classify", "conclude", "derive",
           "evaluate", "host_contacts", "load_tables"]
