"""Every host a function contacted, from the evidence alone: its route and its why.

The probe's step lines name the hosts its steps meant to reach; a user's own
handler writes none. So the hosts come from what the lab saw - Squid's lines from
the function's address (CONNECT targets and absolute URIs), the service fronts'
records, and the names the function asked the Lambda VPC's resolver for - joined
by host within the invocation's time window (the capture's window when the log
lines carry no invocation times), never by probe step.

Each host gets a :class:`~proxylab.analysis.routes.RouteFact` whose ``step`` is
the host itself (the host is the unit, and the report's fact keys stay distinct),
so the report words it with the same parts, in every language, as a probe step.
The prediction assumes the client a function would use
for the host: botocore with a default client for an AWS service's host (deciding
against the client's endpoint host: the bucket's virtual host is tested as
``s3.<region>...``), urllib for the rest (execute-api included: APIs are called
over HTTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from proxylab.analysis import predict
from proxylab.analysis.routes import (
    DnsRef,
    RouteFact,
    ServiceRef,
    SquidRef,
    _dns_ref,
    _service_ref,
    _squid_ref,
)
from proxylab.logs.tables import Tables
from proxylab.vocab import Basis, Client, EndpointKind, Route, Via

SLACK = pd.Timedelta(seconds=2)
HOST_COLUMNS = ["run_id", "scenario", "host", "route", "endpoint_kind", "client",
                "predicted_route", "prediction_matches", "squid_lines", "service_lines",
                "dns_lines"]


@dataclass(frozen=True)
class HostContacts:
    """Per host of each run: the facts (``facts[i]`` is ``frame`` row i)."""

    frame: pd.DataFrame
    facts: list[RouteFact]

    def of_run(self, run_id: str) -> list[RouteFact]:
        return [f for f in self.facts if f.run_id == run_id]


def _window(tables: Tables, run_id: str) -> tuple[Any, Any] | None:
    inv = tables.invocations
    inv = inv[inv["run_id"] == run_id] if "run_id" in inv else inv.iloc[0:0]
    if inv.empty or inv["start_ts"].isna().all() or inv["end_ts"].isna().all():
        return None
    return inv["start_ts"].min() - SLACK, inv["end_ts"].max() + SLACK


def _within(df: pd.DataFrame, window: tuple[Any, Any] | None) -> pd.DataFrame:
    """Rows whose request began in the window and ended after it began. A row's ``ts``
    is when it was logged - for Squid, when the tunnel closed, which may be well after
    the invocation (the execution environment is stopped after it) - so a row with an
    ``elapsed_ms`` is placed at its start."""
    if window is None or df.empty:
        return df
    ts = df["ts"]
    start = ts
    if "elapsed_ms" in df:
        start = ts - pd.to_timedelta(df["elapsed_ms"].fillna(0).astype("float64"), unit="ms")
    return df[ts.isna() | ((start <= window[1]) & (ts >= window[0]))]


def host_contacts(tables: Tables) -> HostContacts:
    """The hosts every run's function contacted, each classified and predicted."""
    facts: list[RouteFact] = []
    rows: list[dict[str, Any]] = []
    for run_id, record in tables.records.items():
        res = dict(record.resources)
        env = dict(record.env)
        layout = record.layout.to_dict()
        allowlist = record.lab.endpoints.proxy.allowlist
        fn_ip = res.get("function_ip")
        win = _window(tables, run_id)
        sq = _within(tables.proxy_requests[tables.proxy_requests["run_id"] == run_id], win)
        if fn_ip:
            sq = sq[sq["client_ip"] == fn_ip]
        proxy_ip = res.get("proxy_ip")
        sq = sq[sq["host"].notna()]
        if proxy_ip:  # urllib's CONNECT for the proxy's own address is no contact
            sq = sq[(sq["host"] != proxy_ip).fillna(True)]
        hits = _within(tables.service_hits[tables.service_hits["run_id"] == run_id], win)
        dq = _within(tables.dns_queries[tables.dns_queries["run_id"] == run_id], win)
        asked = dq[dq["resolver"] == "lambda-vpc"]
        hosts = list(dict.fromkeys([*sq["host"].str.lower(), *hits["host"].str.lower(),
                                    *asked["name"].str.lower()]))
        for host in hosts:
            if not host or host == proxy_ip:
                continue
            s = [_squid_ref(r, allowlist) for _, r in sq[sq["host"].str.lower() == host]
                 .iterrows()]
            h = [_service_ref(r) for _, r in hits[hits["host"].str.lower() == host].iterrows()]
            d = [_dns_ref(r) for _, r in dq[dq["name"].str.lower() == host].iterrows()]
            http = any(x.url.startswith("http://") for x in s)  # an absolute-URI request
            decision = _decision(host, "http" if http else "https", env, res)
            p_route, p_kind, p_reason = predict.predicted_route(decision, layout, res)
            fact = _fact(run_id, record.scenario.id, host, s, h, d, decision,
                         (Route(p_route), p_kind, p_reason))
            facts.append(fact)
            rows.append({"run_id": run_id, "scenario": record.scenario.id, "host": host,
                         "route": str(fact.route), "endpoint_kind": fact.endpoint_kind,
                         "client": str(decision.client), "predicted_route": str(p_route),
                         "prediction_matches": fact.prediction_matches,
                         "squid_lines": len(s), "service_lines": len(h), "dns_lines": len(d)})
    return HostContacts(pd.DataFrame(rows, columns=HOST_COLUMNS), facts)


def _decision(host: str, scheme: str, env: dict[str, str], res: dict[str, str],
              ) -> predict.Decision:
    """The decision of the client a function would use for ``host`` (see module doc)."""
    from proxylab.awsdata import hostnames

    info = hostnames.classify(host)
    if info.is_aws and info.service not in (None, "execute-api"):
        endpoint_host = host[len(info.bucket) + 1:] if info.bucket else host
        return predict._decision("", Client.BOTOCORE, f"{scheme}://{host}/", host,
                                 endpoint_host, endpoint_host, scheme, env,
                                 service=info.service)
    return predict._decision("", Client.URLLIB, f"{scheme}://{host}/", host, host, host,
                             scheme, env)


def _fact(run_id: str, scenario: str, host: str, squid: list[SquidRef],
          hits: list[ServiceRef], dns: list[DnsRef], decision: predict.Decision,
          predicted: tuple[Route, EndpointKind | None, Any]) -> RouteFact:
    ok_sq = [x for x in squid if x.ok]
    failed_sq = [x for x in squid if not x.ok]
    endpoint_hits = [x for x in hits if x.via not in (None, Via.INTERNET)]
    internet_hits = [x for x in hits if x.via == Via.INTERNET]
    kind: EndpointKind | None = None
    if endpoint_hits:
        route = Route.ENDPOINT
        kind = endpoint_hits[0].via.endpoint_kind if endpoint_hits[0].via else None
        kind = kind or EndpointKind.INTERFACE
    elif internet_hits:
        route = Route.PROXY if squid else Route.DIRECT
    elif ok_sq:
        route = Route.PROXY
    elif failed_sq:
        route = Route.FAILED_AT_PROXY
    else:
        route = Route.FAILED_DIRECT
    # a host reached by two ways in one run (two clients, or a retry elsewhere)
    mixed = bool(endpoint_hits) and bool(ok_sq)
    hit = (endpoint_hits or internet_hits or [None])[0]
    status = hit.status if hit is not None else None
    outcome = ("ok" if status is not None and status < 400 else
               "http_error" if status is not None else
               "ok" if ok_sq else "tunnel_error" if failed_sq else "other")
    p_route, p_kind, p_reason = predicted
    matches = p_route == route and (p_kind == kind or p_route != Route.ENDPOINT)
    return RouteFact(
        run_id=run_id, scenario=scenario, step=host, host=host, outcome=outcome,
        route=Route.INCONSISTENT if mixed else route, route_guess=route, endpoint_kind=kind,
        basis=Basis.OBSERVED, decision=decision, predicted_route=p_route, predicted_kind=p_kind,
        path_reason=p_reason, prediction_matches=None if mixed else matches,
        squid=tuple(ok_sq + failed_sq), service=hit, dns=tuple(dns))
