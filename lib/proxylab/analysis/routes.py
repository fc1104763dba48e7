"""Which path each probe step's request took, as facts: the route, the client's
decision, and references to the evidence rows that show it.

Routes: ``proxy`` (Squid tunnelled it and the front saw it arrive from the
internet), ``endpoint`` (the front saw it arrive through a VPC endpoint:
``gateway`` or ``interface``), ``direct`` (the front saw it from the internet
without any Squid line: a NAT path), ``failed-at-proxy`` (Squid logged the
request but could not complete it), ``failed-direct`` (no Squid line, no front
saw it, the step failed: the VPC had no route or no name for it).

Evidence that disagrees with itself - Squid refused a tunnel yet the front saw
the request from the internet; the step succeeded but nothing saw it; the front
saw it through an endpoint while Squid tunnelled the same host - is never
classified silently: the route is ``inconsistent``, ``flags`` say how (as
:class:`~proxylab.vocab.FlagKind` members), and ``route_guess`` keeps the best
reading.

Nothing here is a sentence: :class:`RouteFact` holds what the report words, in
every language, in :mod:`proxylab.report.words`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from proxylab.analysis import predict
from proxylab.capture import RunRecord
from proxylab.logs.tables import Tables
from proxylab.scenarios.steps import EVENT_KEY
from proxylab.vocab import (
    Basis,
    Denial,
    EndpointKind,
    FlagKind,
    PathReason,
    Route,
    Via,
    parse_enum,
)

ROUTES = ("proxy", "endpoint", "direct", "failed-at-proxy", "failed-direct", "inconsistent")
PROXY_SIDE = ("proxy", "failed-at-proxy")
STEP_METHOD = {"s3_put": "PUT"}
STEP_SERVICE = {"s3_get": "s3", "s3_put": "s3", "web": "web", "api": "execute-api",
                "web_https": "web", "api_https": "execute-api"}  # the last two: Node probe
ROUTE_COLUMNS = {
    "run_id": "category", "scenario": "category", "function": "category", "step": "category",
    "host": "string", "url": "string",
    "outcome": "category", "status": "Int64", "route": "category",
    "endpoint_kind": "category", "route_guess": "category", "via": "category",
    "vpce_id": "string", "consistent": "boolean", "flag": "string",
    "predicted_route": "category", "predicted_kind": "category", "predicted_proxy": "string",
    "predicted_host": "string", "prediction_matches": "boolean", "basis": "category",
    # the client's decision, as facts (see predict.Decision)
    "client": "category", "reason": "category", "proxy_variable": "string",
    "no_proxy_variable": "string", "no_proxy_entry": "string", "match": "category",
    "compared": "string", "endpoint_source": "category",
    # references to the evidence rows (line numbers in the capture's files)
    "squid_line_no": "Int64", "service_line_no": "Int64", "dns_line_no": "Int64",
    "evidence": "string",
}
EVIDENCE_COLUMNS = {"run_id": "category", "step": "category", "source": "category",
                    "file": "category", "line_no": "Int64", "text": "string"}


@dataclass(frozen=True)
class SquidRef:
    """One Squid access-log line behind a route (``line_no`` in proxy_access.log)."""

    line_no: int | None
    method: str
    url: str
    squid_code: str
    http_status: int | None
    hierarchy: str
    peer: str | None
    ok: bool  # a completed request or tunnel
    denial: Denial | None = None  # why Squid refused it, when it did (see denial_of)


@dataclass(frozen=True)
class ServiceRef:
    """The service front's record of the request (``line_no`` in services.log)."""

    line_no: int | None
    service: str
    method: str
    host: str
    path: str
    source_ip: str
    via: Via | None
    vpce_id: str | None
    status: int | None


@dataclass(frozen=True)
class DnsRef:
    """A resolver's answer for the step's host (``line_no`` in dns.log)."""

    line_no: int | None
    resolver: str
    name: str
    qtype: str
    answer: str


@dataclass(frozen=True)
class Flag:
    """One way the evidence contradicts itself; ``detail`` is the status or ``via``
    the kind refers to, when it has one."""

    kind: FlagKind
    host: str
    detail: str = ""


@dataclass(frozen=True)
class RouteFact:
    """Everything the report may say about one step, and nothing it may not."""

    run_id: str
    scenario: str
    step: str
    host: str
    outcome: str
    route: Route
    route_guess: Route
    endpoint_kind: EndpointKind | None
    basis: Basis
    decision: predict.Decision
    predicted_route: Route
    predicted_kind: EndpointKind | None
    path_reason: PathReason
    prediction_matches: bool | None
    squid: tuple[SquidRef, ...] = ()  # completed lines first, then failed ones
    service: ServiceRef | None = None
    dns: tuple[DnsRef, ...] = ()
    flags: tuple[Flag, ...] = field(default_factory=tuple)

    def dns_from(self, resolver: str) -> DnsRef | None:
        return next((d for d in self.dns if d.resolver == resolver), None)


@dataclass
class RouteResult:
    routes: pd.DataFrame
    evidence: pd.DataFrame
    facts: list[RouteFact] = field(default_factory=list)  # facts[i] is routes row i

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


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _str(v: Any) -> str | None:
    return None if v is None or pd.isna(v) else str(v)


def _ok_tunnel(row: pd.Series) -> bool:
    status = row["http_status"]
    return (not pd.isna(status) and 200 <= int(status) < 400 and row["hierarchy"] != "HIER_NONE")


def _method(step: str, spec: dict[str, Any] | None) -> str | None:
    """The HTTP method the step's request used (None: any - an AWS call's method is
    botocore's business)."""
    if spec is None:
        return STEP_METHOD.get(step, "GET")
    if spec.get("http"):
        return str(spec["http"].get("method") or "GET")
    return None


def _service(step: str, spec: dict[str, Any] | None, host: str) -> str:
    """The service front that would log the step's request."""
    if spec is None:
        return STEP_SERVICE.get(step, "")
    if spec.get("aws"):
        return str(spec["aws"].get("service", ""))
    return "execute-api" if ".execute-api." in host else "web"


class _UnnamedSquid:
    """Squid lines that name no host (``error:invalid-request``: what reached Squid's
    plain port was not HTTP, e.g. a client speaking TLS to an ``https://`` proxy URL),
    handed to the failed step whose time window holds them, each line once.

    The window is the step's end time (``t`` on the step line) minus its elapsed
    time, widened by :data:`SLACK` for the two clocks; steps are taken in order and
    each takes the earliest unused line in its window. A capture without step times
    falls back to order alone, and only for a step the client's logic says sent TLS
    to the proxy."""

    SLACK = pd.Timedelta(seconds=1)

    def __init__(self, squid: pd.DataFrame):
        err = squid[squid["host"].isna() & squid["url"].fillna("").str.startswith("error:")]
        self.rows = [r for _, r in err.sort_values("ts").iterrows()]
        self.used: set[int] = set()

    def take(self, st: pd.Series, decision: predict.Decision) -> list[pd.Series]:
        ended = st["ts"]
        for i, r in enumerate(self.rows):
            if i in self.used:
                continue
            if pd.isna(ended):
                ok = decision.proxy_tls
            else:
                started = ended - pd.Timedelta(milliseconds=float(
                    0 if pd.isna(st["elapsed_ms"]) else st["elapsed_ms"]))
                ok = started - self.SLACK <= r["ts"] <= ended + self.SLACK
            if ok:
                self.used.add(i)
                return [r]
        return []


def _squid_ref(r: pd.Series, allowlist: bool = False) -> SquidRef:
    code, status = str(r["squid_code"]), _int(r["http_status"])
    return SquidRef(_int(r["raw_line_no"]), str(r["method"]), str(r["url"]), code, status,
                    str(r["hierarchy"]), _str(r["peer"]), _ok_tunnel(r),
                    denial_of(code, status, allowlist))


def denial_of(code: str, status: int | None, allowlist: bool) -> Denial | None:
    """Why Squid refused a request: 407 asks for credentials; 403 is the allowlist when
    the proxy has one, else its other rules (hardening: manager, loopback, link-local,
    ports). ``TCP_DENIED_ABORTED`` is the same denial, the client having hung up first."""
    if not code.startswith("TCP_DENIED"):
        return None
    if status == 407:
        return Denial.AUTH_REQUIRED
    return Denial.NOT_ALLOWED if allowlist else Denial.REFUSED


def _service_ref(h: pd.Series) -> ServiceRef:
    return ServiceRef(_int(h["raw_line_no"]), str(h["service"]), str(h["method"]), str(h["host"]),
                      str(h["path"]), str(h["source_ip"]), parse_enum(Via, h["via"]),
                      _str(h["vpce_id"]), _int(h["status"]))


def _dns_ref(q: pd.Series) -> DnsRef:
    line = q["answer_line_no"] if not pd.isna(q["answer_line_no"]) else q["raw_line_no"]
    return DnsRef(_int(line), str(q["resolver"]), str(q["name"]), str(q["qtype"]),
                  str(q["answer"]))


def _squid_text(s: SquidRef) -> str:
    status = "-" if s.http_status is None else f"{s.http_status:03d}"
    return f"{s.method} {s.url} {s.squid_code}/{status} {s.hierarchy}/{s.peer or '-'}"


def _hit_text(h: ServiceRef) -> str:
    vpce = f" {h.vpce_id}" if h.vpce_id else ""
    return (f"{h.service} front: {h.method} {h.host}{h.path} from {h.source_ip} via "
            f"{h.via}{vpce} -> {h.status}")


def _dns_text(d: DnsRef) -> str:
    return f"{d.resolver} resolver: {d.name} {d.qtype} is {d.answer}"


def classify(tables: Tables) -> RouteResult:
    """Classify every step of every run in ``tables``."""
    lines = _Lines(tables)
    steps = tables.steps
    rows: list[dict[str, Any]] = []
    facts: list[RouteFact] = []
    ev: list[dict[str, Any]] = []
    for run_id, run_steps in steps.groupby(steps["run_id"].astype(str), observed=True, sort=False):
        record = tables.records[run_id]
        layout = record.layout.to_dict()
        resources = dict(record.resources)
        env = dict(record.env)
        squid = tables.proxy_requests[tables.proxy_requests["run_id"] == run_id]
        hits = tables.service_hits[tables.service_hits["run_id"] == run_id].sort_values("ts")
        dnsq = tables.dns_queries[tables.dns_queries["run_id"] == run_id]
        unnamed = _UnnamedSquid(squid)
        declared = {str(d.get("name")): d for d in record.scenario.event.get(EVENT_KEY) or ()
                    if isinstance(d, dict)}
        specs = {i: declared.get(str(st["step"])) for i, st in run_steps.iterrows()}
        hosts = {i: _step_host(st) for i, st in run_steps.iterrows()}
        methods = {i: _method(str(st["step"]), specs[i]) for i, st in run_steps.iterrows()}
        taken = _assign_hits(run_steps, hosts, methods, hits)
        answered = {hosts[i] for i, st in run_steps.iterrows() if st["outcome"] == "ok"}
        for i, st in run_steps.iterrows():
            step = str(st["step"])
            spec = specs[i]
            host = hosts[i]
            hit = taken.get(i)
            allowlist = record.lab.endpoints.proxy.allowlist
            sq = [_squid_ref(r, allowlist) for _, r in squid[squid["host"] == host].iterrows()]
            if st["outcome"] == "timeout" and hit is None and host in answered:
                # Another step to this host was answered: the completed tunnels are its
                # (a tunnel the proxy completed to a front that answers does not time
                # out), so this one's evidence is the failed lines only. Two clients of
                # one run reach one host by different rules (Node's fetch direct,
                # https.request through the proxy), and Squid logs hosts, not clients.
                sq = [x for x in sq if not x.ok]
            dq = [_dns_ref(q) for _, q in dnsq[dnsq["name"] == host].iterrows()]
            url = None if pd.isna(st["target_url"]) else st["target_url"]
            call = predict.call_of(spec["aws"]) if spec and spec.get("aws") else None
            decision = predict.decide(step, env, resources, url=url, call=call,
                                      runtime=record.scenario.runtime)
            if decision.proxy_self_connect:
                ph, _, pport = decision.proxy_self_connect.rpartition(":")
                own = squid[(squid["host"] == ph) & (squid["port"] == int(pport))]
                sq = [_squid_ref(r, allowlist) for _, r in own.iterrows()]
            if not sq and str(st["outcome"]) != "ok":
                sq = [_squid_ref(r, allowlist) for r in unnamed.take(st, decision)]
            p_route, p_kind, p_reason = predict.predicted_route(decision, layout, resources)
            logged = record.logs_front(_service(step, spec, host))
            fact = _classify_step(run_id, record.scenario.id, step, host, st, hit, sq, dq, hits,
                                  logged, decision, (Route(p_route), p_kind, p_reason))
            evid = _evidence(st, fact)
            for e in evid:
                e["text"] = lines.get(run_id, e["file"], e["line_no"]) or e.pop("summary", "")
                e.pop("summary", None)
                e.update(run_id=run_id, step=step)
            rows.append(_row(fact, st, record, evid))
            facts.append(fact)
            ev.extend(evid)
    from proxylab.logs.base import typed

    routes = typed(pd.DataFrame(rows, columns=list(ROUTE_COLUMNS)), dict(ROUTE_COLUMNS))
    routes["route"] = routes["route"].cat.set_categories(
        list(dict.fromkeys([*ROUTES, *routes["route"].cat.categories])))
    evidence = typed(pd.DataFrame(ev, columns=list(EVIDENCE_COLUMNS)), dict(EVIDENCE_COLUMNS))
    return RouteResult(routes=routes, evidence=evidence, facts=facts)


def _step_host(st: pd.Series) -> str:
    host = st["host"] if not pd.isna(st["host"]) else _host_of(st["target_url"])
    return (host or "").lower()


def _assign_hits(run_steps: pd.DataFrame, hosts: dict[Any, str],
                 methods: dict[Any, str | None], hits: pd.DataFrame) -> dict[Any, ServiceRef]:
    """Each front hit to the step it answered, in time order per host and method; a step
    that timed out takes one only after the steps that got an answer have theirs (a
    front that saw a request answers it at once)."""
    order = sorted(run_steps.index, key=lambda i: run_steps.at[i, "outcome"] == "timeout")
    used: set[Any] = set()
    out: dict[Any, ServiceRef] = {}
    for i in order:
        method = methods[i]  # None: any (an AWS call's method is botocore's business)
        for idx, h in hits.iterrows():
            if idx not in used and h["host"] == hosts[i] and method in (None, h["method"]):
                out[i] = _service_ref(h)
                used.add(idx)
                break
    return out


def _evidence(st: pd.Series, f: RouteFact) -> list[dict[str, Any]]:
    evid: list[dict[str, Any]] = [{"source": "function", "file": "function.log",
                                   "line_no": st["raw_line_no"], "summary": st["message"]}]
    evid += [{"source": "squid", "file": "proxy_access.log", "line_no": s.line_no,
              "summary": _squid_text(s)} for s in f.squid]
    if f.service is not None:
        evid.append({"source": "service", "file": "services.log", "line_no": f.service.line_no,
                     "summary": _hit_text(f.service)})
    evid += [{"source": "dns", "file": "dns.log", "line_no": d.line_no, "summary": _dns_text(d)}
             for d in f.dns]
    return evid


def _row(f: RouteFact, st: pd.Series, record: RunRecord, evid: list[dict[str, Any]],
         ) -> dict[str, Any]:
    d = f.decision
    dns = f.dns_from("proxy-vpc") or f.dns_from("lambda-vpc") or (f.dns[0] if f.dns else None)
    return {
        "run_id": f.run_id, "scenario": f.scenario, "function": record.scenario.function,
        "step": f.step, "host": f.host, "url": _str(st["target_url"]),
        "outcome": f.outcome, "status": st["status"],
        "route": f.route, "endpoint_kind": f.endpoint_kind, "route_guess": f.route_guess,
        "via": None if f.service is None else f.service.via,
        "vpce_id": None if f.service is None else f.service.vpce_id,
        "consistent": not f.flags,
        "flag": "; ".join(f"{x.kind}: {x.host}" + (f" ({x.detail})" if x.detail else "")
                          for x in f.flags) or None,
        "predicted_route": f.predicted_route, "predicted_kind": f.predicted_kind,
        "predicted_proxy": d.proxy, "predicted_host": d.request_host,
        "prediction_matches": f.prediction_matches, "basis": f.basis,
        "client": d.client, "reason": d.reason, "proxy_variable": d.proxy_variable,
        "no_proxy_variable": d.no_proxy_variable,
        "no_proxy_entry": None if d.match is None else d.match.entry,
        "match": None if d.match is None else d.match.how, "compared": d.compared,
        "endpoint_source": d.endpoint_source,
        "squid_line_no": f.squid[0].line_no if f.squid else None,
        "service_line_no": None if f.service is None else f.service.line_no,
        "dns_line_no": None if dns is None else dns.line_no,
        "evidence": "\n".join(f"[{e['source']}] {e['text']}" for e in evid),
    }


def _host_of(url: Any) -> str:
    if url is None or pd.isna(url):
        return ""
    from urllib.parse import urlsplit

    return (urlsplit(str(url)).hostname or "").lower()


def _classify_step(run_id: str, scenario: str, step: str, host: str, st: pd.Series,
                   hit: ServiceRef | None, sq_all: list[SquidRef], dq: list[DnsRef],
                   hits_all: pd.DataFrame, logged: bool, decision: predict.Decision,
                   predicted: tuple[Route, EndpointKind | None, PathReason]) -> RouteFact:
    outcome = str(st["outcome"])
    ok_sq = [s for s in sq_all if s.ok]
    failed_sq = [s for s in sq_all if not s.ok]
    p_route, p_kind, p_reason = predicted
    kind: EndpointKind | None = None
    flags: list[Flag] = []
    if hit is not None:
        if hit.via == Via.INTERNET:
            route = Route.PROXY if sq_all else Route.DIRECT
            if sq_all and not ok_sq:
                flags.append(Flag(FlagKind.SQUID_FAILED_FRONT_SAW, host, hit.service))
        else:
            route, kind = Route.ENDPOINT, (hit.via.endpoint_kind if hit.via else None)
            kind = kind or EndpointKind.INTERFACE
            same_host_internet = hits_all[(hits_all["host"] == host)
                                          & (hits_all["via"] == "internet")]
            if ok_sq and same_host_internet.empty:
                flags.append(Flag(FlagKind.TUNNEL_BUT_ENDPOINT, host, str(hit.via)))
        if outcome == "ok" and hit.status is not None and hit.status >= 400:
            flags.append(Flag(FlagKind.OK_BUT_FRONT_ERROR, host, str(hit.status)))
    elif sq_all:
        if failed_sq and not ok_sq:
            route = Route.FAILED_AT_PROXY
            if outcome == "ok":
                flags.append(Flag(FlagKind.OK_BUT_SQUID_FAILED, host))
        else:
            route = Route.PROXY
            if outcome == "ok" and logged:
                flags.append(Flag(FlagKind.TUNNEL_WITHOUT_FRONT, host))
    elif not logged and outcome == "ok":
        # No front log exists for this service here: Squid's silence plus success means
        # the request went some other way; the layout says which.
        if p_route == Route.ENDPOINT:
            route, kind = Route.ENDPOINT, p_kind
        else:
            route = Route.DIRECT
            if p_route.proxy_side:
                flags.append(Flag(FlagKind.PROXY_PREDICTED_SQUID_SILENT, host))
    else:
        route = Route.FAILED_DIRECT
        if outcome == "ok":
            flags.append(Flag(FlagKind.OK_WITHOUT_EVIDENCE, host))
        elif outcome == "tunnel_error":
            flags.append(Flag(FlagKind.TUNNEL_ERROR_WITHOUT_SQUID, host))
    matches = p_route == route and (p_kind == kind or p_route != Route.ENDPOINT)
    return RouteFact(
        run_id=run_id, scenario=scenario, step=step, host=host, outcome=outcome,
        route=Route.INCONSISTENT if flags else route, route_guess=route, endpoint_kind=kind,
        basis=Basis.OBSERVED if (hit is not None or sq_all or logged) else Basis.INFERRED,
        decision=decision, predicted_route=p_route, predicted_kind=p_kind, path_reason=p_reason,
        prediction_matches=None if flags else matches,
        squid=tuple(ok_sq + failed_sq), service=hit, dns=tuple(dq), flags=tuple(flags))
