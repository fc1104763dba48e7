"""The host a default botocore client for (service, region) talks to, from botocore's
own endpoint rule sets, remembered in the botocore-data cache (:mod:`.cache`).

Callers: :func:`botocore_default_host`; :func:`botocore_host` for a client with one
built-in changed (the lab asks for S3's regional host in us-east-1, where the default
client talks to the legacy global one).
"""

from __future__ import annotations

import functools
import json

from proxylab.awsdata.cache import cache_file, loader, write_cache
from proxylab.awsdata.hostnames import GLOBAL, service_index

# Values botocore's client creation feeds to the endpoint rule set's built-ins by default
# (botocore/args.py): S3 us-east-1 "legacy" -> global host; STS defaults to regional.
_BUILTIN_DEFAULTS = {
    "AWS::UseFIPS": False,
    "AWS::UseDualStack": False,
    "AWS::STS::UseGlobalEndpoint": False,
}
# The built-ins :func:`botocore_host` may change, by keyword.
BUILTIN_NAMES = {
    "s3_global": "AWS::S3::UseGlobalEndpoint",
    "fips": "AWS::UseFIPS",
    "dualstack": "AWS::UseDualStack",
    "sts_global": "AWS::STS::UseGlobalEndpoint",
}


@functools.lru_cache(maxsize=256)
def botocore_default_host(service: str, region: str) -> str | None:
    """The host a default botocore client for (service, region) talks to
    (:func:`resolve_default_host`), remembered on disk next to the host tables and under
    the same botocore-data key: resolving loads a rule set per service (~3 ms each) and
    botocore itself (~80 ms), which a warm audit then skips."""
    cache = _default_hosts()
    key = f"{service} {region}"
    if key not in cache:
        cache[key] = resolve_default_host(service, region)
        write_cache(_default_hosts_file(), lambda fh: json.dump(cache, fh))
    return cache[key]


@functools.lru_cache(maxsize=256)
def botocore_host(service: str, region: str, **builtins: bool) -> str | None:
    """The host botocore resolves for (service, region) with some of the rule set's
    built-ins changed, e.g. ``botocore_host("s3", "us-east-1", s3_global=False)`` is
    what ``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=regional`` makes boto3 use. Keys are
    :data:`BUILTIN_NAMES`; cached beside the default hosts."""
    if not builtins:
        return botocore_default_host(service, region)
    unknown = sorted(set(builtins) - set(BUILTIN_NAMES))
    if unknown:
        raise ValueError(f"unknown built-in(s) {unknown}: choose from {sorted(BUILTIN_NAMES)}")
    cache = _default_hosts()
    key = " ".join([service, region, *(f"{k}={v}" for k, v in sorted(builtins.items()))])
    if key not in cache:
        overrides = {BUILTIN_NAMES[k]: v for k, v in builtins.items()}
        cache[key] = resolve_default_host(service, region, overrides)
        write_cache(_default_hosts_file(), lambda fh: json.dump(cache, fh))
    return cache[key]


def _default_hosts_file() -> str:
    return cache_file("default-hosts", "json")


@functools.lru_cache(maxsize=1)
def _default_hosts() -> dict[str, str | None]:
    try:
        with open(_default_hosts_file()) as fh:
            data = json.load(fh)
        if isinstance(data, dict):
            return data
    except (OSError, ValueError):
        pass
    return {}


def resolve_default_host(service: str, region: str,
                         overrides: dict[str, bool] | None = None) -> str | None:
    """The host a default botocore client for (service, region) talks to.

    botocore decides the proxy once per client against this base host, so the
    NO_PROXY value has to cover it even when the log shows bucket/sub-domain names.
    Resolved with botocore's own EndpointProvider over the service's endpoint rule
    set (what client creation does, without loading the whole service model);
    endpoint overrides from the environment are deliberately not consulted.
    ``overrides`` replaces built-in values by their rule-set name.
    """
    names = [n for n, _ in service_index().get(service, [])]
    if not names:
        return None
    name = service if service in names else names[0]
    try:
        from botocore.endpoint_provider import EndpointProvider

        data = loader()
        ruleset = data.load_service_model(name, "endpoint-rule-set-1")
        partitions = data.load_data("partitions")
        params: dict = {}
        for pname, spec in ruleset.get("parameters", {}).items():
            builtin = spec.get("builtIn")
            if builtin == "AWS::Region":
                params[pname] = region
            elif builtin == "AWS::S3::UseGlobalEndpoint":
                params[pname] = region == "us-east-1"
            elif builtin in _BUILTIN_DEFAULTS:
                params[pname] = _BUILTIN_DEFAULTS[builtin]
            if builtin in (overrides or {}):
                params[pname] = overrides[builtin]
        ep = EndpointProvider(ruleset, partitions).resolve_endpoint(**params)
        from urllib.parse import urlsplit

        return urlsplit(ep.url).hostname
    except Exception:  # noqa: BLE001 - no rule set / region unsupported: nothing to add
        return None


# The client variants a region's names are resolved for (built-in keyword -> value).
VARIANTS: tuple[dict[str, bool], ...] = (
    {}, {"fips": True}, {"dualstack": True}, {"fips": True, "dualstack": True},
)


PSEUDO_LABELS = frozenset({"local", "localhost", "aws-global"})


def region_hosts(region: str) -> dict[str, str]:
    """Every public host a client can reach an AWS service under in ``region`` -> the
    service's endpoint prefix, from botocore's data only: the hosts ``endpoints.json``
    spells out for the region (defaults, overrides, FIPS and dual-stack variants), the
    partition's global hosts (``sts.amazonaws.com``, ``iam.amazonaws.com``,
    ``s3.amazonaws.com``...: names without a region label), and what the endpoint rule
    set resolves, for each service endpoints.json lists in the region, with the default,
    FIPS, dual-stack and FIPS+dual-stack built-ins (rule sets name a few hosts
    endpoints.json does not). Services botocore does not offer in the region have no
    name here, so they stay NXDOMAIN in the lab as on the internet.

    Resolving ~1,000 rule-set cases costs ~1 s, so the result is cached on disk per
    botocore version and region, like every other table (:mod:`.cache`)."""
    path = cache_file(f"region-hosts-{region}", "json")
    try:
        with open(path) as fh:
            cached = json.load(fh)
        if isinstance(cached, dict):
            return cached
    except (OSError, ValueError):
        pass
    hosts = _derive_region_hosts(region)
    write_cache(path, lambda fh: json.dump(hosts, fh))
    return hosts


def _derive_region_hosts(region: str) -> dict[str, str]:
    from proxylab.awsdata.hostnames import _known_hosts, partition_for_region

    part = partition_for_region(region)
    if part is None:
        return {}

    def regional_label(label: str) -> bool:
        return label in part.regions or bool(part.region_re.match(label))

    out: dict[str, str] = {}
    services: set[str] = set()
    for host, info in _known_hosts().items():
        labels = host.split(".")
        # Pseudo-regions (DynamoDB Local's "local", "aws-global") are no public names.
        if (info.partition != part.name or not info.service or ":" in host
                or PSEUDO_LABELS & set(labels)):
            continue
        if info.region == region:
            out[host] = info.service
            services.add(info.service)
        elif info.flavour == GLOBAL and not any(
                regional_label(x) or x == "global" or any(r in x for r in part.regions)
                for x in labels):
            out[host] = info.service  # no region in the name: the partition's global host
    for service in sorted(services):
        for variant in VARIANTS:
            host = resolve_default_host(service, region,
                                        {BUILTIN_NAMES[k]: v for k, v in variant.items()})
            if host and not PSEUDO_LABELS & set(host.split(".")):
                out.setdefault(host, service)
    return dict(sorted(out.items()))
