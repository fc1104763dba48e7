"""Which regions the local lab models, and the public names it serves in one.

Why from botocore's data: the lab must answer under exactly the hosts the real
clients in the function will ask for, and those are botocore's decision (its endpoint
rule sets and partition data), not ours. In us-east-1 a default boto3 S3 client talks
to the legacy global host ``s3.amazonaws.com`` (unless
``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=regional``): the rule set says so, so the names
below have it without a special case here.

Every region of the commercial partition (``aws``) in botocore's data is modelled.
Other partitions (China, GovCloud, ISO) are refused: their ARNs, service fronts and the
analysis's S3 host rules are not built for them yet. A name that only matches a
partition's region pattern, or a pseudo-region such as ``aws-global``, is refused too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from proxylab.awsdata.endpoints import botocore_default_host, botocore_host, region_hosts
from proxylab.awsdata.hostnames import partition_for_region, partitions
from proxylab.errors import did_you_mean
from proxylab.labs.base import LabError
from proxylab.labs.local.topology import vpce_id

MODELLED_PARTITION = "aws"


@dataclass(frozen=True)
class RegionNames:
    """The public names of one region the lab's DNS, certificate and fronts carry."""

    region: str
    dns_suffix: str
    s3_regional: str  # s3.<region>.<suffix>: the regional endpoint
    s3_default: str  # what a default boto3 S3 client uses (s3.amazonaws.com in us-east-1)
    s3_global: str  # the partition's global S3 host, answering on the internet everywhere
    execute_api: str  # execute-api.<region>.<suffix>: API ids are labels in front of it

    @property
    def s3_hosts(self) -> tuple[str, ...]:
        """Each distinct S3 host, regional first; every one also serves ``<bucket>.``."""
        return tuple(dict.fromkeys((self.s3_regional, self.s3_default, self.s3_global)))

    @property
    def vpce_suffix(self) -> str:
        """Endpoint-specific interface-endpoint names end in this (``<vpce>.<svc>.``
        in front); botocore has no rule set for them, the shape is AWS's documented one."""
        return f"{self.region}.vpce.{self.dns_suffix}"

    def api_host(self, api_id: str) -> str:
        return f"{api_id}.{self.execute_api}"

    def api_url(self, api_id: str) -> str:
        return f"https://{self.api_host(api_id)}/dev/data?id=111"

    def vpce_api_host(self, vpce_id: str) -> str:
        """The execute-api interface endpoint's own name, usable with private DNS off."""
        return f"{vpce_id}.execute-api.{self.vpce_suffix}"

    def service_hosts(self) -> dict[str, str]:
        """Every AWS service host of the region (and the partition's global ones) ->
        its endpoint prefix, from botocore's data (:func:`awsdata.endpoints.region_hosts`)."""
        return region_hosts(self.region)

    def regional_host(self, service: str) -> str | None:
        """The service's regional name (what an interface endpoint's private DNS
        covers): botocore's host with the global-endpoint built-ins off, so S3 in
        us-east-1 is ``s3.us-east-1.amazonaws.com`` and STS is regional."""
        return botocore_host(service, self.region, s3_global=False, sts_global=False)

    def vpce_host(self, service: str) -> str:
        """An interface endpoint's endpoint-specific name (usable with private DNS off);
        S3's has bucket names in front (``<bucket>.<vpce>.s3...``, or with
        ``bucket.`` as AWS documents for ``endpoint_url``)."""
        return f"{vpce_id(service)}.{service}.{self.vpce_suffix}"

    def tls_names(self, web_host: str) -> list[str]:
        """Every public name a front answers for (one lab certificate covers them): the
        web site, S3's virtual-hosted names, API ids, and one wildcard per parent domain
        of the region's service hosts and per service's endpoint-specific names."""
        out = [web_host]
        for host in self.s3_hosts:
            out += [host, f"*.{host}"]
        out += [f"*.{self.execute_api}", f"*.execute-api.{self.vpce_suffix}"]
        for host, service in self.service_hosts().items():
            out.append(f"*.{host.split('.', 1)[1]}")
            if service == "s3":
                out.append(f"*.{host}")
        for service in sorted(set(self.service_hosts().values())):
            out.append(f"*.{service}.{self.vpce_suffix}")
        s3_vpce = self.vpce_host("s3")
        out += [f"*.{s3_vpce}", f"*.bucket.{s3_vpce}"]
        return list(dict.fromkeys(out))


def modelled_regions() -> list[str]:
    """The regions of the commercial partition in botocore's data, sorted."""
    part = next(p for p in partitions() if p.name == MODELLED_PARTITION)
    return sorted(r for r in part.regions if part.region_re.match(r))


def check_region(region: str) -> str:
    """``region`` if the lab models it, else a :class:`LabError` that says why."""
    known = modelled_regions()
    if region in known:
        return region
    part = partition_for_region(region)
    if part is not None and part.name != MODELLED_PARTITION and region in part.regions:
        raise LabError(
            f"region {region!r} is in AWS partition {part.name!r} ({part.dns_suffix}); the "
            f"local lab models the commercial partition ({MODELLED_PARTITION!r}) only: pick "
            "one of its regions (e.g. us-east-1, eu-west-1) or use the AWS backend "
            "(--backend aws)"
        )
    raise LabError(
        f"unknown region {region!r}: botocore's data has no such region in the commercial "
        f"partition (it knows {len(known)}: {', '.join(known)})"
        + did_you_mean(region, known)
    )


@functools.lru_cache(maxsize=64)
def names_for(region: str) -> RegionNames:
    """The names of ``region`` from botocore's rule sets (cached on disk by awsdata)."""
    check_region(region)
    part = partition_for_region(region)
    assert part is not None  # check_region passed
    s3_regional = botocore_host("s3", region, s3_global=False)
    s3_default = botocore_default_host("s3", region)
    s3_global = botocore_default_host("s3", part.global_region)
    execute_api = botocore_default_host("execute-api", region)
    if not (s3_regional and s3_default and s3_global and execute_api):
        raise LabError(
            f"botocore's endpoint data gives no S3 or execute-api endpoint for {region!r}, "
            "so the local lab cannot model it"
        )
    return RegionNames(region, part.dns_suffix, s3_regional, s3_default, s3_global, execute_api)
