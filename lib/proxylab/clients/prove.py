"""``proxylab audit ... --prove``: before production changes, show which requests the
audit's recommendation (its NO_PROXY value and VPC endpoints) would take off the proxy.

Two parts, both per client:

- **measured**: the chosen clients run in the lab's Lambda subnet against the hosts
  the lab serves that the audit saw in the lab's region (an S3 bucket under
  ``s3.<region>.amazonaws.com``, a regional execute-api id), with the region's
  recommended NO_PROXY in both spellings and the recommended endpoint layout applied;
  the route each took is read from Squid's log and the fronts as in the client matrix
  (a front's ``via`` says which endpoint carried it);
- **predicted**: every audited AWS host, by the same clients' rules
  (:mod:`proxylab.analysis.clients`, which the matrix test holds to the measured
  cells), with the whole recommended value; a host the rule sends direct counts as
  reaching an endpoint only if the recommendation has one for its region and service.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from proxylab.audit.recommend import Recommendations
from proxylab.awsdata.hostnames import classify
from proxylab.clients import check
from proxylab.clients.cases import Case
from proxylab.clients.matrix import Matrix
from proxylab.errors import UserError
from proxylab.labs.base import EndpointLayout, Lab
from proxylab.vocab import MeasuredRoute, StrEnum

DEFAULT_CLIENTS = ["urllib", "botocore", "botocore-crt", "requests", "httpx", "curl", "go",
                   "node-sdk-v3", "java-httpclient"]
PROXY_PLACEHOLDER = "http://proxy.invalid:3128"  # predicted part: any proxy will do


class Outcome(StrEnum):
    ENDPOINT = "endpoint"  # direct, and an endpoint of the recommendation carries it
    PROXY = "proxy"  # still through the proxy
    NO_ROUTE = "no-route"  # direct, but no endpoint serves it: it would time out
    IGNORES_ENV = "ignores-env"  # the client reads no variable: unchanged by NO_PROXY
    NOT_APPLICABLE = "n/a"
    NO_RULE = "no-rule"


@dataclass
class ProveResult:
    region: str | None  # the lab's region (the measured part's)
    no_proxy: str  # the value measured (the region's recommendation)
    layout: dict[str, bool]
    measured: Matrix | None
    predicted: dict[str, dict[str, Outcome]]  # host -> client -> outcome
    recommended: str  # the whole recommended NO_PROXY (all regions)
    skipped: list[str] = field(default_factory=list)  # why a part did not run


def _endpoint_for(recs: Recommendations, host: str) -> bool:
    info = classify(host)
    for region in recs.regions:
        if region.region == info.region and any(
                e.service == info.service and e.kind in ("gateway", "interface", "in-use")
                for e in region.endpoints):
            return True
    return False


def predict(recs: Recommendations, clients: list[str]) -> dict[str, dict[str, Outcome]]:
    """Per recommended NO_PROXY entry (its first audited host stands for all it covers,
    labelled ``entry (n hosts)``) and per AWS host that stays on the proxy."""
    groups: dict[str, str] = {}
    for region in recs.regions:
        for e in region.entries:
            if e.hosts:
                groups.setdefault(e.hosts[0], f"{e.suffix} ({len(e.hosts)} hosts)")
    for s in recs.stay_on_proxy:
        if classify(s.host).is_aws:
            groups.setdefault(s.host, s.host)
    hosts = list(groups)
    env = {n: PROXY_PLACEHOLDER for n in ("https_proxy", "HTTPS_PROXY")}
    env.update({n: recs.no_proxy_all for n in check.NO_PROXY_NAMES})
    out: dict[str, dict[str, Outcome]] = {}
    for host in hosts:
        row = {}
        for client in clients:
            r = check.route(client, env, host)
            if r == check.HostRoute.DIRECT:
                row[client] = Outcome.ENDPOINT if _endpoint_for(recs, host) else Outcome.NO_ROUTE
            else:
                row[client] = {check.HostRoute.PROXY: Outcome.PROXY,
                               check.HostRoute.NO_PROXY_SET: Outcome.PROXY,
                               check.HostRoute.IGNORES_ENV: Outcome.IGNORES_ENV,
                               check.HostRoute.NOT_APPLICABLE: Outcome.NOT_APPLICABLE,
                               }.get(r, Outcome.NO_RULE)
        out[groups[host]] = row
    return out


def layout_for(recs: Recommendations, region: str, base: EndpointLayout) -> EndpointLayout:
    """The lab's layout with the endpoints the recommendation names for ``region``."""
    eps = next((r.endpoints for r in recs.regions if r.region == region), [])
    s3 = any(e.service == "s3" and e.kind == "gateway" for e in eps)
    api = any(e.service == "execute-api" and e.kind == "interface" for e in eps)
    return replace(base, s3_gateway=s3, execute_api_interface=api,
                   execute_api_private_dns=api and base.execute_api_private_dns)


def _cases(no_proxy: str, targets: list[str]) -> list[Case]:
    """Per target, the proxy alone (before) and with the recommended NO_PROXY (after)."""
    value = no_proxy.replace("{", "{{").replace("}", "}}")
    proxy = (("https_proxy", "{proxy}"), ("HTTPS_PROXY", "{proxy}"))
    after = proxy + (("no_proxy", value), ("NO_PROXY", value))
    names = {"s3": "an S3 object in the audited region", "api": "the regional API"}
    return [c for t in targets for c in (
        Case(f"before-{t}", f"the proxy, no NO_PROXY, {names[t]}", t, proxy),
        Case(f"after-{t}", f"the recommended NO_PROXY, {names[t]}", t, after))]


def prove(recs: Recommendations, lab: Lab, clients: list[str] | None = None, *,
          timeout_s: float = 3.0, keep_lab: bool = False, say=lambda _: None) -> ProveResult:
    from proxylab.clients import registry
    from proxylab.clients.measure import measure

    chosen = clients or DEFAULT_CLIENTS
    specs = registry.select(chosen)
    predicted = predict(recs, chosen)
    desc = lab.describe()
    region = desc.resources.get("region") or getattr(lab, "region", None)
    skipped: list[str] = []
    rr = next((r for r in recs.regions if r.region == region), None)
    if rr is None:
        skipped.append(f"the audit has no AWS traffic in the lab's region {region}: nothing "
                       f"to measure (bring a lab up with --region <one of "
                       f"{', '.join(r.region for r in recs.regions) or 'none'}>)")
        return ProveResult(region, "", {}, None, predicted, recs.no_proxy_all, skipped)
    services = {e.service for e in rr.entries}
    targets = [t for t, svc in (("s3", "s3"), ("api", "execute-api")) if svc in services]
    if not targets:
        raise UserError(f"the audit's {region} traffic has no S3 or execute-api host, the "
                        "services the lab serves")
    layout = layout_for(recs, rr.region, desc.endpoints if desc.up else EndpointLayout())
    say(f"proving NO_PROXY={rr.no_proxy!r} with S3 gateway {layout.s3_gateway}, execute-api "
        f"interface {layout.execute_api_interface} in {region}")
    matrix = measure(lab, specs, _cases(rr.no_proxy, targets), timeout_s=timeout_s,
                     keep_lab=keep_lab, say=say, layout=layout)
    return ProveResult(region, rr.no_proxy, {"s3_gateway": layout.s3_gateway,
                                             "execute_api_interface":
                                                 layout.execute_api_interface},
                       matrix, predicted, recs.no_proxy_all, skipped)


def via_of(evidence: str) -> str:
    """The front's ``via`` in a cell's evidence (``gateway-endpoint``, ...), or ""."""
    marker = "via "
    if marker not in evidence:
        return ""
    return evidence.split(marker, 1)[1].split(",", 1)[0].strip()


def text(result: ProveResult) -> str:
    out = ["## Proving the recommendation", ""]
    for s in result.skipped:
        out.append(f"- not measured: {s}")
    m = result.measured
    if m is not None:
        out += [f"Measured in the lab ({result.region}), NO_PROXY={result.no_proxy!r}, "
                f"layout {result.layout}:", "",
                "| client | target | route | how it arrived | rule agrees |",
                "|---|---|---|---|---|"]
        for cell in m.cells:
            if cell.route is None:
                out.append(f"| {cell.client} | {cell.case} | {cell.note} | | |")
                continue
            how = via_of(cell.evidence) or ("squid" if cell.route == MeasuredRoute.PROXY
                                             else cell.evidence)
            out.append(f"| {cell.client} {cell.version} | {cell.case} | {cell.route} | {how} | "
                       f"{cell.agreement} |")
    clients = sorted({c for row in result.predicted.values() for c in row},
                     key=list(next(iter(result.predicted.values()), {})).index)
    out += ["", f"Predicted for every audited AWS host, NO_PROXY={result.recommended!r}:", "",
            "| host | " + " | ".join(clients) + " |", "|---|" + "---|" * len(clients)]
    for host, row in result.predicted.items():
        out.append(f"| {host} | " + " | ".join(str(row[c]) for c in clients) + " |")
    return "\n".join(out) + "\n"
