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
from proxylab.logs.base import Malformed, concat, to_utc, typed

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
    """Every capture's files through their readers: the frames of :class:`Tables`.

    Rows of all runs are gathered first and each table is built once: a frame per run
    and file, typed and then concatenated, cost pandas' per-call overhead about thirty
    times per run, which was most of a 400-run report's parse."""
    runs: list[dict[str, Any]] = []
    proxy_rows: list[tuple] = []
    proxy_ids: list[str] = []
    proxy_big: list[pd.DataFrame] = []  # logs the vectorised reader took (large files)
    events: list[dict[str, Any]] = []
    invs: list[dict[str, Any]] = []
    dnsq: list[dict[str, Any]] = []
    hits: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []

    def set_aside(rid: str, file: str, items: list[Malformed]) -> None:
        bad.extend({"run_id": rid, "file": file, "line_no": m.line_no, "text": m.text,
                    "reason": m.reason} for m in items)

    for cap in captures:
        rid = cap.run_id
        runs.append(run_row(cap))
        lines = cap.lines("proxy_access.log")
        if len(lines) >= squid.VECTOR_MIN_LINES:
            res = squid.parse_lines(lines, rid)
            proxy_big.append(res.frame)
            proxy_bad = res.malformed
        else:
            sc = squid.scan(lines)
            proxy_rows.extend(sc.rows)
            proxy_ids.extend([rid] * len(sc.rows))
            proxy_bad = sc.malformed
        fl = lambda_log.scan(cap.lines("function.log"), rid)
        events.extend(fl.rows)
        invs.extend(fl.invocations)
        d_rows, d_bad, _, _ = dns.scan(cap.lines("dns.log"), rid, cap.record.started_at)
        dnsq.extend(d_rows)
        h_rows, h_bad, _, _ = services.scan(cap.lines("services.log"), rid)
        hits.extend(h_rows)
        for file, items in (("proxy_access.log", proxy_bad), ("function.log", fl.malformed),
                            ("dns.log", d_bad), ("services.log", h_bad)):
            set_aside(rid, file, items)
    runs_df = pd.DataFrame(runs, columns=list(RUN_DTYPES))
    runs_df["started_at"] = to_utc(pd.Series(runs_df["started_at"], dtype="float64"))
    runs_df["finished_at"] = to_utc(pd.Series(runs_df["finished_at"], dtype="float64"))
    proxy = squid.frame_of(proxy_rows, proxy_ids)
    return {
        "runs": typed(runs_df, RUN_DTYPES),
        "proxy_requests": concat([proxy, *proxy_big], squid.DTYPES) if proxy_big else proxy,
        "function_events": _with_kinds(lambda_log.events_frame(events)),
        "invocations": lambda_log.invocations_frame(invs),
        "dns_queries": dns.frame_of(dnsq),
        "service_hits": services.frame_of(hits),
        "malformed": typed(pd.DataFrame(bad, columns=list(MALFORMED_DTYPES)), MALFORMED_DTYPES),
    }


def _with_kinds(df: pd.DataFrame) -> pd.DataFrame:
    for col, values in (("kind", lambda_log.KINDS), ("outcome", lambda_log.OUTCOMES)):
        cats = list(dict.fromkeys([*values, *df[col].cat.categories]))
        df[col] = df[col].cat.set_categories(cats)
    return df
