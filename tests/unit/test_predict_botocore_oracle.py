"""botocore is the oracle for the botocore prediction: random (region, service,
flags) cases, each run by the real boto3 in a child process with exactly the
case's environment (os.environ, as on Lambda), compared with
:func:`proxylab.analysis.endpoint.resolve` / :func:`predict.decide_aws`, which read
the same variables from a dict."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from proxylab.analysis import endpoint, predict

P = "http://10.0.0.72:3128"
OPS = {
    "s3": ("get_object", {"Bucket": "proxylab-demo-bucket", "Key": "input/data.csv"}),
    "sts": ("get_caller_identity", {}),
    "dynamodb": ("list_tables", {}),
    "sqs": ("list_queues", {}),
    "secretsmanager": ("get_secret_value", {"SecretId": "db"}),
    "ssm": ("get_parameter", {"Name": "/app/x"}),
    "kms": ("list_keys", {}),
    "lambda": ("list_functions", {}),
    "iam": ("list_users", {}),
}
ENV_VAR = {"s3": "AWS_ENDPOINT_URL_S3", "sts": "AWS_ENDPOINT_URL_STS",
           "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB", "sqs": "AWS_ENDPOINT_URL_SQS",
           "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER", "ssm": "AWS_ENDPOINT_URL_SSM",
           "kms": "AWS_ENDPOINT_URL_KMS", "lambda": "AWS_ENDPOINT_URL_LAMBDA",
           "iam": "AWS_ENDPOINT_URL_IAM"}

CHILD = r"""
import json, os, sys
import boto3, botocore.session
from botocore.config import Config
cases = json.loads(sys.stdin.read())
base = dict(os.environ)
out = []
class Stop(Exception):
    pass
for c in cases:
    os.environ.clear(); os.environ.update(base); os.environ.update(c["env"])
    cfg = {"retries": {"total_max_attempts": 1}}
    if c.get("addressing_style"):
        cfg["s3"] = {"addressing_style": c["addressing_style"]}
    if c.get("proxies") is not None:
        cfg["proxies"] = c["proxies"]
    res = {}
    try:
        cl = boto3.session.Session().client(c["service"], region_name=c["region"],
                                            config=Config(**cfg))
    except Exception as e:
        out.append({"error": type(e).__name__}); continue
    res["endpoint"] = cl.meta.endpoint_url
    res["proxies"] = cl._endpoint.http_session._proxy_config._proxies
    seen = {}
    def stop(request, **kw):
        seen["url"] = request.url
        raise Stop()
    cl.meta.events.register("before-send", stop)
    try:
        getattr(cl, c["op"])(**c["params"])
    except Stop:
        pass
    except Exception as e:
        res["call_error"] = type(e).__name__
    res["url"] = seen.get("url")
    out.append(res)
print(json.dumps(out))
"""


def _regions() -> list[str]:
    import botocore.session

    return botocore.session.Session().get_available_regions("s3")


def _cases(n: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    regions = _regions()
    cases = []
    for _ in range(n):
        service = rnd.choice(sorted(OPS))
        region = rnd.choice(["us-east-1", *regions])
        env: dict[str, str] = {"HTTPS_PROXY": P}
        if rnd.random() < 0.3:
            env["AWS_USE_DUALSTACK_ENDPOINT"] = "true"
        if rnd.random() < 0.2:
            env["AWS_USE_FIPS_ENDPOINT"] = "true"
        if rnd.random() < 0.5:
            env["AWS_STS_REGIONAL_ENDPOINTS"] = rnd.choice(["legacy", "regional"])
        if rnd.random() < 0.5:
            env["AWS_S3_US_EAST_1_REGIONAL_ENDPOINT"] = rnd.choice(["legacy", "regional"])
        if rnd.random() < 0.15:
            env[ENV_VAR[service]] = f"https://{service}.{region}.amazonaws.com:443"
        env["NO_PROXY"] = rnd.choice(["", ".amazonaws.com", f"{service}.{region}.amazonaws.com",
                                      f"s3.{region}.amazonaws.com:443", "sts.amazonaws.com",
                                      f"proxylab-demo-bucket.s3.{region}.amazonaws.com"])
        op, params = OPS[service]
        cases.append({"service": service, "region": region, "env": env, "op": op,
                      "params": params,
                      "addressing_style": rnd.choice([None, None, "path", "virtual"])
                      if service == "s3" else None,
                      "proxies": rnd.choice([None, None, None, {"https": "http://cfg:8080"}])})
    return cases


def _real(cases: list[dict]) -> list[dict]:
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    out = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(cases), env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout)


def _call(c: dict) -> endpoint.AwsCall:
    return endpoint.AwsCall.of(c["service"], c["op"], c["params"], region=c["region"],
                               addressing_style=c["addressing_style"], proxies=c["proxies"])


@pytest.mark.parametrize("seed", [10, 11])
def test_endpoint_request_url_and_proxy_are_botocores(seed):
    cases = _cases(40, seed)
    for c, real in zip(cases, _real(cases), strict=True):
        got = endpoint.resolve(_call(c), c["env"])
        if "error" in real:  # botocore refused the configuration at client creation
            assert got.error and got.error.startswith(real["error"]), (c, got)
            continue
        assert got.error is None, (c, got)
        assert got.endpoint_url == real["endpoint"], c
        assert got.request_url == real["url"], c
        d = predict.decide_aws("x", _call(c), c["env"], {"region": c["region"]})
        # the proxy botocore would use for the request's scheme
        assert d.proxy == real["proxies"].get(d.scheme), (c, d)


def test_the_seed_cases_the_issue_names():
    def host(service, env, region, **cfg):
        op, params = OPS[service]
        return endpoint.resolve(endpoint.AwsCall.of(service, op, params, region=region, **cfg),
                                env)

    us = host("s3", {}, "us-east-1")
    assert us.endpoint_host == "s3.amazonaws.com" and us.source == "legacy-global"
    assert us.request_host == "proxylab-demo-bucket.s3.amazonaws.com"
    # NO_PROXY=s3.us-east-1... does not bypass the legacy host; the regional switch does
    env = {"HTTPS_PROXY": P, "NO_PROXY": "s3.us-east-1.amazonaws.com"}
    call = endpoint.AwsCall.of("s3", *OPS["s3"], region="us-east-1")
    assert predict.decide_aws("s3_get", call, env, {}).proxy == P
    env["AWS_S3_US_EAST_1_REGIONAL_ENDPOINT"] = "regional"
    assert predict.decide_aws("s3_get", call, env, {}).proxy is None
    dual = host("s3", {"AWS_USE_DUALSTACK_ENDPOINT": "true"}, "ap-northeast-1")
    assert "dualstack" in dual.flags
    assert host("iam", {}, "eu-west-1").source == "global"
    assert host("sts", {"AWS_STS_REGIONAL_ENDPOINTS": "legacy"}, "eu-west-1").source == \
        "legacy-global"
    path = host("s3", {}, "eu-west-1", addressing_style="path")
    assert "path-style" in path.flags and path.request_host == "s3.eu-west-1.amazonaws.com"
    # Config(proxies=...) replaces the variables: NO_PROXY is not read
    cfg = endpoint.AwsCall.of("sts", "get_caller_identity", region="eu-west-1",
                              proxies={"https": "http://cfg:8080"})
    d = predict.decide_aws("x", cfg, {"HTTPS_PROXY": P, "NO_PROXY": "*"}, {})
    assert d.proxy == "http://cfg:8080" and d.reason == "config-proxies"
