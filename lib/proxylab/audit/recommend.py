"""Per-region NO_PROXY values and VPC endpoints that would take AWS traffic off the proxy.

Rules (see shared PROXY_FACTS): the NO_PROXY value must work in urllib, botocore
(which asks urllib once per client, about its *base* endpoint host), requests and
curl alike, so it holds only plain domain suffixes: no ``*.`` globs (urllib never
matches them), no CIDRs (urllib and botocore ignore them), no ports. One suffix per
endpoint family: ``s3.<region>.amazonaws.com`` covers every virtual-hosted bucket,
``execute-api.<region>.amazonaws.com`` every API id. For us-east-1 S3 both the
regional and the legacy global host ``s3.amazonaws.com`` are listed, because boto3's
default client there still targets the global host.

"Per region" means: for a VPC in that region. Gateway and interface endpoints
serve their own region only, so global endpoints (``iam.amazonaws.com``,
``sts.amazonaws.com``) are attributed to their signing region (us-east-1).
Traffic no VPC endpoint can carry (Lambda function URLs, unrecognised AWS names,
non-AWS hosts) is listed as staying on the proxy instead of being bypassed into a
black hole.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from proxylab.awsdata.endpoints import botocore_default_host
from proxylab.awsdata.hostnames import (
    AWS_OTHER,
    EXECUTE_API,
    LAMBDA_URL,
    S3_BUCKET,
    VPCE,
    HostInfo,
    endpoint_url_env,
)

GATEWAY_SERVICES = frozenset({"s3", "dynamodb"})


@dataclass
class HostTraffic:
    """One destination host seen in the log, with its totals and classification."""

    host: str
    requests: int
    bytes: int
    info: HostInfo
    ports: tuple[int, ...] = ()


@dataclass
class NoProxyEntry:
    suffix: str
    service: str | None
    hosts: list[str] = field(default_factory=list)
    requests: int = 0
    bytes: int = 0
    reason: str = ""


@dataclass
class EndpointRec:
    region: str
    service: str
    kind: str  # gateway | interface | in-use (traffic already uses vpce names)
    service_name: str  # the VPC endpoint service name, e.g. com.amazonaws.ap-northeast-1.s3
    private_dns: bool
    endpoint_url_env: str | None
    endpoint_url_required: str
    requests: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class RegionRecommendation:
    region: str
    partition: str | None
    no_proxy: str
    entries: list[NoProxyEntry]
    endpoints: list[EndpointRec]
    requests: int
    bytes: int


@dataclass
class StayOnProxy:
    host: str
    requests: int
    bytes: int
    reason: str


@dataclass
class Recommendations:
    regions: list[RegionRecommendation]
    no_proxy_all: str
    stay_on_proxy: list[StayOnProxy]

    @property
    def direct_hosts(self) -> list[str]:
        return sorted({h for r in self.regions for e in r.entries for h in e.hosts})


def no_proxy_suffix(info: HostInfo) -> tuple[str, str] | None:
    """The NO_PROXY entry covering a host, with why; None if it must stay on the proxy."""
    h = info.host
    if not info.is_aws or not info.region:
        return None
    if info.flavour == LAMBDA_URL:
        return None
    if info.flavour == AWS_OTHER or not info.service:
        return None
    if info.flavour == S3_BUCKET and info.bucket:
        return h[len(info.bucket) + 1 :], "suffix of every virtual-hosted bucket"
    if info.flavour == EXECUTE_API and info.api_id:
        return h[len(info.api_id) + 1 :], "suffix of every API id (urllib calls, no AWS variable)"
    if info.flavour == VPCE:
        labels = h.split(".")
        i = labels.index(info.service) if info.service in labels else 0
        return ".".join(labels[i:]), "endpoint-specific names of this interface endpoint"
    return h, "service endpoint host (also botocore's base-host proxy decision)"


def stay_reason(info: HostInfo) -> str:
    if not info.is_aws:
        return "not AWS: must keep using the proxy"
    if info.flavour == LAMBDA_URL:
        return "Lambda function URL: no VPC endpoint (PrivateLink) serves it; needs proxy or NAT"
    return "AWS name of unknown shape: no endpoint can be recommended"


def endpoint_service_name(info: HostInfo, service: str) -> str:
    prefix = "cn.com.amazonaws" if info.partition == "aws-cn" else "com.amazonaws"
    return f"{prefix}.{info.region}.{service}{'-fips' if info.fips else ''}"


def _covers(suffix: str, host: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def recommend(traffic: list[HostTraffic], check_botocore: bool = True) -> Recommendations:
    """Group the AWS traffic by region and derive NO_PROXY entries and endpoints."""
    by_region: dict[str, dict[str, NoProxyEntry]] = defaultdict(dict)
    endpoints: dict[tuple[str, str], EndpointRec] = {}
    partitions: dict[str, str | None] = {}
    stay: list[StayOnProxy] = []
    seen_services: dict[str, set[str]] = defaultdict(set)
    for t in sorted(traffic, key=lambda t: (-t.requests, t.host)):
        info = t.info
        sfx = no_proxy_suffix(info)
        if sfx is None:
            stay.append(StayOnProxy(t.host, t.requests, t.bytes, stay_reason(info)))
            continue
        region = info.region or ""
        partitions[region] = info.partition
        suffix, reason = sfx
        entry = by_region[region].setdefault(suffix, NoProxyEntry(suffix, info.service,
                                                                  reason=reason))
        entry.hosts.append(t.host)
        entry.requests += t.requests
        entry.bytes += t.bytes
        _add_endpoint(endpoints, info, t)
        if info.flavour not in (VPCE, EXECUTE_API):
            seen_services[region].add(info.service or "")
    for region, entries in by_region.items():
        if "s3" in seen_services[region] and region == "us-east-1":
            for extra in ("s3.amazonaws.com", "s3.us-east-1.amazonaws.com"):
                if not any(_covers(e, extra) for e in entries):
                    entries[extra] = NoProxyEntry(
                        extra, "s3", reason="us-east-1 S3: boto3's default is the global host "
                        "s3.amazonaws.com, AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=regional uses the "
                        "regional one; list both")
        if check_botocore:
            for svc in sorted(seen_services[region]):
                base = botocore_default_host(svc, region)
                if base and not any(_covers(e, base) for e in entries):
                    entries[base] = NoProxyEntry(
                        base, svc, reason="botocore's default client host for this service and "
                        "region (the proxy decision is made on it)")
    regions = []
    for region in sorted(by_region):
        entries = sorted(by_region[region].values(), key=lambda e: (-e.requests, e.suffix))
        eps = sorted((e for (r, _k), e in endpoints.items() if r == region),
                     key=lambda e: (-e.requests, e.service))
        regions.append(RegionRecommendation(
            region, partitions.get(region), ",".join(e.suffix for e in entries), entries, eps,
            sum(e.requests for e in entries), sum(e.bytes for e in entries)))
    union: list[str] = []
    for r in regions:
        for e in r.entries:
            if e.suffix not in union:
                union.append(e.suffix)
    return Recommendations(regions, ",".join(union), stay)


def _add_endpoint(endpoints: dict, info: HostInfo, t: HostTraffic) -> None:
    svc = info.service or ""
    region = info.region or ""
    key = (region, svc + ("-fips" if info.fips else "") + ("/vpce" if info.flavour == VPCE else ""))
    ep = endpoints.get(key)
    if ep is None:
        env = None if svc == "execute-api" else endpoint_url_env(svc)
        if info.flavour == VPCE:
            ep = EndpointRec(region, svc, "in-use", endpoint_service_name(info, svc), False, env,
                             "yes (vpce names in use)")
            ep.notes.append(
                f"clients already address the endpoint-specific names "
                f"(*.{info.host.split('.', 1)[-1]}); SDK clients get there only through "
                f"{env or 'an explicit endpoint_url'}=https://<endpoint DNS name>")
        elif svc in GATEWAY_SERVICES:
            ep = EndpointRec(region, svc, "gateway", endpoint_service_name(info, svc), False, env,
                             "no (gateway keeps public names)")
        else:
            ep = EndpointRec(region, svc, "interface", endpoint_service_name(info, svc), True, env,
                             "only without private DNS")
            if svc == "execute-api":
                ep.endpoint_url_env = None
                ep.endpoint_url_required = "n/a (not an SDK client)"
                ep.notes.append("invoke URLs are called with plain HTTP clients (urllib, "
                                "requests): no AWS_ENDPOINT_URL_* variable applies; NO_PROXY "
                                "and private DNS do the work")
                ep.notes.append("with private DNS on, public regional APIs called from this VPC "
                                "through the endpoint answer 403")
        endpoints[key] = ep
    ep.requests += t.requests
    ep.bytes += t.bytes
    if info.region and info.flavour == "global":
        note = f"global endpoint {info.host} signs in {info.region}: endpoint in that region"
        if note not in ep.notes:
            ep.notes.append(note)
