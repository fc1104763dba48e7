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

from proxylab.capture import Capture, find_captures
from proxylab.grammar.text import read_lines
from proxylab.logs import dns, lambda_log, services, squid
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
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

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
    scen = rec.get("scenario") or {}
    lab = rec.get("lab") or {}
    endpoints = scen.get("endpoints") or lab.get("endpoints") or {}
    return {
        "run_id": capture.run_id,
        "catalog": rec.get("catalog") or "",
        "scenario": scen.get("id", ""),
        "title": scen.get("title", ""),
        "function": scen.get("function", ""),
        "status": rec.get("status", ""),
        "backend": lab.get("backend", ""),
        "repeat_index": rec.get("repeat_index", 0),
        "started_at": rec.get("started_at"),
        "finished_at": rec.get("finished_at"),
        "env": json.dumps(scenario_env(rec), sort_keys=True),
        "s3_gateway": endpoints.get("s3_gateway"),
        "execute_api_interface": endpoints.get("execute_api_interface"),
        "execute_api_private_dns": endpoints.get("execute_api_private_dns"),
        "private_api_public_dns": endpoints.get("private_api_public_dns"),
        "error": rec.get("error"),
        "missing_evidence": ",".join(rec.get("missing_evidence") or []),
        "path": str(capture.path),
    }


def scenario_env(record: dict[str, Any]) -> dict[str, str]:
    """The variables the function got from the scenario, references resolved.

    The runner records the resolved values in ``invocation.env`` when it can; the
    scenario's own ``env`` (possibly with ``${...}`` references) is resolved here
    against the lab's resources otherwise."""
    inv = record.get("invocation") or {}
    if isinstance(inv.get("env"), dict):
        return {str(k): str(v) for k, v in inv["env"].items()}
    env = (record.get("scenario") or {}).get("env") or {}
    resources = (record.get("lab") or {}).get("resources") or {}
    try:
        from proxylab.scenarios.model import resolve_text
    except ImportError:  # pragma: no cover - scenarios package always ships
        return {str(k): str(v) for k, v in env.items()}
    out = {}
    for k, v in env.items():
        try:
            out[str(k)] = resolve_text(str(v), resources)
        except KeyError:
            out[str(k)] = str(v)
    return out


def load_tables(sources: Iterable[Capture | Path | str] | None = None) -> Tables:
    """Parse captures (Capture objects, run dirs, or dirs of runs) into :class:`Tables`."""
    captures: list[Capture] = []
    paths: list[Path] = []
    for s in sources if sources is not None else []:
        if isinstance(s, Capture):
            captures.append(s)
        else:
            paths.append(Path(s))
    if paths or sources is None:
        captures.extend(find_captures(*paths))
    seen: set[str] = set()
    unique = []
    for c in captures:
        if c.run_id not in seen:
            seen.add(c.run_id)
            unique.append(c)
    runs, proxy, events, invs, dnsq, hits, bad = [], [], [], [], [], [], []
    for cap in unique:
        rid = cap.run_id
        runs.append(run_row(cap))
        results = {
            # read_lines, not cap.lines: a line ends at "\n" only (see grammar.text)
            "proxy_access.log": squid.parse_lines(read_lines(cap.path / "proxy_access.log"), rid),
            "function.log": lambda_log.parse_lines(read_lines(cap.path / "function.log"), rid),
            "dns.log": dns.parse_lines(read_lines(cap.path / "dns.log"), rid,
                                       cap.record.get("started_at")),
            "services.log": services.parse_lines(read_lines(cap.path / "services.log"), rid),
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
    return Tables(
        runs=typed(runs_df, RUN_DTYPES),
        proxy_requests=concat(proxy, squid.DTYPES),
        function_events=_with_kinds(concat(events, lambda_log.DTYPES)),
        invocations=concat(invs, lambda_log.INVOCATION_DTYPES),
        dns_queries=concat(dnsq, dns.DTYPES),
        service_hits=concat(hits, services.DTYPES),
        malformed=concat(bad, MALFORMED_DTYPES),
        records={c.run_id: c.record for c in unique},
    )


def _with_kinds(df: pd.DataFrame) -> pd.DataFrame:
    for col, values in (("kind", lambda_log.KINDS), ("outcome", lambda_log.OUTCOMES)):
        cats = list(dict.fromkeys([*values, *df[col].cat.categories]))
        df[col] = df[col].cat.set_categories(cats)
    return df
