"""Endpoint layouts beyond the seed (issue 10, items 3-4), in the scenario format and in
the DNS the lab renders from them. The names checked come from botocore directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxylab.awsdata.endpoints import botocore_host
from proxylab.labs.base import EndpointLayout, InterfaceEndpoint
from proxylab.labs.local import dns, regions
from proxylab.labs.local import topology as t
from proxylab.scenarios.loader import parse_catalog

HEAD = "catalog: c\ntitle: t\ndefaults: {function: regional}\nscenarios:\n"


def _one(tmp_path: Path, body: str):
    cat, problems = parse_catalog(HEAD + body, tmp_path / "c.yaml")
    return (cat.scenarios[0] if cat else None), problems


def test_interfaces_per_service_and_dynamodb_gateway(tmp_path):
    s, problems = _one(tmp_path, """\
  - id: a
    endpoints:
      dynamodb_gateway: true
      interfaces:
        secretsmanager: {}
        sts: {private_dns: false}
        s3: {private_dns_only_for_inbound_resolver_endpoint: false}
""")
    assert problems == []
    assert s.endpoints.dynamodb_gateway is True
    assert s.endpoints.interfaces == (
        InterfaceEndpoint("secretsmanager"), InterfaceEndpoint("sts", private_dns=False),
        InterfaceEndpoint("s3", private_dns_only_for_inbound_resolver_endpoint=False))
    # Round trip through a capture's run.json.
    assert EndpointLayout.from_dict(s.endpoints.to_dict()) == s.endpoints


def test_the_seed_layout_is_unchanged_by_the_new_fields():
    assert EndpointLayout().beyond_seed == []
    assert EndpointLayout.from_dict({"s3_gateway": False}).interfaces == ()


@pytest.mark.parametrize("body, message", [
    ("interfaces: {secretmanager: {}}", "not a service endpoint prefix in botocore's data"),
    ("interfaces: {execute-api: {}}", "use execute_api_interface"),
    ("interfaces: {sts: {private_dns_only_for_inbound_resolver_endpoint: true}}", "S3's option"),
    ("interfaces: {sts: {private_dnz: true}}", "unknown field"),
    ("{s3_gateway: false, interfaces: {s3: {}}}", "needs an S3 gateway endpoint"),
])
def test_bad_interfaces_are_located_problems(tmp_path, body, message):
    _, problems = _one(tmp_path, f"  - id: a\n    endpoints: {body}\n" if body.startswith("{")
                       else f"  - id: a\n    endpoints:\n      {body}\n")
    assert len(problems) == 1 and message in problems[0].message, problems


def test_internet_hosts_named_and_from_urls_in_the_variables(tmp_path):
    s, problems = _one(tmp_path, """\
  - id: a
    internet: [Hooks.Example.com]
    env:
      PAYMENT_URL: "https://api.payments.example/v1/charge"
      PROXY: "http://10.0.0.72:3128"
      BUCKET_URL: "https://${bucket}.s3.${region}.amazonaws.com/"
      SQS: "https://sqs.us-east-1.amazonaws.com/123/q"
""")
    assert problems == []
    assert s.endpoints.internet_hosts == ("api.payments.example", "hooks.example.com")


def test_a_bad_internet_host_is_a_problem(tmp_path):
    _, problems = _one(tmp_path, "  - {id: a, internet: ['not a host']}\n")
    assert len(problems) == 1 and "is not a DNS name" in problems[0].message


def _conf(layout: EndpointLayout, resolver: str, region: str = "ap-northeast-1") -> list[str]:
    r = next(x for x in dns.RESOLVERS if x.name == resolver)
    return dns.render(r, layout, Path("/dev/null"), "www.google.com",
                      regions.names_for(region)).splitlines()


def _answers(conf: list[str], host: str) -> str | None:
    """What a dnsmasq with these lines answers for ``host`` (host-record exact, address=/
    for the name and below; most specific wins), or None."""
    for line in conf:
        if line.startswith("host-record="):
            *names, ip = line.split("=", 1)[1].split(",")
            if host in names:
                return ip
    best = None
    for line in conf:
        if line.startswith("address=/"):
            _, dom, ip = line.split("/")
            if (host == dom or host.endswith("." + dom)) and (best is None or len(dom) > best[0]):
                best = (len(dom), ip)
    return best[1] if best else None


def test_private_dns_points_the_regional_name_at_the_eni_inside_the_vpc_only():
    layout = EndpointLayout(interfaces=(InterfaceEndpoint("secretsmanager"),
                                        InterfaceEndpoint("sts", private_dns=False)))
    sm = botocore_host("secretsmanager", "ap-northeast-1")
    sts = botocore_host("sts", "ap-northeast-1")
    assert _answers(_conf(layout, "lambda-vpc"), sm) == t.eni_address("secretsmanager")
    assert _answers(_conf(layout, "lambda-vpc"), sts) is None  # forwarded: the public answer
    assert _answers(_conf(layout, "public"), sm) == t.AWS_API_IP
    # The endpoint-specific names are public records of the ENI, private DNS or not.
    vpce = regions.names_for("ap-northeast-1").vpce_host("sts")
    assert _answers(_conf(layout, "public"), vpce) == t.eni_address("sts")


@pytest.mark.parametrize("gateway, only_inbound, vpc_answer", [
    (True, True, "public"),   # VPC lookups stay on the gateway endpoint
    (True, False, "eni"),
    (False, False, "eni"),
])
def test_s3_interface_beside_or_instead_of_the_gateway(gateway, only_inbound, vpc_answer):
    layout = EndpointLayout(s3_gateway=gateway, interfaces=(InterfaceEndpoint(
        "s3", private_dns_only_for_inbound_resolver_endpoint=only_inbound),))
    bucket_host = f"{t.BUCKET}.{botocore_host('s3', 'ap-northeast-1')}"
    got = _answers(_conf(layout, "lambda-vpc"), bucket_host)
    assert got == (t.eni_address("s3") if vpc_answer == "eni" else None)
    assert _answers(_conf(layout, "public"), bucket_host) == t.S3_IP
    s3_vpce = regions.names_for("ap-northeast-1").vpce_host("s3")
    assert _answers(_conf(layout, "public"), f"{t.BUCKET}.bucket.{s3_vpce}") == t.eni_address("s3")


def test_public_dns_has_every_service_botocore_resolves_and_dynamodb_in_its_prefix():
    conf = _conf(EndpointLayout(), "public", "us-east-1")
    for service, variant in [("sts", {}), ("sts", {"sts_global": True}), ("iam", {}),
                             ("s3", {"dualstack": True}), ("kms", {"fips": True}),
                             ("secretsmanager", {"dualstack": True})]:
        host = botocore_host(service, "us-east-1", **variant)
        assert _answers(conf, host) is not None, host
    assert _answers(conf, botocore_host("dynamodb", "us-east-1")) == t.DYNAMODB_IP
    assert _answers(conf, "nosuchservice.us-east-1.amazonaws.com") is None


def test_internet_hosts_and_the_private_api_alias():
    layout = EndpointLayout(internet_hosts=("api.payments.example",))
    conf = _conf(layout, "public")
    assert _answers(conf, "api.payments.example") == t.WEB_IP
    assert _answers(conf, "other.payments.example") is None
    names = regions.names_for("ap-northeast-1")
    alias = f"{t.PRIVATE_API_ID}-{t.EXECUTE_API_VPCE_ID}.{names.execute_api}"
    assert _answers(conf, alias) == t.EXECUTE_API_ENI
    assert _answers(_conf(EndpointLayout(execute_api_interface=False,
                                         execute_api_private_dns=False), "public"), alias) is None
