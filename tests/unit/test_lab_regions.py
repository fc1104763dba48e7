"""The local lab's names for a region come from botocore's data, and they are the names
the real boto3 client uses (the oracle: a real client's endpoint URL, never our table).

No lab is brought up: the DNS configuration and certificate names are checked as
rendered; the integration tests (tests/integration/test_regions.py) serve them.
"""

from __future__ import annotations

import fnmatch
import random
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from proxylab.labs.base import EndpointLayout
from proxylab.labs.local import dns
from proxylab.labs.local import topology as t
from proxylab.labs.local.regions import modelled_regions, names_for

# us-east-1 (legacy global S3), the seed's region, and a few more picked at random from
# botocore's list (a new seed each run would make a failure unrepeatable: fixed here).
REGIONS = sorted({"us-east-1", t.REGION, *random.Random(10).sample(modelled_regions(), 4)})


def _s3_host(region: str, **s3: str) -> str:
    client = boto3.client("s3", region_name=region, config=Config(s3=s3 or None),
                          aws_access_key_id="x", aws_secret_access_key="y")
    url = client.meta.endpoint_url
    return url.split("://", 1)[1].rstrip("/")


def _covered(host: str, patterns: list[str]) -> bool:
    """TLS wildcard rule: ``*`` stands for exactly one label."""
    return any(
        fnmatch.fnmatch(host, p) and host.count(".") == p.count(".") for p in patterns
    )


def test_the_commercial_regions_are_botocores() -> None:
    """Every region botocore offers S3 in, and only regions botocore's partition data
    names for ``aws`` (it lists new regions there before endpoints.json has them)."""
    session = boto3.session.Session()
    partitions = session._loader.load_data("partitions")["partitions"]
    aws = next(p for p in partitions if p["id"] == "aws")["regions"]
    assert set(session.get_available_regions("s3")) <= set(modelled_regions()) <= set(aws)
    assert "aws-global" not in modelled_regions()


@pytest.mark.parametrize("region", REGIONS)
def test_names_are_the_ones_boto3_uses(region: str) -> None:
    names = names_for(region)
    assert names.s3_default == _s3_host(region)
    assert names.s3_regional == _s3_host(region, us_east_1_regional_endpoint="regional")
    assert names.s3_regional == f"s3.{region}.amazonaws.com"  # AWS's documented shape
    assert names.execute_api == f"execute-api.{region}.amazonaws.com"


@pytest.mark.parametrize("region", REGIONS)
def test_certificate_and_public_dns_cover_every_name(region: str, tmp_path: Path) -> None:
    names = names_for(region)
    tls = names.tls_names("www.example.com")
    public = next(r for r in dns.RESOLVERS if r.name == "public")
    conf = dns.render(public, EndpointLayout(), tmp_path / "dns.log", "www.example.com", names)
    hosts = [names.s3_default, f"{t.BUCKET}.{names.s3_default}", names.s3_regional,
             f"{t.BUCKET}.{names.s3_regional}", "s3.amazonaws.com",
             names.api_host(t.REGIONAL_API_ID), names.vpce_api_host(t.EXECUTE_API_VPCE_ID)]
    for host in hosts:
        assert _covered(host, tls), host
    for host in (names.s3_default, names.s3_regional):
        assert f"address=/{host}/{t.S3_IP}" in conf
    assert f"host-record={t.REGIONAL_API_ID}.execute-api.{region}.amazonaws.com," in conf


def test_us_east_1_serves_the_legacy_global_host_as_its_default() -> None:
    names = names_for("us-east-1")
    assert names.s3_default == "s3.amazonaws.com" != names.s3_regional
    assert names.s3_hosts == ("s3.us-east-1.amazonaws.com", "s3.amazonaws.com")
    assert names_for("eu-west-1").s3_default == "s3.eu-west-1.amazonaws.com"
