"""Classify destination host names as AWS endpoints, from botocore's own data.

Why botocore's data and not a hand-written list: the set of services, regions,
partitions and endpoint variants changes every month; botocore ships it
(``endpoints.json`` for hostnames and FIPS/dual-stack variants, ``partitions.json``
for region patterns and DNS suffixes, service models for endpoint prefixes and
service ids). Only host shapes botocore cannot know are patterns here: virtual-hosted
S3 bucket names, API Gateway invoke URLs (``<api-id>.execute-api...``; the shape
comes from the ``apigatewaymanagementapi`` rule set, the only model with that
prefix), Lambda function URLs (``<url-id>.lambda-url.<region>.on.aws``) and
endpoint-specific VPC endpoint names (``....<region>.vpce.amazonaws.com``).

Classification runs once per distinct host after aggregation, so it can afford
Python; the tables derived from botocore's data are built lazily and cached on disk
per botocore version (:func:`_tables`).
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import marshal
import os
import re
from dataclasses import dataclass, field

from proxylab.awsdata.cache import FORMAT, cache_file, loader, write_cache
from proxylab.grammar.hostport import split_authority
from proxylab.vocab import Flavour

# Flavours: the vocabulary's (plain strings in the marshal cache: a StrEnum is one).
REGIONAL, GLOBAL, S3_BUCKET = Flavour.REGIONAL, Flavour.GLOBAL, Flavour.S3_BUCKET
EXECUTE_API, LAMBDA_URL, VPCE = Flavour.EXECUTE_API, Flavour.LAMBDA_URL, Flavour.VPCE
AWS_OTHER, NON_AWS = Flavour.AWS_OTHER, Flavour.NON_AWS


@dataclass(frozen=True)
class HostInfo:
    """What a destination host is, as far as endpoint routing is concerned."""

    host: str
    is_aws: bool = False
    service: str | None = None  # endpoint prefix, e.g. "s3", "execute-api", "monitoring"
    region: str | None = None
    partition: str | None = None
    flavour: str = NON_AWS
    fips: bool = False
    dualstack: bool = False
    bucket: str | None = None
    api_id: str | None = None
    url_id: str | None = None
    vpce_id: str | None = None
    dns_suffix: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        """Flavour plus variant tags, e.g. ``regional+fips+dualstack``."""
        tags = [self.flavour] + (["fips"] if self.fips else []) + (
            ["dualstack"] if self.dualstack else []
        )
        return "+".join(tags)


@dataclass(frozen=True)
class _Partition:
    name: str
    region_re: re.Pattern
    dns_suffix: str
    dualstack_suffix: str | None
    global_region: str
    regions: frozenset[str]


@functools.lru_cache(maxsize=1)
def _partitions() -> tuple[_Partition, ...]:
    """The partitions, from the cached tables (see :func:`_build_partitions`)."""
    return tuple(_Partition(name, re.compile(rx), dns, ds, glob, frozenset(regions))
                 for name, rx, dns, ds, glob, regions in _tables()["partitions"])


def partitions() -> tuple[_Partition, ...]:
    """Every partition botocore knows (name, region pattern, DNS suffixes, regions)."""
    return _partitions()


def _build_partitions() -> list[tuple]:
    """Partitions from partitions.json (regex, suffixes) joined with endpoints.json
    regions, as plain tuples for the cache."""
    return [(p.name, p.region_re.pattern, p.dns_suffix, p.dualstack_suffix, p.global_region,
             sorted(p.regions)) for p in _derive_partitions()]


@functools.lru_cache(maxsize=1)
def _derive_partitions() -> tuple[_Partition, ...]:
    botocore_data = loader()
    endpoints = botocore_data.load_data("endpoints")
    regions_by = {p["partition"]: frozenset(p["regions"]) for p in endpoints["partitions"]}
    out = []
    for p in botocore_data.load_data("partitions")["partitions"]:
        o = p["outputs"]
        out.append(
            _Partition(
                name=p["id"],
                region_re=re.compile(p["regionRegex"]),
                dns_suffix=o["dnsSuffix"],
                dualstack_suffix=o.get("dualStackDnsSuffix"),
                global_region=o.get("implicitGlobalRegion", ""),
                regions=regions_by.get(p["id"], frozenset()) | frozenset(p.get("regions", {})),
            )
        )
    return tuple(out)


def partition_for_region(region: str, parts: tuple[_Partition, ...] | None = None
                         ) -> _Partition | None:
    """The partition whose explicit regions or region pattern claim ``region``."""
    parts = _partitions() if parts is None else parts
    for p in parts:
        if region in p.regions:
            return p
    for p in parts:
        if p.region_re.match(region):
            return p
    return None


def _suffixes() -> list[tuple[str, _Partition, bool]]:
    """(suffix, partition, is_dualstack) longest first, so amazonaws.com.cn beats .com."""
    out: list[tuple[str, _Partition, bool]] = []
    for p in _partitions():
        out.append((p.dns_suffix, p, False))
        if p.dualstack_suffix:
            out.append((p.dualstack_suffix, p, True))
    return sorted(out, key=lambda t: -len(t[0]))


def _fill(template: str, service: str, region: str, suffix: str) -> str:
    return (
        template.replace("{service}", service).replace("{region}", region)
        .replace("{dnsSuffix}", suffix)
    )


def _known_hosts() -> dict[str, HostInfo]:
    """Every hostname endpoints.json spells out (defaults, overrides, FIPS/dual-stack
    variants), from the cached tables (see :func:`_tables`)."""
    return {h: _known_info(h, t) for h, t in _tables()["known"].items()}


def _known_info(host: str, packed: str) -> HostInfo:
    """A host-table value, packed as tab-separated text (loads 5x faster than tuples)."""
    svc, region, part, flavour, fips, dual, suffix = packed.split("\t")
    return HostInfo(host, True, svc or None, region or None, part or None, flavour,
                    fips=fips == "1", dualstack=dual == "1", dns_suffix=suffix or None)


def _pack(i: HostInfo) -> str:
    return "\t".join([i.service or "", i.region or "", i.partition or "", i.flavour,
                      "1" if i.fips else "0", "1" if i.dualstack else "0", i.dns_suffix or ""])




def _tablescache_file() -> str:
    return cache_file("tables", "marshal")


@functools.lru_cache(maxsize=1)
def _tables() -> dict:
    """The host table and the service index, derived from botocore's data once and cached
    on disk (``marshal`` of strings: loads in ~5-30 ms, where deriving them costs ~0.15 s
    of each audit's start-up). An unreadable or unwritable cache just means deriving."""
    path = _tablescache_file()
    try:
        with open(path, "rb") as fh:
            tables = marshal.load(fh)
        if isinstance(tables, dict) and tables.get("format") == FORMAT:
            return tables
    except (OSError, EOFError, ValueError, TypeError):
        pass
    tables = build_tables()
    write_cache(path, lambda fh: marshal.dump(tables, fh), binary=True)
    return tables


def preload() -> None:
    """Load the host tables now (from their cache: a ``marshal.load`` of ~30 ms), e.g. in
    a thread while the audit's compiled reader scans without the GIL, so classifying
    hosts afterwards does not wait for it."""
    _tables()


def build_tables() -> dict:
    """Derive the tables from botocore's data (what :func:`_tables` caches)."""
    known = {h: _pack(i) for h, i in _build_known_hosts().items()}
    return {"format": FORMAT, "known": known, "services": _build_service_index(),
            "partitions": _build_partitions(), "services_in": _build_services_in()}


def _build_known_hosts() -> dict[str, HostInfo]:
    table: dict[str, HostInfo] = {}
    parts = _derive_partitions()  # not the cached tables: this builds them
    for p in loader().load_data("endpoints")["partitions"]:
        pname = p["partition"]
        pdefaults = p.get("defaults", {})
        for svc, sdata in p["services"].items():
            sdefaults = sdata.get("defaults", {})
            global_ep = (
                sdata.get("partitionEndpoint") if sdata.get("isRegionalized") is False else None
            )
            for ep_name, ep in sdata.get("endpoints", {}).items():
                scope = ep.get("credentialScope", {}).get("region")
                is_global = ep_name == global_ep or ep_name.startswith("aws-global") or (
                    not partition_for_region(ep_name, parts) and scope is not None
                    and "fips" not in ep_name
                )
                region = scope or ep_name
                fips_name = "fips" in ep_name
                base = ep.get("hostname") or sdefaults.get("hostname") or pdefaults.get("hostname")
                if base:
                    host = _fill(base, svc, ep_name, p["dnsSuffix"])
                    table.setdefault(host, HostInfo(
                        host, True, svc, region, pname, GLOBAL if is_global else REGIONAL,
                        fips=fips_name or "-fips" in host, dns_suffix=p["dnsSuffix"]))
                variants = list(ep.get("variants", []))
                if not ep.get("deprecated"):
                    variants += sdefaults.get("variants", []) + pdefaults.get("variants", [])
                for v in variants:
                    tags = v.get("tags", [])
                    tmpl = v.get("hostname")
                    if not tmpl:
                        continue
                    host = _fill(tmpl, svc, ep_name, v.get("dnsSuffix", p["dnsSuffix"]))
                    if "{" in host or not partition_for_region(region or "", parts):
                        continue
                    table.setdefault(host, HostInfo(
                        host, True, svc, region, pname, GLOBAL if is_global else REGIONAL,
                        fips="fips" in tags, dualstack="dualstack" in tags,
                        dns_suffix=v.get("dnsSuffix", p["dnsSuffix"])))
    return table


def service_index() -> dict[str, list[tuple[str, str]]]:
    """endpoint prefix -> [(botocore service name, serviceId)], from the service models
    (cached with the host table, see :func:`_tables`)."""
    return _tables()["services"]


def _build_service_index() -> dict[str, list[tuple[str, str]]]:
    """endpoint prefix -> [(botocore service name, serviceId)], from the service models.

    Reads only the head of each (gzipped) ``service-2.json``, where ``metadata`` sits,
    so indexing ~450 models costs milliseconds instead of seconds.
    """
    botocore_data = loader()
    pref_re = re.compile(rb'"endpointPrefix"\s*:\s*"([^"]+)"')
    id_re = re.compile(rb'"serviceId"\s*:\s*"([^"]+)"')
    index: dict[str, list[tuple[str, str]]] = {}
    for name in botocore_data.list_available_services("service-2"):
        head = b""
        for base in botocore_data.search_paths:
            d = os.path.join(base, name)
            if not os.path.isdir(d):
                continue
            version = sorted(os.listdir(d))[-1]
            for fn in ("service-2.json.gz", "service-2.json"):
                path = os.path.join(d, version, fn)
                if os.path.exists(path):
                    opener = gzip.open if fn.endswith(".gz") else open
                    with opener(path, "rb") as fh:  # type: ignore[operator]
                        head = fh.read(8192)
                    break
            if head:
                break
        mp, mi = pref_re.search(head), id_re.search(head)
        if not (mp and mi):
            md = botocore_data.load_service_model(name, "service-2")["metadata"]
            prefix, sid = md.get("endpointPrefix"), md.get("serviceId", name)
        else:
            prefix, sid = mp.group(1).decode(), mi.group(1).decode()
        if prefix:
            index.setdefault(prefix, []).append((name, sid))
    for v in index.values():
        v.sort()
    return index


def endpoint_url_env(service: str) -> str | None:
    """``AWS_ENDPOINT_URL_<SERVICE>`` for an endpoint prefix (botocore's naming rule).

    The service id of the model with this prefix, spaces and hyphens to ``_``, upper
    case; where several models share a prefix, the one named like the prefix wins.
    """
    cands = service_index().get(service)
    if not cands:
        return None
    named = [c for c in cands if c[0] == service]
    sid = (named or cands)[0][1]
    return "AWS_ENDPOINT_URL_" + re.sub(r"[\s-]+", "_", sid).upper()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


@functools.lru_cache(maxsize=65536)
def classify(host: str) -> HostInfo:
    """Classify one host name (no port). Unknown and non-AWS hosts come back as such."""
    h = host.strip().rstrip(".").lower()
    if not h or _is_ip(h):
        return HostInfo(h)
    known = _tables()["known"].get(h)
    if known is not None:
        return _known_info(h, known)
    if h.endswith(".on.aws"):
        return _classify_on_aws(h)
    for suffix, part, ds_suffix in _suffixes():
        if h.endswith("." + suffix):
            return _classify_in_partition(h, h[: -len(suffix) - 1].split("."), part, suffix,
                                          ds_suffix)
    return HostInfo(h)


def _classify_on_aws(h: str) -> HostInfo:
    labels = h[: -len(".on.aws")].split(".")
    if len(labels) == 3 and labels[1] == "lambda-url":
        part = partition_for_region(labels[2])
        return HostInfo(h, True, "lambda", labels[2], part.name if part else None, LAMBDA_URL,
                        url_id=labels[0], dns_suffix="on.aws")
    return HostInfo(h, True, flavour=AWS_OTHER, dns_suffix="on.aws")


def _region_index(labels: list[str]) -> int | None:
    for i in range(len(labels) - 1, -1, -1):
        if partition_for_region(labels[i]):
            return i
    return None


def _classify_in_partition(h, labels, part: _Partition, suffix, ds_suffix) -> HostInfo:
    known_services = _services_in(part.name)
    info = dict(partition=part.name, dns_suffix=suffix, dualstack=ds_suffix)
    # Endpoint-specific VPC endpoint names: <...>.<service>.<region>.vpce.<suffix>
    if labels[-1] == "vpce" and len(labels) >= 3:
        region, svc = labels[-2], labels[-3]
        vpce = next((lb for lb in labels[:-3] if lb.startswith("vpce-")), None)
        return HostInfo(h, True, svc, region, part.name, VPCE, vpce_id=vpce,
                        bucket=labels[0] if svc == "s3" and len(labels) > 4 else None,
                        dns_suffix=suffix)
    ri = _region_index(labels)
    if ri is not None and partition_for_region(labels[ri]).name != part.name:
        # aws-us-gov shares amazonaws.com with aws: the region decides.
        part = partition_for_region(labels[ri])
        info["partition"] = part.name
    region = labels[ri] if ri is not None else None
    head = labels[:ri] if ri is not None else labels
    # API Gateway invoke URLs: <api-id>.execute-api.<region>.<suffix>
    if len(head) == 2 and head[1] == "execute-api" and region:
        return HostInfo(h, True, "execute-api", region, info["partition"], EXECUTE_API,
                        api_id=head[0], dualstack=ds_suffix, dns_suffix=suffix)
    s3 = _classify_s3(h, head, labels, ri, region, part, info)
    if s3 is not None:
        return s3
    if region and head:
        svc, fips = head[-1], False
        if svc.endswith("-fips"):
            svc, fips = svc[: -len("-fips")], True
        if svc in known_services or svc in service_index():
            return HostInfo(h, True, svc, region, info["partition"], REGIONAL, fips=fips,
                            dualstack=ds_suffix or "dualstack" in head, dns_suffix=suffix)
    if ri is None and len(labels) == 1:
        svc, fips = labels[0], labels[0].endswith("-fips")
        svc = svc[: -len("-fips")] if fips else svc
        if svc in known_services or svc in service_index():
            return HostInfo(h, True, svc, part.global_region, info["partition"], GLOBAL,
                            fips=fips, dualstack=ds_suffix, dns_suffix=suffix)
    return HostInfo(h, True, None, region, info["partition"], AWS_OTHER, dualstack=ds_suffix,
                    dns_suffix=suffix)


def _classify_s3(h, head, labels, ri, region, part, info) -> HostInfo | None:
    """Virtual-hosted buckets: <bucket>.s3[-fips][.dualstack].<region>, <bucket>.s3-<region>,
    <bucket>.s3.<suffix> (legacy global, us-east-1), <name>.s3-accesspoint[.dualstack].<region>."""
    p = info["partition"]
    if region is None:
        # <bucket>.s3.amazonaws.com or <bucket>.s3-<region>.amazonaws.com (legacy dash form)
        if len(labels) >= 2 and labels[-1] == "s3":
            return HostInfo(h, True, "s3", part.global_region, p, S3_BUCKET,
                            bucket=".".join(labels[:-1]), dns_suffix=info["dns_suffix"],
                            extra={"s3_global": True})
        m = re.match(r"^s3-(fips-)?(.+)$", labels[-1]) if labels else None
        if m and partition_for_region(m.group(2)):
            reg = m.group(2)
            if len(labels) == 1:
                return HostInfo(h, True, "s3", reg, p, REGIONAL, fips=bool(m.group(1)),
                                dns_suffix=info["dns_suffix"], extra={"s3_dash": True})
            return HostInfo(h, True, "s3", reg, p, S3_BUCKET, bucket=".".join(labels[:-1]),
                            fips=bool(m.group(1)), dns_suffix=info["dns_suffix"],
                            extra={"s3_dash": True})
        return None
    core = [lb for lb in head if lb != "dualstack"]
    dual = info["dualstack"] or "dualstack" in head
    for svc_label in ("s3", "s3-fips", "s3-accesspoint", "s3-accesspoint-fips"):
        if svc_label in core:
            i = core.index(svc_label)
            bucket = ".".join(core[:i]) or None
            return HostInfo(h, True, "s3", region, p, S3_BUCKET if bucket else REGIONAL,
                            fips="fips" in svc_label, dualstack=dual, bucket=bucket,
                            dns_suffix=info["dns_suffix"],
                            extra={"accesspoint": True} if "accesspoint" in svc_label else {})
    return None


@functools.lru_cache(maxsize=16)
def _services_in(partition: str) -> frozenset[str]:
    return frozenset(_tables()["services_in"].get(partition, ()))


def _build_services_in() -> dict[str, list[str]]:
    return {p["partition"]: sorted(p["services"])
            for p in loader().load_data("endpoints")["partitions"]}


def split_hostport(hostport: str) -> tuple[str, int | None]:
    """``host:port`` / ``[v6]:port`` / ``user@host`` / ``host?q`` -> (lower-case host, port),
    by the grammar's authority splitter (:func:`proxylab.grammar.hostport.split_authority`)."""
    hp = hostport.rsplit("@", 1)[-1].split("?", 1)[0].split("#", 1)[0]
    if hp.startswith("[") and "]" not in hp:
        hp = hp[1:]  # a cut-off IPv6 literal: all host
    host, port = split_authority(hp)
    return (host or "").lower(), port
