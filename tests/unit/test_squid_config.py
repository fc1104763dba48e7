"""The lab's squid.conf: hardening in the shape of Squid's default, the scenario's
policy in Squid's own words, a user's config kept line for line, and the AWS
template carrying the same hardening lines (one rule, two places checked equal)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proxylab.labs.base import EndpointLayout
from proxylab.labs.local import squid
from proxylab.labs.proxy_policy import DEFAULT_SQUID, ProxyPolicy, problems
from proxylab.scenarios.loader import load_catalog

SEEN = Path("/lab")
TEMPLATE = Path(squid.__file__).parents[1] / "aws" / "template.yaml"


def loads_catalog(text: str, path: Path):
    path.write_text(text)
    return load_catalog(path)


def rules(conf: str) -> list[str]:
    return [line for line in conf.splitlines() if line.startswith("http_access")]


@pytest.mark.parametrize("major", ["5", "6"])
def test_default_config_is_hardened_then_lambda_vpc_only(major):
    conf = squid.render(SEEN, ProxyPolicy(squid=major))
    assert rules(conf) == [
        "http_access deny !Safe_ports",
        "http_access deny CONNECT !SSL_ports",
        "http_access allow localhost manager",
        "http_access deny manager",
        "http_access deny to_localhost",
        "http_access deny to_linklocal",
        "http_access deny !lambda_vpc",
        "http_access allow lambda_vpc",
        "http_access deny all",
    ]
    # Squid 6 predefines to_linklocal; Squid 5 needs it defined.
    assert ("acl to_linklocal dst 169.254.0.0/16" in conf) == (major == "5")
    assert "access_log stdio:/lab/access.log squid" in conf


def test_auth_comes_before_the_allowlist_and_everything_else_is_denied():
    policy = ProxyPolicy(
        allow_domains=("www.google.com", ".example.com"),
        allow_regex=(r"^api\d+\.example\.net$",),
        allow_ports=(443, 8443),
        users=(("alice", "x"),),
    )
    conf = squid.render(SEEN, policy)
    assert rules(conf)[-5:] == [
        "http_access deny !lambda_vpc",
        "http_access deny !authenticated",
        "http_access allow allowed_domains",
        "http_access allow allowed_regex",
        "http_access deny all",
    ]
    assert "acl allowed_domains dstdomain www.google.com .example.com" in conf
    assert r"acl allowed_regex dstdom_regex -i ^api\d+\.example\.net$" in conf
    assert "acl SSL_ports port 443 8443" in conf
    assert "auth_param basic program /usr/lib/squid/basic_ncsa_auth /lab/passwd" in conf
    assert "x" not in re.findall(r"alice\S*", conf)  # no password in squid.conf


def test_own_config_keeps_line_numbers_and_leaves_logging_to_the_lab():
    text = "http_port 8080\nacl a src 10.0.0.0/8  # mine\n  access_log /var/log/x.log\n"
    out = squid.user_config(text).splitlines()
    assert len(out) == 3
    assert out[0] == "# proxylab: set by the lab: http_port 8080"
    assert out[1] == "acl a src 10.0.0.0/8  # mine"
    assert out[2].startswith("# proxylab: set by the lab:")
    conf = squid.render(SEEN, ProxyPolicy(config="/home/u/squid.conf"))
    assert "include /lab/user-squid.conf" in conf and not rules(conf)


def test_parse_problems_keep_the_located_line_and_its_explanation():
    lines = [
        "2026/12/01 11:06:37| Processing: http_access alow lambda",
        "2026/12/01 11:06:37| aclParseAccessLine: /lab/user-squid.conf line 3: http_access alow",
        "2026/12/01 11:06:37| aclParseAccessLine: expecting 'allow' or 'deny', got 'alow'.",
        "2026/12/01 11:06:37| WARNING: 'vm' rDNS test failed",
    ]
    assert squid.parse_problems(lines, 0) == [
        "aclParseAccessLine: /lab/user-squid.conf line 3: http_access alow",
        "  aclParseAccessLine: expecting 'allow' or 'deny', got 'alow'.",
    ]
    assert squid.parse_problems(lines[3:], 0) == []
    assert squid.parse_problems(["FATAL: Bungled squid.conf line 1: x"], 1)


def test_aws_template_carries_the_same_hardening():
    text = TEMPLATE.read_text()
    block = [line.strip() for line in text.splitlines()]
    conf = squid.hardening("6") + squid.HARDENING_RULES
    for line in conf:
        assert line in block, line
    # Squid's rules come first, then the Lambda VPC; on AWS the IMDS is link-local.
    order = [block.index(line) for line in squid.HARDENING_RULES]
    assert order == sorted(order)
    assert block.index("http_access deny to_linklocal") < block.index(
        "http_access allow lambda_vpc"
    )


def test_policy_round_trips_through_the_layout():
    layout = EndpointLayout(
        proxy=ProxyPolicy(squid="5", allow_domains=(".a.com",), users=(("bob", "pw"),))
    )
    assert EndpointLayout.from_dict(layout.to_dict()) == layout
    assert EndpointLayout.from_dict({}).proxy.squid == DEFAULT_SQUID
    assert EndpointLayout.from_dict(None).proxy == ProxyPolicy()


@pytest.mark.parametrize(
    "key,value,bad",
    [
        ("squid", 6, False),
        ("squid", "4", True),
        ("allow_domains", ["www.google.com", ".amazonaws.com"], False),
        ("allow_domains", ["*.amazonaws.com"], True),
        ("allow_domains", "www.google.com", True),
        ("allow_regex", ["(unclosed"], True),
        ("allow_ports", [443, 8443], False),
        ("allow_ports", [0], True),
        ("allow_ports", [True], True),
        ("users", {"alice": "pw"}, False),
        ("users", {"al ice": "pw"}, True),
        ("users", {"alice": ""}, True),
        ("colour", "red", True),
    ],
)
def test_policy_problems(key, value, bad):
    assert bool(problems(key, value)) is bad


CATALOG = """
catalog: pol
title: t
defaults:
  function: regional
  proxy: {squid: 5, allow_domains: [www.google.com]}
scenarios:
  - id: inherits
  - id: adds-auth
    proxy: {users: {alice: pw}}
  - id: bad
    proxy: {squid: 7, allow_port: [443]}
"""


def test_catalogue_proxy_block_merges_defaults_and_locates_problems(tmp_path):
    from proxylab.scenarios.model import ScenarioError

    with pytest.raises(ScenarioError) as err:
        loads_catalog(CATALOG, tmp_path / "c.yaml")
    text = str(err.value)
    assert "c.yaml:12" in text and "proxy.squid" in text and "choose one of 5, 6" in text
    assert "proxy.allow_port" in text and "allow_ports" in text  # did you mean
    cat = loads_catalog(CATALOG.split("  - id: bad")[0], tmp_path / "c.yaml")
    inherits, auth = cat.scenarios
    assert inherits.endpoints.proxy == ProxyPolicy(squid="5", allow_domains=("www.google.com",))
    assert auth.endpoints.proxy.users == (("alice", "pw"),)
    assert auth.endpoints.proxy.allow_domains == ("www.google.com",)


def test_own_config_must_exist_and_stand_alone(tmp_path):
    from proxylab.scenarios.model import ScenarioError

    (tmp_path / "mine.conf").write_text("http_access deny all\n")
    text = (
        "catalog: c\ntitle: t\nscenarios:\n"
        "  - {id: a, function: regional, proxy: {config: mine.conf}}\n"
        "  - {id: b, function: regional, proxy: {config: nope.conf}}\n"
        "  - {id: c, function: regional, proxy: {config: mine.conf, users: {a: b}}}\n"
    )
    with pytest.raises(ScenarioError) as err:
        loads_catalog(text, tmp_path / "c.yaml")
    assert "'nope.conf' does not exist" in str(err.value)
    assert "give it alone" in str(err.value)
    ok = loads_catalog(text.split("  - {id: b")[0], tmp_path / "c.yaml")
    assert ok.scenarios[0].endpoints.proxy.config == str(tmp_path / "mine.conf")
