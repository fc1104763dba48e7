"""The Node probe under real Node against loopback servers: each outcome class from a
real error of the real SDK v3 / fetch / https stack (the Python probe's counterpart is
test_probe_outcomes.py). Only 127.0.0.1 is ever contacted; no name is resolved
(dns_error is left to the lab, where the lab's resolvers answer).

Needs the Node cache (``proxylab setup node``): skipped with that command otherwise
(nodejs20.x under ``CI=true``: a failure, since ``make test`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
import trustme
from botocore.config import Config
from moto.server import ThreadedMotoServer
from test_probe_servers import closed_port, refusing_proxy, silent_server, web_server

from proxylab.labs.local import node
from proxylab.labs.local.function import NODE_PROBE_DIR
from proxylab.vocab import Runtime

BUCKET, KEY, REGION = "proxylab-demo-bucket", "input/data.csv", "ap-northeast-1"
STEP_KEYS = {"proxylab", "step", "url", "host", "outcome", "status", "error", "elapsed_ms"}
STEPS = ["s3_get", "s3_put", "web", "api", "web_https", "api_https"]
RUNNER = """
const m = await import(process.argv[1]);
const result = await m.handler({}, {});
process.stdout.write("RESULT " + JSON.stringify(result) + "\\n");
"""


def installed(runtime: Runtime) -> tuple[Path, Path]:
    try:
        found = node.resolve(runtime)
        deps = node.installed_deps(NODE_PROBE_DIR / "package.json")
    except node.NodeMissing as exc:
        if runtime is Runtime.NODEJS20 and os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI: {exc}")  # make test installs nodejs20.x (make node)
        pytest.skip(str(exc))  # the message names the command that installs it
    return found.node, deps


@pytest.fixture
def task(tmp_path) -> Path:
    """The probe as a deployment package: index.mjs beside its node_modules."""
    _node, deps = installed(Runtime.NODEJS20)
    shutil.copy2(NODE_PROBE_DIR / "index.mjs", tmp_path / "index.mjs")
    (tmp_path / "node_modules").symlink_to(deps)
    return tmp_path


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=url, region_name=REGION, config=Config(proxies={}),
                          aws_access_key_id="k", aws_secret_access_key="s")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_object(Bucket=BUCKET, Key=KEY, Body=b"id,name\n111,proxylab\n")
    try:
        yield url
    finally:
        server.stop()


def run(task: Path, ca_file: Path, env: dict[str, str], runtime: Runtime = Runtime.NODEJS20):
    node_bin, _deps = installed(runtime)
    base = {"PATH": "/usr/bin:/bin", "NODE_EXTRA_CA_CERTS": str(ca_file), "STEP_TIMEOUT": "1",
            "BUCKET_NAME": BUCKET, "SOURCE_KEY": KEY, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    proc = subprocess.run([str(node_bin), "--input-type=module", "-e", RUNNER,
                           str(task / "index.mjs")], env={**base, **env}, cwd=task,
                          capture_output=True, text=True, timeout=60)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(next(x for x in lines if x.startswith("RESULT "))[7:])
    steps = {}
    for line in lines:
        if line.startswith('{"proxylab"'):
            record = json.loads(line)
            assert set(record) == STEP_KEYS
            steps[record["step"]] = record
    assert list(steps) == STEPS
    for name, record in steps.items():  # the summary is the line, less the marker
        assert result["steps"][name] == {k: v for k, v in record.items()
                                         if k not in ("proxylab", "step")}
    return result, steps


def outcomes(steps):
    return {k: (v["outcome"], v["status"]) for k, v in steps.items()}


def test_ok_and_http_errors(task, ca, moto_url, tmp_path):
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with web_server(ca.issue_cert("127.0.0.1")) as web:
        port = web.server_address[1]
        result, steps = run(task, ca_file, {
            "AWS_ENDPOINT_URL_S3": moto_url,
            "WEB_URL": f"https://127.0.0.1:{port}/",
            "API_GATEWAY_URL": f"https://127.0.0.1:{port}/forbidden"})
    assert outcomes(steps) == {"s3_get": ("ok", 200), "s3_put": ("ok", 200),
                               "web": ("ok", 200), "web_https": ("ok", 200),
                               "api": ("http_error", 403), "api_https": ("http_error", 403)}
    assert result["statusCode"] == 200
    # The SDK's own request URL: path style for an IP endpoint.
    assert steps["s3_get"]["url"].startswith(f"{moto_url}/{BUCKET}/input/data.csv")


def test_timeouts_refusals_and_untrusted_certificates(task, ca, tmp_path):
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    other = trustme.CA()  # a certificate the function does not trust
    with silent_server() as silent, web_server(other.issue_cert("127.0.0.1")) as untrusted:
        result, steps = run(task, ca_file, {
            "AWS_ENDPOINT_URL_S3": f"https://127.0.0.1:{untrusted.server_address[1]}",
            "WEB_URL": f"https://127.0.0.1:{silent}/",
            "API_GATEWAY_URL": f"https://127.0.0.1:{closed_port()}/"})
    assert outcomes(steps) == {"s3_get": ("tls_error", None), "s3_put": ("tls_error", None),
                               "web": ("timeout", None), "web_https": ("timeout", None),
                               "api": ("other", None), "api_https": ("other", None)}
    assert "ECONNREFUSED" in steps["api"]["error"] and "ECONNREFUSED" in steps["api_https"]["error"]
    assert result["statusCode"] == 500 and result["body"].startswith("Unexpected error: ")


def test_sdk_v3_never_uses_the_proxy_variables(task, ca, moto_url, tmp_path):
    """HTTPS_PROXY/HTTP_PROXY at a proxy that refuses everything: SDK v3 goes straight
    to the endpoint anyway (and fetch/https on Node 20 too)."""
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with refusing_proxy() as (proxy_port, seen), web_server(ca.issue_cert("127.0.0.1")) as web:
        proxy = f"http://127.0.0.1:{proxy_port}"
        _result, steps = run(task, ca_file, {
            "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "NODE_USE_ENV_PROXY": "1",
            "AWS_ENDPOINT_URL_S3": moto_url,
            "WEB_URL": f"https://127.0.0.1:{web.server_address[1]}/",
            "API_GATEWAY_URL": f"https://127.0.0.1:{web.server_address[1]}/"})
    assert {k: v[0] for k, v in outcomes(steps).items()} == dict.fromkeys(STEPS, "ok")
    assert seen == []


def test_a_proxy_refusing_connect_is_a_tunnel_error_on_node_24(task, ca, tmp_path):
    """Node >= 24.5 with NODE_USE_ENV_PROXY=1: fetch and https tunnel through the
    proxy; its 503 to CONNECT is the step's status, as urllib's is in probe.py."""
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with refusing_proxy() as (proxy_port, seen):
        proxy = f"http://127.0.0.1:{proxy_port}"
        _result, steps = run(task, ca_file, {
            "HTTPS_PROXY": proxy, "NODE_USE_ENV_PROXY": "1",
            "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{closed_port()}",
            "WEB_URL": "https://www.google.com/",
            "API_GATEWAY_URL": "https://q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com/"},
            runtime=Runtime.NODEJS24)
    got = outcomes(steps)
    for step in ("web", "api", "web_https", "api_https"):
        assert got[step] == ("tunnel_error", 503), (step, steps[step]["error"])
    assert any(line.startswith("CONNECT www.google.com:443") for line in seen), seen
    assert got["s3_get"] == ("other", None)  # refused at the endpoint: never the proxy

