"""The host a default botocore client for (service, region) talks to, from botocore's
own endpoint rule sets, remembered in the botocore-data cache (:mod:`.cache`).

Callers: :func:`botocore_default_host`.
"""

from __future__ import annotations

import functools
import json

from proxylab.awsdata.cache import cache_file, loader, write_cache
from proxylab.awsdata.hostnames import service_index

# Values botocore's client creation feeds to the endpoint rule set's built-ins by default
# (botocore/args.py): S3 us-east-1 "legacy" -> global host; STS defaults to regional.
_BUILTIN_DEFAULTS = {
    "AWS::UseFIPS": False,
    "AWS::UseDualStack": False,
    "AWS::STS::UseGlobalEndpoint": False,
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


def resolve_default_host(service: str, region: str) -> str | None:
    """The host a default botocore client for (service, region) talks to.

    botocore decides the proxy once per client against this base host, so the
    NO_PROXY value has to cover it even when the log shows bucket/sub-domain names.
    Resolved with botocore's own EndpointProvider over the service's endpoint rule
    set (what client creation does, without loading the whole service model);
    endpoint overrides from the environment are deliberately not consulted.
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
        ep = EndpointProvider(ruleset, partitions).resolve_endpoint(**params)
        from urllib.parse import urlsplit

        return urlsplit(ep.url).hostname
    except Exception:  # noqa: BLE001 - no rule set / region unsupported: nothing to add
        return None
