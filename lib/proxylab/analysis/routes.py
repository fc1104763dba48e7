"""Which path each probe step's request took, with the evidence rows and a "why".

Routes: ``proxy`` (Squid tunnelled it and the front saw it arrive from the
internet), ``endpoint`` (the front saw it arrive through a VPC endpoint:
``gateway`` or ``interface``), ``direct`` (the front saw it from the internet
without any Squid line: a NAT path), ``failed-at-proxy`` (Squid logged the
request but could not complete it), ``failed-direct`` (no Squid line, no front
saw it, the step failed: the VPC had no route or no name for it).

Evidence that disagrees with itself - Squid refused a tunnel yet the front saw
the request from the internet; the step succeeded but nothing saw it; the front
saw it through an endpoint while Squid tunnelled the same host - is never
classified silently: the route is ``inconsistent``, ``flag`` says why, and
``route_guess`` keeps the best reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from proxylab.analysis import predict
from proxylab.logs.tables import Tables

ROUTES = ("proxy", "endpoint", "direct", "failed-at-proxy", "failed-direct", "inconsistent")
PROXY_SIDE = ("proxy", "failed-at-proxy")
STEP_METHOD = {"s3_put": "PUT"}
STEP_SERVICE = {"s3_get": "s3", "s3_put": "s3", "web": "web", "api": "execute-api"}
ROUTE_COLUMNS = {
    "run_id": "category", "scenario": "category", "function": "category", "step": "category",
    "host": "string", "outcome": "category", "status": "Int64", "route": "category",
    "endpoint_kind": "category", "route_guess": "category", "via": "category",
    "vpce_id": "string", "consistent": "boolean", "flag": "string",
    "predicted_route": "category", "predicted_kind": "category", "predicted_proxy": "string",
    "predicted_host": "string", "prediction_matches": "boolean", "basis": "category",
    "why": "string", "evidence": "string",
}
EVIDENCE_COLUMNS = {"run_id": "category", "step": "category", "source": "category",
                    "file": "category", "line_no": "Int64", "text": "string"}


@dataclass
class RouteResult:
    routes: pd.DataFrame
    evidence: pd.DataFrame

    @property
    def flagged(self) -> pd.DataFrame:
        return self.routes[~self.routes["consistent"].fillna(False)]


class _Lines:
    """Raw lines of capture files, read once, to quote evidence verbatim."""

    def __init__(self, tables: Tables):
        self.paths = dict(zip(tables.runs["run_id"].astype(str), tables.runs["path"], strict=False))
        self.cache: dict[tuple[str, str], list[str]] = {}

    def get(self, run_id: str, file: str, line_no: Any) -> str | None:
        if line_no is None or pd.isna(line_no):
            return None
        key = (run_id, file)
        if key not in self.cache:
            path = self.paths.get(run_id)
            p = Path(path) / file if isinstance(path, str) else None
            self.cache[key] = (p.read_text(encoding="utf-8", errors="replace").splitlines()
                               if p is not None and p.exists() else [])
        lines = self.cache[key]
        i = int(line_no) - 1
        return lines[i] if 0 <= i < len(lines) else None


def _ok_tunnel(row: pd.Series) -> bool:
    status = row["http_status"]
    return (not pd.isna(status) and 200 <= int(status) < 400 and row["hierarchy"] != "HIER_NONE")


def _squid_text(row: pd.Series) -> str:
    peer = "-" if pd.isna(row["peer"]) else row["peer"]
    return (f"{row['method']} {row['url']} {row['squid_code']}/{int(row['http_status']):03d} "
            f"{row['hierarchy']}/{peer}")


def _hit_text(hit: pd.Series) -> str:
    vpce = "" if pd.isna(hit["vpce_id"]) else f" {hit['vpce_id']}"
    return (f"{hit['service']} front: {hit['method']} {hit['host']}{hit['path']} from "
            f"{hit['source_ip']} via {hit['via']}{vpce} -> {hit['status']}")


def _dns_text(q: pd.Series) -> str:
    return f"{q['resolver']} resolver: {q['name']} {q['qtype']} is {q['answer']}"


def classify(tables: Tables) -> RouteResult:
    """Classify every step of every run in ``tables``."""
    lines = _Lines(tables)
    steps = tables.steps
    rows: list[dict[str, Any]] = []
    ev: list[dict[str, Any]] = []
    for run_id, run_steps in steps.groupby(steps["run_id"].astype(str), observed=True, sort=False):
        record = tables.records[run_id]
        layout = record.layout.to_dict()
        resources = dict(record.resources)
        env = dict(record.env)
        squid = tables.proxy_requests[tables.proxy_requests["run_id"] == run_id]
        hits = tables.service_hits[tables.service_hits["run_id"] == run_id].sort_values("ts")
        dnsq = tables.dns_queries[tables.dns_queries["run_id"] == run_id]
        used: set[int] = set()
        for _, st in run_steps.iterrows():
            step = str(st["step"])
            host = st["host"] if not pd.isna(st["host"]) else _host_of(st["target_url"])
            host = (host or "").lower()
            method = STEP_METHOD.get(step, "GET")
            hit = None
            for idx, h in hits.iterrows():
                if idx not in used and h["host"] == host and h["method"] == method:
                    hit = h
                    used.add(idx)
                    break
            sq = squid[squid["host"] == host]
            dq = dnsq[dnsq["name"] == host]
            url = None if pd.isna(st["target_url"]) else st["target_url"]
            decision = predict.decide(step, env, resources, url=url)
            p_route, p_kind, p_reason = predict.predicted_route(decision, layout, resources)
            logged = record.logs_front(STEP_SERVICE.get(step, ""))
            row, evid = _classify_step(run_id, step, host, st, hit, sq, dq, squid, hits,
                                       logged, (p_route, p_kind))
            actual = row["route"] if row["route"] != "inconsistent" else row["route_guess"]
            matches = p_route == actual and (
                p_kind == row["endpoint_kind"] or p_route != "endpoint")
            row.update(
                scenario=record.scenario.id, function=record.scenario.function,
                predicted_route=p_route, predicted_kind=p_kind,
                predicted_proxy=decision.proxy, predicted_host=decision.request_host,
                prediction_matches=matches if row["route"] != "inconsistent" else None,
                why=_why(row, decision, p_route, p_kind, p_reason, matches),
            )
            for e in evid:
                e["text"] = lines.get(run_id, e["file"], e["line_no"]) or e.pop("summary", "")
                e.pop("summary", None)
                e.update(run_id=run_id, step=step)
            row["evidence"] = "\n".join(f"[{e['source']}] {e['text']}" for e in evid)
            rows.append(row)
            ev.extend(evid)
    from proxylab.logs.base import typed

    routes = typed(pd.DataFrame(rows, columns=list(ROUTE_COLUMNS)), dict(ROUTE_COLUMNS))
    routes["route"] = routes["route"].cat.set_categories(
        list(dict.fromkeys([*ROUTES, *routes["route"].cat.categories])))
    evidence = typed(pd.DataFrame(ev, columns=list(EVIDENCE_COLUMNS)), dict(EVIDENCE_COLUMNS))
    return RouteResult(routes=routes, evidence=evidence)


def _host_of(url: Any) -> str:
    if url is None or pd.isna(url):
        return ""
    from urllib.parse import urlsplit

    return (urlsplit(str(url)).hostname or "").lower()


def _classify_step(run_id: str, step: str, host: str, st: pd.Series, hit: pd.Series | None,
                   sq: pd.DataFrame, dq: pd.DataFrame, squid_all: pd.DataFrame,
                   hits_all: pd.DataFrame, logged: bool = True,
                   predicted: tuple[str, str | None] = ("", None),
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    outcome = st["outcome"]
    evid: list[dict[str, Any]] = [{"source": "function", "file": "function.log",
                                   "line_no": st["raw_line_no"], "summary": st["message"]}]
    for _, r in sq.iterrows():
        evid.append({"source": "squid", "file": "proxy_access.log", "line_no": r["raw_line_no"],
                     "summary": _squid_text(r)})
    if hit is not None:
        evid.append({"source": "service", "file": "services.log", "line_no": hit["raw_line_no"],
                     "summary": _hit_text(hit)})
    for _, q in dq.iterrows():
        evid.append({"source": "dns", "file": "dns.log",
                     "line_no": q["answer_line_no"] if not pd.isna(q["answer_line_no"])
                     else q["raw_line_no"], "summary": _dns_text(q)})
    ok_sq = [r for _, r in sq.iterrows() if _ok_tunnel(r)]
    failed_sq = [r for _, r in sq.iterrows() if not _ok_tunnel(r)]
    route: str
    kind = None
    flags: list[str] = []
    via = None if hit is None else hit["via"]
    if hit is not None:
        if via == "internet":
            route = "proxy" if len(sq) else "direct"
            if len(sq) and not ok_sq:
                flags.append(f"Squid logged only failed requests for {host}, yet the "
                             f"{hit['service']} front saw the request arrive from the internet")
        else:
            route, kind = "endpoint", ("gateway" if via == "gateway-endpoint" else "interface")
            same_host_internet = hits_all[(hits_all["host"] == host)
                                          & (hits_all["via"] == "internet")]
            if ok_sq and same_host_internet.empty:
                flags.append(f"Squid tunnelled {host} but the front saw the request arrive "
                             f"through the {via}, and nothing of {host} from the internet")
        if outcome == "ok" and not pd.isna(hit["status"]) and int(hit["status"]) >= 400:
            flags.append(f"the step reports ok but the front answered {hit['status']}")
    elif len(sq):
        if failed_sq and not ok_sq:
            route = "failed-at-proxy"
            if outcome == "ok":
                flags.append(f"the step reports ok but Squid only logged failures for {host}")
        else:
            route = "proxy"
            if outcome == "ok" and logged:
                flags.append(f"Squid tunnelled {host} and the step reports ok, but no service "
                             "front logged the request")
    elif not logged and outcome == "ok":
        # No front log exists for this service here: Squid's silence plus success means
        # the request went some other way; the layout says which.
        p_route, p_kind = predicted
        if p_route == "endpoint":
            route, kind = "endpoint", p_kind
        elif p_route in PROXY_SIDE:
            route = "direct"
            flags.append(f"the clients' logic sends {host} to the proxy, yet Squid logged "
                         "nothing and the step succeeded (and no front log can tell more)")
        else:
            route = "direct"
    else:
        route = "failed-direct"
        if outcome == "ok":
            flags.append(f"the step reports ok but neither Squid nor any service front saw "
                         f"a request for {host}")
        elif outcome == "tunnel_error":
            flags.append(f"the step reports a proxy tunnel error but Squid logged nothing for "
                         f"{host}")
    row = {
        "run_id": run_id, "step": step, "host": host, "outcome": outcome,
        "status": st["status"], "route_guess": route, "endpoint_kind": kind, "via": via,
        "vpce_id": None if hit is None or pd.isna(hit["vpce_id"]) else hit["vpce_id"],
        "consistent": not flags, "flag": "; ".join(flags) or None,
        "basis": "observed" if (hit is not None or len(sq) or logged) else "inferred",
        "route": "inconsistent" if flags else route,
    }
    row["_sq"], row["_hit"], row["_dq"] = (ok_sq or failed_sq), hit, dq
    return row, evid


def _why(row: dict[str, Any], decision: predict.ClientDecision, p_route: str,
         p_kind: str | None, p_reason: str, matches: bool) -> str:
    """One paragraph: the client's decision, then what the evidence shows."""
    sq, hit, dq = row.pop("_sq"), row.pop("_hit"), row.pop("_dq")
    route = row["route_guess"]
    why = decision.why
    parts = [why if why.startswith("botocore") else why[0].upper() + why[1:]]
    if route == "proxy":
        if sq:
            r = sq[0]
            parts.append(f"Squid logged {r['method']} {r['url']} {r['squid_code']}/"
                         f"{int(r['http_status'])}")
        if hit is not None:
            parts.append(f"the {hit['service']} front saw it from {hit['source_ip']} (the proxy's "
                         f"side) and answered {hit['status']}")
    elif route == "endpoint":
        name = "S3 gateway endpoint" if row["endpoint_kind"] == "gateway" else \
            "execute-api interface endpoint"
        vpce = f" {row['vpce_id']}" if row["vpce_id"] else ""
        if hit is not None:
            parts.append(f"the {name}{vpce} carried it (the front saw it arrive via "
                         f"{row['via']} from {hit['source_ip']}, status {hit['status']})")
        else:
            parts.append(f"Squid logged nothing for it and it succeeded, so the {name} carried "
                         "it (inferred: this backend has no front log for the service)")
    elif route == "failed-at-proxy":
        r = sq[0]
        parts.append(f"Squid answered {r['squid_code']}/{int(r['http_status']):03d} with "
                     f"{r['hierarchy']} (no upstream contacted)")
        prox = dq[dq["resolver"].astype(str) == "proxy-vpc"]
        if len(prox):
            parts.append(f"the proxy VPC's resolver answered {prox.iloc[0]['answer']} for "
                         f"{row['host']}")
    elif route == "direct":
        parts.append(f"the {hit['service']} front saw it from the internet ({hit['source_ip']}) "
                     "with no Squid line: a direct (NAT) path")
    elif route == "failed-direct":
        lam = dq[dq["resolver"].astype(str) == "lambda-vpc"]
        tail = f"no Squid line and no front saw it; the step ended {row['outcome']}"
        if len(lam):
            tail += f" (the Lambda VPC resolver answered {lam.iloc[0]['answer']})"
        parts.append(tail)
    text = "; ".join(parts) + "."
    if row["flag"]:
        text += f" Evidence disagrees: {row['flag']}."
    elif not matches:
        kind = f" ({p_kind})" if p_kind else ""
        text += f" The clients' logic predicted {p_route}{kind} ({p_reason}), not {route}."
    return text
