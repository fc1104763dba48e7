"""From tables to answers: route per step, predictions, conclusion, expectations.

``analyse(load_tables(paths))`` is the whole pipeline the notebooks and the
report use; each part is its own module so tests can pin each rule down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from proxylab.analysis.conclude import Conclusion, conclude
from proxylab.analysis.contacts import HostContacts, host_contacts
from proxylab.analysis.expectations import CheckedItem, check, evaluate, frame
from proxylab.analysis.routes import ROUTES, RouteFact, RouteResult, classify
from proxylab.analysis.runtimes import RuntimePair, pairs
from proxylab.logs.tables import Tables, load_tables


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


__all__ = ["ROUTES", "Analysis", "CheckedItem", "Conclusion", "HostContacts", "RouteFact",
           "RouteResult", "RuntimePair", "analyse", "check", "classify", "conclude", "evaluate",
           "host_contacts", "load_tables"]
