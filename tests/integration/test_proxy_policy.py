"""The lab's Squid is hardened like Squid's default squid.conf, and a scenario's
``proxy:`` policy (allowlist, basic auth, own squid.conf) is what Squid enforces
(issue 13). Every request is made from the Lambda subnet, as the function would;
the evidence is Squid's own access log.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from proxylab.capture import read_capture
from proxylab.labs import EndpointLayout
from proxylab.labs.base import LabError
from proxylab.labs.local import topology as t
from proxylab.labs.proxy_policy import ProxyPolicy
from proxylab.logs.squid import parse_line
from proxylab.logs.tables import load_tables
from proxylab.runner import run_catalog

pytestmark = pytest.mark.lab

PROXY = f"http://{t.SQUID_IP}:{t.SQUID_PORT}"
WEB = "https://www.google.com/"
S3_OBJECT = f"https://{t.BUCKET}.s3.{t.REGION}.amazonaws.com/{t.SOURCE_KEY}"


def curl(lab, *args: str, max_time: float = 8) -> tuple[int, int, str]:
    proc = lab.run(
        "lambda",
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-m", str(max_time), *args],
        capture=True,
        timeout_s=max_time + 10,
    )
    return int(proc.stdout or 0), proc.returncode, proc.stderr


def line_for(lab, mark, url: str):
    lines = [parse_line(x) for x in lab.collect(mark).files["proxy_access.log"]]
    mine = [sl for sl in lines if sl.url == url and sl.client_ip == t.FUNCTION_IP]
    assert mine, lines
    return mine[0]


# --------------------------------------------------------------------------- hardening
# Each of these was forwarded by the lab's earlier configuration (TCP_MISS, with
# HIER_DIRECT to the address asked for): Squid must refuse it before any upstream.


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"http://{t.SQUID_IP}:{t.SQUID_PORT}/squid-internal-mgr/menu", id="manager"),
        pytest.param("http://127.0.0.1:8080/", id="to_localhost"),
        pytest.param("http://169.254.169.254/latest/meta-data/", id="to_linklocal-imds"),
        pytest.param("http://www.google.com:25/", id="not-Safe_ports"),
    ],
)
def test_hardened_proxy_refuses_from_the_lambda_subnet(lab, url):
    mark = lab.mark()
    code, rc, err = curl(lab, "-x", PROXY, url)
    assert code == 403, (code, rc, err)
    sl = line_for(lab, mark, url)
    assert (_code(sl), sl.http_status, sl.hierarchy) == ("TCP_DENIED", 403, "HIER_NONE")


def test_connect_only_to_ssl_ports(lab):
    url = "www.google.com:22"
    mark = lab.mark()
    _, rc, err = curl(lab, "-x", PROXY, "-p", "telnet://www.google.com:22", max_time=3)
    assert rc == 56 and "403" in err, err
    sl = line_for(lab, mark, url)
    assert (_code(sl), sl.http_status, sl.method) == ("TCP_DENIED", 403, "CONNECT")


# --------------------------------------------------------------------------- policy on a lab


def test_allowlist_and_auth_on_the_lab(lab):
    policy = ProxyPolicy(
        squid=lab.layout.proxy.squid,
        allow_domains=("www.google.com",),
        allow_regex=(r"\.execute-api\.[a-z0-9-]+\.amazonaws\.com$",),
        users=(("alice", "lab-pass"),),
    )
    try:
        lab.apply(dataclasses.replace(EndpointLayout(), proxy=policy))
        mark = lab.mark()
        code, rc, err = curl(lab, "-x", PROXY, WEB)
        assert rc == 56 and "407" in err, err  # no credentials
        code, rc, err = curl(lab, "-x", "http://alice:wrong@10.0.0.72:3128", WEB)
        assert rc == 56 and "407" in err, err
        code, rc, err = curl(lab, "-x", "http://alice:lab-pass@10.0.0.72:3128", WEB)
        assert (code, rc) == (200, 0), err
        code, rc, err = curl(lab, "-x", "http://alice:lab-pass@10.0.0.72:3128", S3_OBJECT)
        assert rc == 56 and "403" in err, err  # not on the allowlist
        lines = [parse_line(x) for x in lab.collect(mark).files["proxy_access.log"]]
        web = [sl for sl in lines if sl.url == "www.google.com:443"]
        assert [(_code(sl), sl.http_status, sl.user or "-") for sl in web] == [
            ("TCP_DENIED", 407, "-"),
            ("TCP_DENIED", 407, "alice"),
            ("TCP_TUNNEL", 200, "alice"),
        ], web
        s3 = [sl for sl in lines if sl.url.startswith(f"{t.BUCKET}.s3")]
        assert [(_code(sl), sl.http_status, sl.user or "-") for sl in s3] == [
            ("TCP_DENIED", 403, "alice")
        ]
    finally:
        lab.apply(EndpointLayout())


def test_own_squid_conf_is_checked_with_line_numbers(lab, tmp_path):
    bad = tmp_path / "squid.conf"
    bad.write_text("http_port 3128\nacl lambda src 10.1.0.0/16\nhttp_access alow lambda\n")
    policy = ProxyPolicy(squid=lab.layout.proxy.squid, config=str(bad))
    before = lab.layout
    with pytest.raises(LabError) as err:
        lab.apply(dataclasses.replace(EndpointLayout(), proxy=policy))
    assert f"{bad} line 3" in str(err.value), str(err.value)
    assert "alow" in str(err.value)
    lab.apply(before)
    assert lab.healthy()


def test_own_squid_conf_is_what_squid_enforces(lab, tmp_path):
    own = tmp_path / "squid.conf"
    own.write_text(
        "http_port 3128\n"  # the lab's own: commented out, not a second listener
        "acl lambda src 10.1.0.0/16\n"
        "acl only_web dstdomain www.google.com\n"
        "http_access allow lambda only_web\n"
        "http_access deny all\n"
    )
    try:
        lab.apply(
            dataclasses.replace(
                EndpointLayout(), proxy=ProxyPolicy(squid=lab.layout.proxy.squid, config=str(own))
            )
        )
        assert curl(lab, "-x", PROXY, WEB)[:2] == (200, 0)
        _, rc, err = curl(lab, "-x", PROXY, S3_OBJECT)
        assert rc == 56 and "403" in err, err
    finally:
        lab.apply(EndpointLayout())


# --------------------------------------------------------------------------- scenarios


@pytest.fixture(scope="module")
def policy_runs(tmp_path_factory) -> dict[str, object]:
    """A user's catalogue with an allowlist and with auth, run by the runner."""
    d = tmp_path_factory.mktemp("policy")
    cat = d / "policy.yaml"
    cat.write_text(
        """
catalog: policy
title: corporate proxy policies
defaults:
  function: regional
  endpoints: {s3_gateway: false, execute_api_interface: false, execute_api_private_dns: false}
  env: {HTTPS_PROXY: "${proxy_url}", HTTP_PROXY: "${proxy_url}"}
scenarios:
  - id: allowlist
    proxy: {allow_domains: [www.google.com, .execute-api.ap-northeast-1.amazonaws.com]}
  - id: auth-missing
    proxy: {users: {alice: lab-pass}}
"""
    )
    paths = run_catalog(cat, lab_options={"name": "pol"}, runs_dir=d / "runs", progress=False)
    return {read_capture(p).record.scenario.id: read_capture(p) for p in paths}


def test_allowlist_scenario_denies_s3_with_403(policy_runs):
    c = policy_runs["allowlist"]
    proxy = c.record.lab.endpoints.proxy.to_dict()
    assert proxy["allow_domains"] == ["www.google.com", ".execute-api.ap-northeast-1.amazonaws.com"]
    lines = [parse_line(x) for x in c.lines("proxy_access.log")]
    s3 = [sl for sl in lines if ".s3." in sl.url]
    # Squid appends _ABORTED when the client hangs up before reading the whole
    # error page (botocore sometimes does): still the denial.
    assert s3 and {(sl.squid_code.removesuffix("_ABORTED"), sl.http_status) for sl in s3} == {
        ("TCP_DENIED", 403)
    }
    steps = _steps(c)
    for step in ("s3_get", "s3_put"):
        assert (steps[step]["outcome"], steps[step]["status"]) == ("tunnel_error", 403), steps
    assert steps["web"]["outcome"] == "ok" and steps["api"]["outcome"] == "ok"


def test_auth_scenario_without_credentials_gets_407(policy_runs):
    c = policy_runs["auth-missing"]
    lines = [parse_line(x) for x in c.lines("proxy_access.log")]
    assert lines and {(sl.squid_code.removesuffix("_ABORTED"), sl.http_status) for sl in lines} == {
        ("TCP_DENIED", 407)
    }
    steps = _steps(c)
    assert {(s["outcome"], s["status"]) for s in steps.values()} == {("tunnel_error", 407)}, steps
    raw = json.loads((c.path / "run.json").read_text())
    users = raw["lab"]["endpoints"]["proxy"]["users"]
    assert users and set(users.values()) == {"***"}, "no password in a capture"
    assert json.loads(json.dumps(raw["scenario"]["endpoints"]["proxy"]))["users"] == users


def test_squid_version_is_recorded(policy_runs):
    for c in policy_runs.values():
        version = c.record.resources["squid_version"]
        assert version.split(".")[0] == c.record.lab.endpoints.proxy.squid


def test_missing_root_names_the_command(monkeypatch, tmp_path):
    from proxylab.labs.local.lab import LocalLab

    monkeypatch.setenv("PROXYLAB_SQUID6_ROOT", str(tmp_path / "nothing"))
    with pytest.raises(LabError, match=r"proxylab lab setup --squid 6"):
        LocalLab(name="noroot").up(dataclasses.replace(EndpointLayout(), proxy=ProxyPolicy("6")))
    assert not Path(tmp_path / "nothing").exists()


def _steps(c) -> dict[str, dict]:
    """Each probe step's outcome and status, from the capture's parsed function log."""
    st = load_tables([c.path]).steps
    return {str(r.step): {"outcome": str(r.outcome),
                          "status": None if r.status is None or r.status != r.status
                          else int(r.status)} for r in st.itertuples()}


@pytest.mark.parametrize("scenario, steps, denial, en, ja", [
    ("allowlist", ("s3_get", "s3_put"), "not-on-allowlist", "not on the proxy's allowlist",
     "許可リストにありません"),
    ("auth-missing", ("s3_get", "web", "api"), "auth-required", "asked for credentials",
     "認証情報を求めました"),
])
def test_the_analysis_names_the_denial_in_both_languages(policy_runs, scenario, steps, denial,
                                                          en, ja):
    from proxylab.analysis import analyse
    from proxylab.report import words

    c = policy_runs[scenario]
    a = analyse(load_tables([c.path]))
    for i, row in a.routes.iterrows():
        if str(row["step"]) not in steps:
            continue
        fact = a.facts[i]
        assert str(row["route"]) == "failed-at-proxy", row
        assert {str(s.denial) for s in fact.squid} == {denial}, fact.squid
        text_en = words.why(fact, "en").text
        text_ja = words.why(fact, "ja").text
        assert en in text_en and ja in text_ja, (text_en, text_ja)


def _code(sl) -> str:
    """Squid's result code, a client hanging up before reading the error page aside
    (Squid 6 then logs ``TCP_DENIED_ABORTED``: the same denial, timing-dependent)."""
    return sl.squid_code.removesuffix("_ABORTED")
