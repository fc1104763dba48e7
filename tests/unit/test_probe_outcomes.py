"""The probe function, run in-process against loopback servers: every outcome class
comes from a real exception raised by the real urllib / boto3 stack.

Nothing here leaves 127.0.0.1: a guard on ``socket.getaddrinfo`` lets only loopback
names through and answers every other name like a resolver's NXDOMAIN (that is also
how the dns_error case is produced, since the host namespace may not query a real
resolver). Through a (fake) proxy the client resolves only the proxy's address, so
public names such as www.google.com are never looked up.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import trustme
from botocore.config import Config
from moto.server import ThreadedMotoServer
from test_probe_servers import (
    closed_port,
    dropping_port,
    refusing_proxy,
    silent_server,
    web_server,
)

import proxylab.functions

PROBE = Path(proxylab.functions.__file__).parent / "probe.py"
BUCKET = "proxylab-demo-bucket"
KEY = "input/data.csv"
CSV = b"id,name\n111,proxylab\n"
REGION = "ap-northeast-1"
API_HOST = "q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com"
STEP_KEYS = {"proxylab", "step", "url", "host", "outcome", "status", "error", "elapsed_ms", "t"}
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Resolve loopback names only; anything else fails as NXDOMAIN and is recorded."""
    real = socket.getaddrinfo
    refused: list[str] = []

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return refused


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The function sees only what a test sets (this machine exports proxies/CA vars)."""
    for key in list(os.environ):
        if (key.lower().endswith("_proxy") or key.startswith("AWS_")
                or key in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
                           "CURL_CA_BUNDLE")):
            monkeypatch.delenv(key)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "AKIAPROXYLABTEST0000",
        "AWS_SECRET_ACCESS_KEY": "proxylab-test-secret",
        "AWS_SESSION_TOKEN": "proxylab-test-token",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent/proxylab/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/proxylab/credentials",
        "BUCKET_NAME": BUCKET,
        "SOURCE_KEY": KEY,
        "STEP_TIMEOUT": "1",
    }.items():
        monkeypatch.setenv(key, value)
    # urlopen caches one opener (and with it the proxy settings) per process.
    urllib.request.install_opener(None)
    yield
    urllib.request.install_opener(None)


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def seed_bucket(endpoint: str, with_object: bool = True) -> boto3.client:
    """A fresh bucket (moto keeps state per server) holding the seed's CSV."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                          config=Config(proxies={}))
    try:
        client.create_bucket(Bucket=BUCKET,
                             CreateBucketConfiguration={"LocationConstraint": REGION})
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    if with_object:
        client.put_object(Bucket=BUCKET, Key=KEY, Body=CSV)
    else:
        client.delete_object(Bucket=BUCKET, Key=KEY)
    return client


def run_probe(capsys: pytest.CaptureFixture[str]) -> tuple[dict, list[str], dict[str, dict]]:
    """Import probe.py afresh (its configuration is read at import, as on Lambda),
    call the handler, return (result, human lines, JSON step lines by step)."""
    spec = importlib.util.spec_from_file_location(f"probe_{uuid.uuid4().hex}", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capsys.readouterr()
    result = module.handler({}, None)
    out = capsys.readouterr().out.splitlines()
    human = [line for line in out if not line.startswith('{"proxylab"')]
    steps = {}
    for line in out:
        if line.startswith('{"proxylab"'):
            record = json.loads(line)
            assert set(record) == STEP_KEYS
            assert record["proxylab"] == "step"
            steps[record["step"]] = record
    assert list(steps) == ["s3_get", "s3_put", "web", "api"]
    for name, record in steps.items():
        summary = dict(result["steps"][name])
        assert summary == {k: v for k, v in record.items() if k not in ("proxylab", "step")}
    return result, human, steps


def outcomes(steps: dict[str, dict]) -> dict[str, tuple[str, int | None]]:
    return {name: (s["outcome"], s["status"]) for name, s in steps.items()}


def test_every_step_ok_prints_the_seed_lines(monkeypatch, capsys, moto_url):
    client = seed_bucket(moto_url)
    with web_server() as web:
        port = web.server_address[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
        monkeypatch.setenv("WEB_URL", f"http://127.0.0.1:{port}/")
        monkeypatch.setenv("API_GATEWAY_URL", f"http://127.0.0.1:{port}/dev/data?id=111")
        result, human, steps = run_probe(capsys)

    assert result["statusCode"] == 200
    assert result["body"] == "Lambda function executed successfully."
    assert outcomes(steps) == {"s3_get": ("ok", 200), "s3_put": ("ok", 200),
                               "web": ("ok", 200), "api": ("ok", 200)}
    # A custom endpoint makes boto3 use path-style addressing: the URL shows it.
    assert steps["s3_get"]["url"] == f"{moto_url}/{BUCKET}/{KEY}"
    assert steps["s3_get"]["host"] == "127.0.0.1"
    assert steps["s3_put"]["url"].startswith(f"{moto_url}/{BUCKET}/result_")
    assert steps["api"]["url"].endswith("/dev/data?id=111")
    assert web.paths == ["/", "/dev/data?id=111"]
    put_key = steps["s3_put"]["url"].rsplit("/", 1)[1]
    assert client.get_object(Bucket=BUCKET, Key=put_key)["Body"].read() == CSV
    assert human == [
        f"Downloading {KEY} from bucket {BUCKET}",
        f"Uploading to {put_key} in bucket {BUCKET}",
        "S3 processing completed successfully.",
        f"Accessing web URL: http://127.0.0.1:{port}/",
        "Web access successful (200 OK)",
        f"Accessing API Gateway URL: http://127.0.0.1:{port}/dev/data?id=111",
        "API Gateway access successful (200 OK)",
    ]


def test_missing_object_is_http_error_404_and_status_500(monkeypatch, capsys, moto_url):
    seed_bucket(moto_url, with_object=False)
    with web_server() as web:
        port = web.server_address[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
        monkeypatch.setenv("WEB_URL", f"http://127.0.0.1:{port}/")
        monkeypatch.setenv("API_GATEWAY_URL", f"http://127.0.0.1:{port}/forbidden")
        result, human, steps = run_probe(capsys)

    assert result["statusCode"] == 500
    assert result["body"].startswith("AWS ClientError: An error occurred (NoSuchKey)")
    assert outcomes(steps) == {"s3_get": ("http_error", 404), "s3_put": ("ok", 200),
                               "web": ("ok", 200), "api": ("http_error", 403)}
    assert "NoSuchKey" in steps["s3_get"]["error"]
    assert "S3 processing completed successfully." not in human
    assert "API Gateway access error: HTTP Error 403: Forbidden" in human


def test_proxy_refusing_connect_is_tunnel_error_with_its_status(monkeypatch, capsys,
                                                                 only_loopback):
    with refusing_proxy() as (proxy_port, connects):
        for var in ("HTTP_PROXY", "HTTPS_PROXY"):
            monkeypatch.setenv(var, f"http://127.0.0.1:{proxy_port}")
        monkeypatch.setenv("API_GATEWAY_URL", f"https://{API_HOST}/dev/data?id=111")
        result, human, steps = run_probe(capsys)

    assert result["statusCode"] == 500
    assert outcomes(steps) == {name: ("tunnel_error", 503) for name in steps}
    # Default endpoint: virtual-hosted style, as Squid logged it in the seed.
    assert steps["s3_get"]["url"] == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{KEY}"
    assert steps["s3_get"]["host"] == f"{BUCKET}.s3.{REGION}.amazonaws.com"
    assert steps["web"]["error"] == (
        "<urlopen error Tunnel connection failed: 503 Service Unavailable>")
    assert ("API Gateway access error: <urlopen error Tunnel connection failed: "
            "503 Service Unavailable>") in human
    assert [line.rsplit(" ", 1)[0] for line in connects] == [
        f"CONNECT {BUCKET}.s3.{REGION}.amazonaws.com:443",  # s3_get
        f"CONNECT {BUCKET}.s3.{REGION}.amazonaws.com:443",  # s3_put
        "CONNECT www.google.com:443",
        f"CONNECT {API_HOST}:443",
    ]
    assert only_loopback == []  # through a proxy the client resolves nothing itself


def test_endpoint_url_variable_switches_s3_to_path_style(monkeypatch, capsys):
    with refusing_proxy() as (proxy_port, connects):
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"https://s3.{REGION}.amazonaws.com")
        _result, _human, steps = run_probe(capsys)

    assert steps["s3_get"]["url"] == f"https://s3.{REGION}.amazonaws.com/{BUCKET}/{KEY}"
    assert connects[0].startswith(f"CONNECT s3.{REGION}.amazonaws.com:443 ")


def test_silent_peers_and_dropped_syns_are_timeouts(monkeypatch, capsys):
    monkeypatch.setenv("STEP_TIMEOUT", "0.5")
    with silent_server() as silent, dropping_port() as dropped:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{silent}")
        monkeypatch.setenv("WEB_URL", f"https://127.0.0.1:{silent}/")  # TLS handshake
        monkeypatch.setenv("API_GATEWAY_URL", f"http://127.0.0.1:{dropped}/dev")  # connect
        result, _human, steps = run_probe(capsys)

    assert outcomes(steps) == {name: ("timeout", None) for name in steps}
    assert result["statusCode"] == 500
    for step in steps.values():
        assert 400 <= step["elapsed_ms"] < 3000


def test_proxy_that_never_answers_is_timeout(monkeypatch, capsys):
    monkeypatch.setenv("STEP_TIMEOUT", "0.5")
    with silent_server() as silent:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{silent}")
        _result, _human, steps = run_probe(capsys)
    assert outcomes(steps) == {name: ("timeout", None) for name in steps}


def test_unresolvable_names_are_dns_errors(monkeypatch, capsys, only_loopback):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.nowhere.invalid")
    monkeypatch.setenv("WEB_URL", "https://www.nowhere.invalid/")
    monkeypatch.setenv("API_GATEWAY_URL", "https://api.nowhere.invalid/dev")
    _result, human, steps = run_probe(capsys)

    assert outcomes(steps) == {name: ("dns_error", None) for name in steps}
    assert "Web access error: <urlopen error [Errno -2] Name or service not known>" in human
    assert set(only_loopback) == {"s3.nowhere.invalid", "www.nowhere.invalid",
                                  "api.nowhere.invalid"}


def test_untrusted_certificate_is_tls_error_and_trusted_one_is_ok(monkeypatch, capsys,
                                                                  tmp_path):
    lab_ca, other_ca = trustme.CA(), trustme.CA()
    cert = lab_ca.issue_cert("127.0.0.1", "localhost")
    other_ca.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    lab_ca.cert_pem.write_to_path(str(tmp_path / "lab.pem"))
    with web_server(tls_cert=cert) as web:
        port = web.server_address[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"https://127.0.0.1:{port}")
        monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "other.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "other.pem"))
        monkeypatch.setenv("WEB_URL", f"https://127.0.0.1:{port}/")
        monkeypatch.setenv("API_GATEWAY_URL", f"https://localhost:{port}/dev")
        _result, human, steps = run_probe(capsys)
        assert outcomes(steps) == {name: ("tls_error", None) for name in steps}
        assert any("CERTIFICATE_VERIFY_FAILED" in line for line in human)

        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "lab.pem"))
        urllib.request.install_opener(None)
        _result, _human, steps = run_probe(capsys)
        assert outcomes(steps)["web"] == ("ok", 200)
        assert outcomes(steps)["api"] == ("ok", 200)


def test_refused_connections_are_other(monkeypatch, capsys):
    port = closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("WEB_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("API_GATEWAY_URL", f"http://127.0.0.1:{port}/dev")
    _result, human, steps = run_probe(capsys)
    assert outcomes(steps) == {name: ("other", None) for name in steps}
    assert "Web access error: <urlopen error [Errno 111] Connection refused>" in human


def test_unreachable_proxy_is_tunnel_error_for_boto3(monkeypatch, capsys):
    """botocore says so (ProxyConnectionError); urllib only reports the refusal."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    result, human, steps = run_probe(capsys)
    assert outcomes(steps)["s3_get"] == ("tunnel_error", None)
    assert steps["s3_get"]["error"].startswith("Failed to connect to proxy URL")
    assert outcomes(steps)["web"] == ("other", None)
    assert result["body"].startswith("Unexpected error: Failed to connect to proxy URL")


def test_broken_s3_configuration_does_not_stop_the_other_steps(monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "not a url")
    with web_server() as web:
        port = web.server_address[1]
        monkeypatch.setenv("WEB_URL", f"http://127.0.0.1:{port}/")
        monkeypatch.setenv("API_GATEWAY_URL", f"http://127.0.0.1:{port}/dev")
        result, human, steps = run_probe(capsys)
    assert outcomes(steps) == {"s3_get": ("other", None), "s3_put": ("other", None),
                               "web": ("ok", 200), "api": ("ok", 200)}
    assert result["statusCode"] == 500
    assert "not a url" in steps["s3_get"]["error"]
