"""The declarative probe: a scenario's ``steps:`` list, checked by the loader (every
problem names file:line and field), carried in the invocation event, run by the
probe with the real boto3 and urllib (against moto and a loopback web server), and
the seed's four steps as one such list."""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

from test_probe_outcomes import (  # noqa: F401 - pytest fixtures
    BUCKET,
    KEY,
    PROBE,
    REGION,
    clean_env,
    moto_url,
    only_loopback,
    seed_bucket,
)
from test_probe_servers import web_server

from proxylab.analysis import predict
from proxylab.scenarios.loader import parse_catalog
from proxylab.scenarios.steps import EVENT_KEY, SEED_STEPS


def _probe():
    spec = importlib.util.spec_from_file_location(f"probe_{uuid.uuid4().hex}", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lines(out: str) -> dict[str, dict]:
    return {r["step"]: r for r in (json.loads(x) for x in out.splitlines()
                                    if x.startswith('{"proxylab"'))}


def test_the_seed_steps_are_one_declared_list(monkeypatch):
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("SOURCE_KEY", KEY)
    monkeypatch.setenv("WEB_URL", "https://www.example.com")
    monkeypatch.setenv("API_GATEWAY_URL", "https://a1.execute-api.x.amazonaws.com/dev/d")
    res = {"bucket": BUCKET, "source_key": KEY}
    probe_list = [{k: v for k, v in s.items() if k not in ("say", "label", "done")}
                  for s in _probe().seed_steps()]
    ours = [s.resolved(res).to_dict() for s in SEED_STEPS]
    # the put's key carries the day; everything else is the same list
    probe_list[1]["aws"]["params"]["Key"] = ours[1]["aws"]["params"]["Key"]
    assert probe_list == ours
    # and the analysis' seed calls are these steps' calls
    env = {"BUCKET_NAME": BUCKET, "SOURCE_KEY": KEY}
    assert predict.seed_call("s3_get", env, res) == predict.call_of(ours[0]["aws"])


def test_declared_steps_run_with_real_boto3_and_urllib(monkeypatch, capsys,
                                                       moto_url):  # noqa: F811
    seed_bucket(moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)  # every service: moto
    with web_server() as web:
        port = web.server_address[1]
        steps = [
            {"name": "get-path", "timeout_s": 2,
             "aws": {"service": "s3", "operation": "get_object",
                     "params": {"Bucket": BUCKET, "Key": KEY},
                     "config": {"addressing_style": "path"}}},
            {"name": "copy", "aws": {"service": "s3", "operation": "put_object",
                                     "params": {"Bucket": BUCKET, "Key": "copy.csv",
                                                "Body": {"from_step": "get-path"}}}},
            {"name": "tables", "timeout_s": 20,
             "aws": {"service": "dynamodb", "operation": "list_tables"}},
            {"name": "private-api", "timeout_s": 2,
             "http": {"url": f"http://127.0.0.1:{port}/dev/d", "method": "GET",
                      "headers": {"x-apigw-api-id": "p4v9t3n6zd"}}},
        ]
        probe = _probe()
        capsys.readouterr()
        result = probe.handler({EVENT_KEY: steps}, None)
        lines = _lines(capsys.readouterr().out)
    assert list(lines) == ["get-path", "copy", "tables", "private-api"]
    assert {k: v["outcome"] for k, v in lines.items()} == dict.fromkeys(lines, "ok")
    assert lines["get-path"]["url"] == f"{moto_url}/{BUCKET}/{KEY}"
    assert lines["tables"]["url"].startswith(moto_url)
    assert result["statusCode"] == 200 and set(result["steps"]) == set(lines)
    assert web.paths == ["/dev/d"]
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=moto_url, region_name=REGION, config=Config(proxies={}))
    assert s3.get_object(Bucket=BUCKET, Key="copy.csv")["Body"].read() == \
        s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()


CATALOGUE = """\
catalog: t
title: t
defaults:
  function: regional
scenarios:
  - id: ok
    title: ok
    steps:
      - name: secret
        aws: {service: secretsmanager, operation: get_secret_value, params: {SecretId: db}}
        timeout_s: 3
      - name: s3
        aws:
          service: s3
          operation: get_object
          params: {Bucket: "${bucket}", Key: k}
          config: {addressing_style: path, use_dualstack_endpoint: true,
                   proxies: {https: "${proxy_url}"}}
      - name: api
        http: {url: "${regional_api_url}", headers: {x-apigw-api-id: "${private_api_id}"}}
  - id: bad
    title: bad
    steps:
      - name: a
        aws: {service: s3, operation: get_objekt}
      - name: a
        http: {url: "ftp://x", method: FETCH}
      - name: c
        aws: {service: nosuchservice, operation: x}
        http: {url: "https://x"}
      - name: d
        aws: {service: s3, operation: get_object, config: {addressing_style: sideways}}
        timeout_s: 0
"""


def test_loader_checks_steps_naming_file_line_and_field(tmp_path):
    path = tmp_path / "c.yaml"
    cat, problems = parse_catalog(CATALOGUE, path)
    got = {(p.line, p.field, p.scenario) for p in problems}
    text = "\n".join(str(p) for p in problems)
    assert (25, "steps[0].aws.operation", "bad") in got and "get_object" in text  # did you mean
    assert (26, "steps[1].name", "bad") in got and "duplicate step name" in text
    assert (27, "steps[1].http.url", "bad") in got
    assert (27, "steps[1].http.method", "bad") in got
    assert any(f == "steps[2]" for _, f, _ in got) and "exactly one of" in text
    assert (29, "steps[2].aws.service", "bad") in got
    assert (32, "steps[3].aws.config.addressing_style", "bad") in got
    assert (33, "steps[3].timeout_s", "bad") in got
    assert all(p.scenario == "bad" for p in problems), text
    assert all(str(p).startswith(f"{path}:") for p in problems)


def test_declared_steps_travel_resolved_in_the_event(tmp_path):
    ok = CATALOGUE.split("  - id: bad")[0]
    cat, problems = parse_catalog(ok, tmp_path / "c.yaml")
    assert not problems, problems
    (s,) = cat.scenarios
    res = {"bucket": "b1", "proxy_url": "http://10.0.0.72:3128", "private_api_id": "p1",
           "regional_api_url": "https://r1.execute-api.x.amazonaws.com/dev/d"}
    event = s.invocation_event(res)
    steps = event[EVENT_KEY]
    assert [x["name"] for x in steps] == ["secret", "s3", "api"]
    assert steps[1]["aws"]["config"] == {"addressing_style": "path",
                                        "use_dualstack_endpoint": True,
                                        "proxies": {"https": "http://10.0.0.72:3128"}}
    assert steps[1]["aws"]["params"]["Bucket"] == "b1"
    assert steps[2]["http"]["headers"] == {"x-apigw-api-id": "p1"}
    assert s.to_dict()["steps"][0]["timeout_s"] == 3.0
    # the analysis asks botocore about exactly this call
    d = predict.decide("s3", {"HTTPS_PROXY": "http://other:1"}, {"region": "eu-west-1"},
                       call=predict.call_of(steps[1]["aws"]))
    assert d.proxy == "http://10.0.0.72:3128" and d.reason == "config-proxies"
    assert d.request_host == "s3.dualstack.eu-west-1.amazonaws.com" and d.path_style


def test_seed_catalogue_is_unchanged_and_declares_no_steps():
    from proxylab.scenarios import load_catalog

    cat = load_catalog("seed")
    assert all(not s.steps and s.invocation_event({}) == s.event for s in cat.scenarios)
    assert Path(cat.scenarios[0].source).name == "seed.yaml"
