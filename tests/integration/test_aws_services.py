"""Every AWS service answers under its real hostnames (issue 10, item 2).

The oracle is botocore, not the lab: random (region, service) pairs are drawn from
botocore's endpoint data, the host is what botocore's own rule set resolves for a
default, FIPS or dual-stack client, and the check runs from the Lambda subnet's
namespace (the host never connects to a lab address): the Lambda VPC's resolver
answers the name, and the AWS front presents a certificate the lab CA vouches for
*that name* and answers HTTP, through Squid as the function would.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from proxylab.awsdata.endpoints import VARIANTS, botocore_host, region_hosts
from proxylab.awsdata.hostnames import partitions
from proxylab.labs import get_lab
from proxylab.labs.local import regions
from proxylab.labs.local.lab import LocalLab

pytestmark = pytest.mark.lab

PAIRS_PER_REGION = 6


def _pairs(region: str, rng: random.Random) -> list[tuple[str, str]]:
    """(service, host) drawn from the services botocore's endpoints.json lists in the
    region, with a random client variant, resolved by botocore's rule set."""
    from proxylab.awsdata.hostnames import _known_hosts

    offered = sorted({i.service for i in _known_hosts().values()
                      if i.region == region and i.service and i.partition == "aws"})
    out: list[tuple[str, str]] = []
    while len(out) < PAIRS_PER_REGION:
        service = rng.choice(offered)
        host = botocore_host(service, region, **rng.choice(VARIANTS))
        if host and not host.endswith((".vpce.amazonaws.com",)):
            out.append((service, host))
    return out


# From the Lambda subnet through Squid, as the function's clients go: CONNECT, TLS
# verified against the lab CA for the very name, one GET. An HTTP error status is still
# a front's answer.
PROBE = r"""
import json, sys, urllib.error, urllib.request
proxy = urllib.request.ProxyHandler({"https": "http://10.0.0.72:3128"})
opener = urllib.request.build_opener(proxy)
out = {}
for host in sys.argv[1:]:
    try:
        out[host] = ["ok", opener.open(f"https://{host}/", timeout=10).status]
    except urllib.error.HTTPError as exc:
        out[host] = ["ok", exc.code]
    except Exception as exc:
        out[host] = ["error", f"{type(exc).__name__}: {exc}"[:300]]
print(json.dumps(out))
"""


@pytest.fixture(scope="module", params=["us-east-1", "random"])
def region_lab(request: pytest.FixtureRequest) -> Iterator[tuple[LocalLab, str]]:
    rng = random.Random(20261201)
    region = request.param
    if region == "random":
        aws = next(p for p in partitions() if p.name == "aws")
        region = rng.choice(sorted(r for r in regions.modelled_regions()
                                   if r not in ("us-east-1", "ap-northeast-1")
                                   and r in aws.regions))
    lab = get_lab("local", name="svcs", region=region)
    try:
        lab.up()
        yield lab, region
    finally:
        assert not lab.down()


def _probe(lab: LocalLab, hosts: list[str]) -> dict[str, list]:
    import sys

    proc = lab.run("lambda", [sys.executable, "-c", PROBE, *hosts], capture=True, timeout_s=90)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_random_botocore_pairs_resolve_and_serve_tls_for_their_name(region_lab) -> None:
    lab, region = region_lab
    rng = random.Random(f"pairs-{region}")
    pairs = _pairs(region, rng)
    hosts = [h for _, h in pairs]
    got = _probe(lab, hosts)
    bad = {h: r for h, r in got.items() if r[0] != "ok"}
    assert not bad, (region, bad)
    # Every answer is an HTTP status from the AWS front, which logged the very host.
    assert all(isinstance(r[1], int) for r in got.values()), got
    logged = {json.loads(x)["host"] for x in (lab.state / "services.log").read_text().splitlines()}
    assert set(hosts) <= logged


def test_the_functions_resolver_answers_every_host_of_the_region(region_lab) -> None:
    """The Lambda VPC's resolver (the function's) answers the same names."""
    lab, region = region_lab
    hosts = sorted(region_hosts(region))
    sample = random.Random(f"dns-{region}").sample(hosts, 8)
    script = ("import socket,sys,json; print(json.dumps({h: socket.gethostbyname(h) "
              "for h in sys.argv[1:]}))")
    import sys

    proc = lab.run("lambda", [sys.executable, "-c", script, *sample], capture=True,
                   timeout_s=30)
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) == set(sample)


def test_a_name_botocore_does_not_have_is_nxdomain(region_lab) -> None:
    lab, region = region_lab
    script = (f"import socket\ntry:\n    socket.gethostbyname('nosuchservice.{region}."
              "amazonaws.com')\n    print('resolved')\nexcept socket.gaierror:\n"
              "    print('nxdomain')")
    import sys

    proc = lab.run("lambda", [sys.executable, "-c", script], capture=True, timeout_s=30)
    assert proc.stdout.strip() == "nxdomain"
