"""The local lab behaves like the seed's AWS topology (issue 2's acceptance).

Every request here is made from inside a lab namespace with curl, the way a user
would try it with `proxylab lab exec`; the evidence is read from the lab's own
logs (Squid's access log, the fronts' services log).
"""

from __future__ import annotations

import json
import time

import pytest

from proxylab.labs import EndpointLayout
from proxylab.labs.local import topology as t
from proxylab.labs.local.regions import names_for

pytestmark = pytest.mark.lab

PROXY = f"http://{t.SQUID_IP}:{t.SQUID_PORT}"
WEB = "https://www.google.com/"
NAMES = names_for(t.REGION)
PRIVATE_API = NAMES.api_url(t.PRIVATE_API_ID)
REGIONAL_API = NAMES.api_url(t.REGIONAL_API_ID)
S3_OBJECT = f"https://{t.BUCKET}.s3.{t.REGION}.amazonaws.com/{t.SOURCE_KEY}"


def curl(lab, *args: str, place: str = "lambda", max_time: float = 5):
    """curl inside the lab; returns (http code as int, curl exit code, stderr)."""
    proc = lab.run(
        place,
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-m", str(max_time), *args],
        capture=True,
        timeout_s=max_time + 10,
    )
    return int(proc.stdout or 0), proc.returncode, proc.stderr


def new_evidence(lab, mark):
    return lab.collect(mark)


def squid_lines(lab, mark) -> list[str]:
    return new_evidence(lab, mark).files["proxy_access.log"]


def service_hits(lab, mark) -> list[dict]:
    return [json.loads(line) for line in new_evidence(lab, mark).files["services.log"]]


def test_web_through_proxy_is_tunnelled(lab):
    mark = lab.mark()
    code, rc, err = curl(lab, "-x", PROXY, WEB)
    assert (code, rc) == (200, 0), err
    lines = squid_lines(lab, mark)
    assert any(
        "CONNECT www.google.com:443" in line and "TCP_TUNNEL/200" in line and t.FUNCTION_IP in line
        for line in lines
    ), lines
    assert any(f"HIER_DIRECT/{t.WEB_IP}" in line for line in lines), lines


def test_direct_internet_times_out_without_nat(lab):
    started = time.monotonic()
    code, rc, err = curl(lab, WEB, max_time=2)
    assert rc == 28, (
        f"expected curl's timeout (28), got {rc}: {err}"
    )  # not refused, not unreachable
    assert time.monotonic() - started >= 1.9


def test_private_api_through_proxy_fails_at_proxy(lab):
    mark = lab.mark()
    code, rc, err = curl(lab, "-x", PROXY, PRIVATE_API)
    assert rc == 56, err  # curl: CONNECT tunnel failed
    major = int(lab.describe().resources["squid_version"].split(".")[0])
    # Squid < 6 has bug 5294: ERR_CANNOT_FORWARD (500) instead of ERR_DNS_FAIL (503).
    expected = "TCP_TUNNEL/503" if major >= 6 else "NONE_NONE/500"
    assert f"response {expected.split('/')[1]}" in err
    lines = [line for line in squid_lines(lab, mark) if t.PRIVATE_API_ID in line]
    assert lines and expected in lines[0] and "HIER_NONE/-" in lines[0], lines
    dns = new_evidence(lab, mark).files["dns.log"]
    assert any(
        line.startswith("proxy-vpc\t") and t.PRIVATE_API_ID in line and "NXDOMAIN" in line
        for line in dns
    ), dns


def test_private_api_direct_goes_through_interface_endpoint(lab):
    mark = lab.mark()
    code, rc, err = curl(lab, PRIVATE_API)
    assert (code, rc) == (200, 0), err
    hits = [h for h in service_hits(lab, mark) if h["service"] == "execute-api"]
    assert hits == [hits[0]] and hits[0]["via"] == "interface-endpoint", hits
    assert hits[0]["vpce_id"] == t.EXECUTE_API_VPCE_ID
    assert hits[0]["source_ip"] == t.FUNCTION_IP


def test_regional_api_through_interface_endpoint_is_refused(lab):
    """With private DNS on, public APIs called from the VPC hit the endpoint: 403."""
    code, rc, _ = curl(lab, REGIONAL_API)
    assert code == 403
    code, rc, err = curl(lab, "-x", PROXY, REGIONAL_API)
    assert (code, rc) == (200, 0), err


def test_s3_direct_goes_over_gateway_endpoint(lab):
    mark = lab.mark()
    code, rc, err = curl(lab, S3_OBJECT)
    assert rc == 0, err
    assert code == 403  # an unsigned request for a private object, as on S3
    hits = [h for h in service_hits(lab, mark) if h["service"] == "s3"]
    assert len(hits) == 1 and hits[0]["via"] == "gateway-endpoint", hits
    assert hits[0]["vpce_id"] == t.S3_GATEWAY_VPCE_ID
    assert hits[0]["host"] == f"{t.BUCKET}.s3.{t.REGION}.amazonaws.com"
    assert not squid_lines(lab, mark)


def test_s3_through_proxy_arrives_from_the_internet(lab):
    mark = lab.mark()
    code, rc, err = curl(lab, "-x", PROXY, S3_OBJECT)
    assert rc == 0, err
    hits = [h for h in service_hits(lab, mark) if h["service"] == "s3"]
    assert (
        len(hits) == 1
        and hits[0]["via"] == "internet"
        and hits[0]["source_ip"] == t.PROXY_PUBLIC_IP
    )


def test_proxy_denies_clients_outside_the_lambda_vpc(lab):
    mark = lab.mark()
    code, rc, err = curl(
        lab, "-x", f"http://{t.PROXY_PUBLIC_IP}:{t.SQUID_PORT}", WEB, place="internet"
    )
    assert rc == 56 and "403" in err, err
    lines = squid_lines(lab, mark)
    # Squid 6 appends _ABORTED when the client hangs up before reading the error page.
    assert any(_denied(line) and t.INTERNET_ROUTER_IP in line for line in lines), lines


def test_proxy_refuses_connect_to_other_ports(lab):
    mark = lab.mark()
    code, rc, err = curl(lab, "-x", PROXY, "https://www.google.com:8443/")
    assert rc == 56 and "403" in err, err
    assert any(_denied(line) for line in squid_lines(lab, mark))


def test_exec_environment_is_clean(lab, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://203.0.113.1:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    proc = lab.run("lambda", ["env"], capture=True, timeout_s=10)
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert "HTTPS_PROXY" not in env and "https_proxy" not in env
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == str(lab.ca_file)
    assert env["AWS_REGION"] == t.REGION


def test_layout_switches_endpoints(lab):
    """Without the gateway endpoint S3 times out (no NAT); without private DNS the
    private API's name is public again (NXDOMAIN inside the VPC too)."""
    try:
        lab.apply(EndpointLayout(s3_gateway=False, execute_api_private_dns=False))
        assert lab.describe().endpoints.s3_gateway is False
        _, rc, _ = curl(lab, S3_OBJECT, max_time=2)
        assert rc == 28
        _, rc, err = curl(lab, PRIVATE_API)
        assert rc == 6, err  # could not resolve host
        # The endpoint-specific name still reaches the private API.
        code, rc, err = curl(
            lab,
            "-H",
            f"x-apigw-api-id: {t.PRIVATE_API_ID}",
            f"https://{NAMES.vpce_api_host(t.EXECUTE_API_VPCE_ID)}/dev/data?id=1",
        )
        assert (code, rc) == (200, 0), err
    finally:
        lab.apply(EndpointLayout())
    code, rc, err = curl(lab, PRIVATE_API)
    assert (code, rc) == (200, 0), err


def test_status_reports_every_service_healthy(lab):
    desc = lab.describe()
    assert desc.up
    assert {s.name for s in desc.services} >= {
        "squid",
        "dns-lambda-vpc",
        "dns-public",
        "fronts-aws",
    }
    assert all(s.healthy for s in desc.services), desc.services
    lam = next(p for p in desc.places if p.name == "lambda")
    assert any(t.FUNCTION_IP in a for a in lam.addresses)


def test_exec_with_a_scenario_runs_under_its_settings(lab):
    """`lab exec --scenario seed-4`: the scenario's variables and the function's own
    configuration, so curl, honouring NO_PROXY, reaches the private API directly."""
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "proxylab.cli",
            "lab",
            "exec",
            "--name",
            lab.name,
            "--scenario",
            "seed-4",
            "--",
            "sh",
            "-c",
            'echo "$NO_PROXY"; curl -sS -m 5 "$API_GATEWAY_URL"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    no_proxy, body = proc.stdout.splitlines()[:2]
    assert "execute-api.ap-northeast-1.amazonaws.com" in no_proxy
    assert json.loads(body)["endpoint_type"] == "PRIVATE"


def _denied(line: str) -> bool:
    """A Squid 403 denial, with or without the _ABORTED suffix."""
    return "TCP_DENIED/403" in line or "TCP_DENIED_ABORTED/403" in line
