"""Captures -> the DESIGN.md §5 tables, for any number of runs.

Each capture is parsed on its own (a run's DNS year comes from its own
``started_at``) and the per-run frames are concatenated with the same dtypes,
so a table of one run and of a thousand look alike. Malformed lines of every
file of every run land in one ``malformed`` table (run, file, line number, text,
reason).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from proxylab.capture import Capture, RunRecord, find_captures
from proxylab.logs import cache, dns, lambda_log, services, squid
from proxylab.logs.base import concat, malformed_frame, to_utc, typed

RUN_DTYPES: dict[str, str] = {
    "run_id": "category",
    "catalog": "category",
    "scenario": "category",
    "title": "string",
    "function": "category",
    "status": "category",
    "backend": "category",
    "repeat_index": "Int64",
    "started_at": "ts",
    "finished_at": "ts",
    "env": "string",
    "s3_gateway": "boolean",
    "execute_api_interface": "boolean",
    "execute_api_private_dns": "boolean",
    "private_api_public_dns": "category",
    "error": "string",
    "missing_evidence": "string",
    "path": "string",
}
MALFORMED_DTYPES = {"run_id": "category", "file": "category", "line_no": "Int64",
                    "text": "string", "reason": "string"}


@dataclass
class Tables:
    """The §5 tables for a set of runs, plus the records they came from."""

    runs: pd.DataFrame
    proxy_requests: pd.DataFrame
    function_events: pd.DataFrame
    invocations: pd.DataFrame
    dns_queries: pd.DataFrame
    service_hits: pd.DataFrame
    malformed: pd.DataFrame
    records: dict[str, RunRecord] = field(default_factory=dict)
    # Captures that could not be read (their reasons): shown as "skipped" in reports.
    skipped: list[str] = field(default_factory=list)

    @property
    def steps(self) -> pd.DataFrame:
        """Probe step rows of ``function_events``."""
        fe = self.function_events
        return fe[fe["kind"] == "step"].reset_index(drop=True)

    def summary(self) -> dict[str, int]:
        return {
            "runs": len(self.runs),
            "proxy_requests": len(self.proxy_requests),
            "function_events": len(self.function_events),
            "dns_queries": len(self.dns_queries),
            "service_hits": len(self.service_hits),
            "malformed_lines": len(self.malformed),
        }


def run_row(capture: Capture) -> dict[str, Any]:
    rec = capture.record
    scen, layout = rec.scenario, rec.layout
    return {
        "run_id": capture.run_id,
        "catalog": rec.catalog,
        "scenario": scen.id,
        "title": scen.title,
        "function": scen.function,
        "status": str(rec.status),
        "backend": rec.lab.backend,
        "repeat_index": rec.repeat_index,
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "env": json.dumps(dict(rec.env), sort_keys=True),
        "s3_gateway": layout.s3_gateway,
        "execute_api_interface": layout.execute_api_interface,
        "execute_api_private_dns": layout.execute_api_private_dns,
        "private_api_public_dns": layout.private_api_public_dns,
        "error": rec.error,
        "missing_evidence": ",".join(rec.missing_evidence),
        "path": str(capture.path),
    }


def find_unique(sources: Iterable[Capture | Path | str] | None = None,
                ) -> tuple[list[Capture], list[str]]:
    """The captures ``sources`` name (Capture objects, run dirs, or dirs of runs), each
    run once, and the reasons of those that could not be read."""
    captures: list[Capture] = []
    paths: list[Path] = []
    for s in sources if sources is not None else []:
        if isinstance(s, Capture):
            captures.append(s)
        else:
            paths.append(Path(s))
    skipped: list[str] = []
    if paths or sources is None:
        captures.extend(find_captures(*paths, skipped=skipped))
    seen: set[str] = set()
    unique = []
    for c in captures:
        if c.run_id not in seen:
            seen.add(c.run_id)
            unique.append(c)
    return unique, skipped


def load_tables(sources: Iterable[Capture | Path | str] | None = None,
                cache_dir: Path | None = None) -> Tables:
    """Parse captures (Capture objects, run dirs, or dirs of runs) into :class:`Tables`.

    ``cache_dir``: keep (and reuse) the parsed frames there (:mod:`proxylab.logs.cache`)."""
    return tables_of(*find_unique(sources), cache_dir=cache_dir)


def tables_of(captures: list[Capture], skipped: list[str],
              cache_dir: Path | None = None, entry: str | None = None) -> Tables:
    """:class:`Tables` of exactly ``captures``; ``entry`` is their cache key when the
    caller has it already (:func:`proxylab.logs.cache.key`)."""
    frames = None
    if cache_dir is not None:
        entry = entry or cache.key(captures)
        frames = cache.read(cache_dir, entry)
    if frames is None:
        frames = parse(captures)
        if cache_dir is not None and entry is not None:
            cache.write(cache_dir, entry, frames)
    return Tables(**frames, records={c.run_id: c.record for c in captures},
                  skipped=list(skipped))


def parse(captures: list[Capture]) -> dict[str, pd.DataFrame]:
    """Every capture's files through their parsers: the frames of :class:`Tables`."""
    runs, proxy, events, invs, dnsq, hits, bad = [], [], [], [], [], [], []
    for cap in captures:
        rid = cap.run_id
        runs.append(run_row(cap))
        results = {
            "proxy_access.log": squid.parse_lines(cap.lines("proxy_access.log"), rid),
            "function.log": lambda_log.parse_lines(cap.lines("function.log"), rid),
            "dns.log": dns.parse_lines(cap.lines("dns.log"), rid, cap.record.started_at),
            "services.log": services.parse_lines(cap.lines("services.log"), rid),
        }
        proxy.append(results["proxy_access.log"].frame)
        fl = results["function.log"]
        events.append(fl.frame)
        invs.append(fl.invocations)
        dnsq.append(results["dns.log"].frame)
        hits.append(results["services.log"].frame)
        for name, res in results.items():
            bad.append(malformed_frame(res.malformed, run_id=rid, file=name))
    runs_df = pd.DataFrame(runs, columns=list(RUN_DTYPES))
    runs_df["started_at"] = to_utc(pd.Series(runs_df["started_at"], dtype="float64"))
    runs_df["finished_at"] = to_utc(pd.Series(runs_df["finished_at"], dtype="float64"))
    return {
        "runs": typed(runs_df, RUN_DTYPES),
        "proxy_requests": concat(proxy, squid.DTYPES),
        "function_events": _with_kinds(concat(events, lambda_log.DTYPES)),
        "invocations": concat(invs, lambda_log.INVOCATION_DTYPES),
        "dns_queries": concat(dnsq, dns.DTYPES),
        "service_hits": concat(hits, services.DTYPES),
        "malformed": concat(bad, MALFORMED_DTYPES),
    }


def _with_kinds(df: pd.DataFrame) -> pd.DataFrame:
    for col, values in (("kind", lambda_log.KINDS), ("outcome", lambda_log.OUTCOMES)):
        cats = list(dict.fromkeys([*values, *df[col].cat.categories]))
        df[col] = df[col].cat.set_categories(cats)
    return df
