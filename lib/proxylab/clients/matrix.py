"""The client matrix as data, and the rule that turns one cell's evidence into a route.

Every request a cell makes carries a token of its own (in its path or query), so
its evidence is found by the token, whatever else ran at the same time:

- a front's log line (``services.log``) with the token: the request arrived;
  ``via internet`` means through Squid (the Lambda subnet has no other way out),
  an endpoint ``via`` means the VPC carried it directly;
- a Squid line with the token (an ``http://`` URL, which Squid logs whole): proxy,
  whether or not Squid could complete it;
- neither, and the client timed out: it connected directly into a subnet without
  NAT (the lab drops such packets, as a VPC does), so ``direct``;
- neither, and the client failed otherwise (refused by a dead proxy, an unusable
  proxy URL, TLS): ``failed``.

Squid logs an ``https`` request only as ``CONNECT host:443``, without the token:
those lines are counted against the cells attributed to the proxy by the fronts,
and any left over are reported (a proxied request that failed after the tunnel).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from proxylab.clients.registry import Result
from proxylab.vocab import Agreement, EvidenceSource, MeasuredRoute, Outcome, Via


@dataclass
class Cell:
    """One client under one case. ``route`` is None when the cell did not run, and
    ``note`` says why (``not installed: pip install httpx``, ``n/a``)."""

    client: str
    case: str
    version: str | None
    route: MeasuredRoute | None = None
    outcome: Outcome | None = None
    status: int | None = None
    source: EvidenceSource | None = None  # which log showed the request (None: inferred)
    evidence: str = ""
    error: str = ""
    detail: str = ""
    note: str = ""
    url: str = ""
    token: str = ""
    elapsed_s: float | None = None
    # The client's rule (proxylab.clients.verdict): its route, and the measured one against it.
    predicted: MeasuredRoute | None = None
    agreement: Agreement | None = None
    rule: dict[str, Any] = field(default_factory=dict)  # the decision's facts
    rechecked: bool = False  # measured again with a longer limit (see measure)

    @property
    def label(self) -> str:
        """What the matrix shows in the cell."""
        if self.route is not None:
            return str(self.route)
        return "not installed" if self.note.startswith("not installed") else "-"


@dataclass
class Matrix:
    clients: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    cells: list[Cell]
    meta: dict[str, Any] = field(default_factory=dict)

    def cell(self, client: str, case: str) -> Cell:
        for c in self.cells:
            if c.client == client and c.case == case:
                return c
        raise KeyError(f"no cell {client} x {case}")

    def to_dict(self) -> dict[str, Any]:
        return {"clients": self.clients, "cases": self.cases,
                "cells": [asdict(c) for c in self.cells], "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Matrix:
        cells = []
        for raw in data["cells"]:
            raw = dict(raw)
            raw["route"] = MeasuredRoute(raw["route"]) if raw.get("route") else None
            raw["outcome"] = Outcome(raw["outcome"]) if raw.get("outcome") else None
            raw["source"] = EvidenceSource(raw["source"]) if raw.get("source") else None
            raw["predicted"] = MeasuredRoute(raw["predicted"]) if raw.get("predicted") else None
            raw["agreement"] = Agreement(raw["agreement"]) if raw.get("agreement") else None
            cells.append(Cell(**raw))
        return cls(data["clients"], data["cases"], cells, data.get("meta", {}))


def attribute(token: str, result: Result, squid: pd.DataFrame,
              services: pd.DataFrame) -> tuple[MeasuredRoute, EvidenceSource | None, str]:
    """The route of the request carrying ``token``, the log that showed it (None
    when inferred from the client's timeout) and the evidence in words (see the
    module docstring). ``squid`` / ``services`` are the tables
    :func:`proxylab.logs.squid.parse_lines` / :func:`proxylab.logs.services.parse_lines`
    built from the lines collected around the whole matrix."""
    hits = services[services["path"].fillna("").str.contains(token, regex=False)]
    if len(hits):
        row = hits.iloc[0]
        via = str(row["via"])
        route = MeasuredRoute.PROXY if via == Via.INTERNET else MeasuredRoute.DIRECT
        return route, EvidenceSource.SERVICE, (
            f"{row['service']} front: via {via}, from {row['source_ip']}, status {row['status']}")
    lines = squid[squid["url"].fillna("").str.contains(token, regex=False)]
    if len(lines):
        row = lines.iloc[0]
        return MeasuredRoute.PROXY, EvidenceSource.SQUID, (
            f"squid: {row['method']} {row['squid_code']}/{row['http_status']} {row['hierarchy']}")
    if result.outcome == Outcome.TIMEOUT:
        return MeasuredRoute.DIRECT, None, "no proxy or service line; timed out (no NAT)"
    return MeasuredRoute.FAILED, None, f"no proxy or service line; client: {result.outcome}"


def unmatched_connects(cells: list[Cell], squid: pd.DataFrame) -> dict[str, int]:
    """Squid CONNECT lines per ``host:port`` beyond the cells the fronts showed as
    proxied to that authority: requests that reached Squid and went no further
    (their cells read ``failed`` or ``direct``; this count says some did try the
    proxy, so the matrix never hides a contradiction)."""
    connects = squid[squid["method"].astype("string") == "CONNECT"]
    seen = Counter(str(u) for u in connects["url"])
    for c in cells:
        if c.route == MeasuredRoute.PROXY and c.source == EvidenceSource.SERVICE:
            parts = urlsplit(c.url)
            seen[f"{parts.hostname}:{parts.port or 443}"] -= 1
    return {k: v for k, v in seen.items() if v > 0}
