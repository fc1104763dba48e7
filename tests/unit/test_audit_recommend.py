"""The recommended NO_PROXY, applied through the clients' own bypass code, sends every
AWS host of the input direct and keeps every non-AWS host (and every AWS name no VPC
endpoint can carry) on the proxy.

urllib: ``urllib.request.proxy_bypass_environment``; botocore: ``get_environ_proxies``
(what its EndpointCreator calls with the client's base endpoint URL) and real clients;
requests: ``requests.utils.should_bypass_proxies``; curl: the real binary against a
loopback proxy stub (every name is pinned to 127.0.0.1 with --resolve, so nothing leaves
the host).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import urllib.request

import botocore.utils
import pytest
import requests.utils

from proxylab.audit.recommend import HostTraffic, botocore_default_host, recommend
from proxylab.audit.synth import AWS_HOSTS, OTHER_HOSTS, SynthOptions, host_pool
from proxylab.awsdata.hostnames import classify

PROXY = "http://10.0.0.72:3128"
HOSTS = sorted(set(host_pool(SynthOptions(extra_hosts=40))) | set(AWS_HOSTS) | set(OTHER_HOSTS)
               | {"kms-fips.us-east-1.amazonaws.com", "gov-bucket.s3-fips.us-gov-west-1."
                  "amazonaws.com", "ec2.cn-northwest-1.amazonaws.com.cn",
                  "iam.us-gov.amazonaws.com", "old.s3-us-west-2.amazonaws.com",
                  "s3.amazonaws.com.attacker.io", "notamazonaws.com"})


@pytest.fixture(scope="module")
def recs():
    traffic = [HostTraffic(h, 10 + i, 1000 * (i + 1), classify(h)) for i, h in enumerate(HOSTS)]
    return recommend(traffic)


def aws_direct_expected(host: str) -> bool:
    info = classify(host)
    return info.is_aws and info.flavour not in ("lambda-url", "aws-other")


def test_value_shape(recs):
    for value in [recs.no_proxy_all] + [r.no_proxy for r in recs.regions]:
        entries = value.split(",")
        assert entries and all(e and "*" not in e and " " not in e and ":" not in e
                               and "/" not in e for e in entries)
        assert len(entries) == len(set(entries))


def test_expected_suffixes(recs):
    by = {r.region: r.no_proxy.split(",") for r in recs.regions}
    assert "s3.ap-northeast-1.amazonaws.com" in by["ap-northeast-1"]
    assert "execute-api.ap-northeast-1.amazonaws.com" in by["ap-northeast-1"]
    assert {"s3.amazonaws.com", "s3.us-east-1.amazonaws.com"} <= set(by["us-east-1"])
    assert "s3.cn-north-1.amazonaws.com.cn" in by["cn-north-1"]
    assert "dynamodb.us-gov-west-1.amazonaws.com" in by["us-gov-west-1"]
    # no entry names a single bucket or API id
    assert not any(e.startswith(("proxylab-demo-bucket.", "q8rw2x7k1m.")) for v in by.values()
                   for e in v)


def test_urllib_bypass(recs):
    proxies = {"https": PROXY, "no": recs.no_proxy_all}
    for host in HOSTS:
        got = bool(urllib.request.proxy_bypass_environment(f"{host}:443", proxies))
        assert got == aws_direct_expected(host), host


def test_requests_bypass(recs):
    for host in HOSTS:
        got = requests.utils.should_bypass_proxies(f"https://{host}/x",
                                                   no_proxy=recs.no_proxy_all)
        assert got == aws_direct_expected(host), host


@pytest.fixture
def proxy_env(monkeypatch, recs):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                "no_proxy", "ALL_PROXY", "all_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("HTTP_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", recs.no_proxy_all)
    return recs


def test_botocore_bypass_per_host(proxy_env):
    for host in HOSTS:
        proxies = botocore.utils.get_environ_proxies(f"https://{host}")
        assert (proxies == {}) == aws_direct_expected(host), host


@pytest.mark.parametrize(("service", "client", "region"), [
    ("s3", "s3", "us-east-1"), ("s3", "s3", "ap-northeast-1"), ("sqs", "sqs", "ap-northeast-1"),
    ("sts", "sts", "us-east-1"), ("dynamodb", "dynamodb", "us-gov-west-1"),
    ("s3", "s3", "cn-north-1"),
])
def test_botocore_clients_decide_direct(proxy_env, service, client, region):
    """A real client's proxy decision is taken on its base endpoint host."""
    import botocore.config
    import botocore.session

    sess = botocore.session.Session()
    c = sess.create_client(client, region_name=region, aws_access_key_id="a",
                           aws_secret_access_key="b",
                           config=botocore.config.Config(ignore_configured_endpoint_urls=True))
    url = c.meta.endpoint_url
    assert botocore_default_host(service, region) == url.split("//", 1)[1].split("/")[0]
    assert c._endpoint.http_session._proxy_config.proxy_url_for(url) is None


def test_lambda_urls_and_non_aws_stay_on_proxy(recs):
    stay = {s.host: s.reason for s in recs.stay_on_proxy}
    assert "www.google.com" in stay and "not AWS" in stay["www.google.com"]
    lurl = next(h for h in HOSTS if ".lambda-url." in h)
    assert "PrivateLink" in stay[lurl]
    assert not set(stay) & set(recs.direct_hosts)


def test_endpoints_and_savings(recs):
    eps = {(e.region, e.service, e.kind): e for r in recs.regions for e in r.endpoints}
    assert eps[("ap-northeast-1", "s3", "gateway")].endpoint_url_required.startswith("no")
    assert eps[("ap-northeast-1", "dynamodb", "gateway")].service_name == \
        "com.amazonaws.ap-northeast-1.dynamodb"
    sqs = eps[("ap-northeast-1", "sqs", "interface")]
    assert sqs.private_dns and sqs.endpoint_url_env == "AWS_ENDPOINT_URL_SQS"
    api = eps[("ap-northeast-1", "execute-api", "interface")]
    assert api.endpoint_url_env is None
    assert eps[("ap-northeast-1", "s3", "in-use")].endpoint_url_env == "AWS_ENDPOINT_URL_S3"
    assert eps[("cn-north-1", "s3", "gateway")].service_name == "cn.com.amazonaws.cn-north-1.s3"
    # requests/bytes moved = sum over the hosts each entry covers
    weights = {h: (10 + i, 1000 * (i + 1)) for i, h in enumerate(HOSTS)}
    for r in recs.regions:
        for e in r.entries:
            assert (e.requests, e.bytes) == (sum(weights[h][0] for h in e.hosts),
                                             sum(weights[h][1] for h in e.hosts))
        assert r.requests == sum(e.requests for e in r.entries)


class _ProxyStub:
    """Loopback TCP server that records the first request line and answers 502."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    line = conn.recv(4096).split(b"\r\n", 1)[0].decode()
                    self.seen.append(line)
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_bypass(recs):
    stub = _ProxyStub()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()  # nothing listens here: a direct connection is refused at once
    try:
        sample = [h for h in HOSTS if not h.replace(".", "").isdigit()][:60]
        for host in sample:
            before = len(stub.seen)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "https_proxy": f"http://127.0.0.1:{stub.port}", "NO_PROXY": recs.no_proxy_all}
            subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "--max-time", "3",
                 "--resolve", f"{host}:{dead_port}:127.0.0.1", f"https://{host}:{dead_port}/"],
                env=env, timeout=10, check=False)
            proxied = len(stub.seen) > before
            assert proxied == (not aws_direct_expected(host)), host
            if proxied:
                assert stub.seen[-1].startswith(f"CONNECT {host}:{dead_port}")
    finally:
        stub.close()


def test_remembered_default_hosts_equal_resolved_ones(tmp_path, monkeypatch):
    """botocore's default client hosts, remembered on disk, are what resolving gives."""
    from proxylab.awsdata import endpoints as rec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    pairs = [("s3", "us-east-1"), ("sts", "ap-northeast-1"), ("monitoring", "eu-west-1"),
             ("no-such-service", "us-east-1")]
    for clear in (True, False):  # first resolved and written, then read back
        rec.botocore_default_host.cache_clear()
        rec._default_hosts.cache_clear()
        got = [rec.botocore_default_host(s, r) for s, r in pairs]
        assert got == [rec.resolve_default_host(s, r) for s, r in pairs]
        assert got[0] == "s3.amazonaws.com" and got[-1] is None
        assert list((tmp_path / "proxylab").glob("botocore-default-hosts-*.json")), clear
    rec.botocore_default_host.cache_clear()
    rec._default_hosts.cache_clear()
