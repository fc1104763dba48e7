"""The declarative probe on the lab: the seed catalogue with its four steps declared
as a ``steps:`` list gives the seed's table (the same CONNECTs, outcomes and arrival
paths as the probe's own steps), and declared steps with client config are analysed
with predictions that match the lab."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from proxylab import cli
from proxylab.analysis import analyse, load_tables
from proxylab.capture import Capture, read_capture
from proxylab.labs import get_lab
from proxylab.logs.squid import parse_line
from proxylab.scenarios import load_catalog
from proxylab.scenarios.steps import SEED_STEPS

pytestmark = pytest.mark.lab

LAB = "decl"
SEED = Path(load_catalog("seed").scenarios[0].source)


@pytest.fixture(scope="module")
def lab() -> Iterator[None]:
    lab = get_lab("local", name=LAB)
    lab.down()
    try:
        yield
    finally:
        assert not lab.down()


def _run(catalog: Path | str, runs: Path) -> dict[str, Capture]:
    rc = cli.main(["run", "--catalog", str(catalog), "--name", LAB, "--keep-lab",
                   "--runs-dir", str(runs), "-q"])
    caps = {read_capture(p).record.scenario.id: read_capture(p) for p in runs.iterdir()}
    assert rc == 0, {k: c.record.error for k, c in caps.items()}
    return caps


def _table(c: Capture) -> dict:
    """What the seed's table shows for a run: CONNECT targets and their status, step
    outcomes, and how each service front saw requests arrive."""
    sq = sorted((s.url, s.http_status) for s in map(parse_line, c.lines("proxy_access.log"))
                if s.method == "CONNECT")
    steps = [json.loads(x[x.index('{"proxylab"'):]) for x in c.lines("function.log")
             if '{"proxylab"' in x]
    fronts = sorted({(h["service"], h["via"]) for h in
                     (json.loads(x) for x in c.lines("services.log") if x.strip())})
    return {"squid": sq, "steps": [(s["step"], s["outcome"], s["status"]) for s in steps],
            "fronts": fronts}


def _declared_seed(tmp: Path) -> Path:
    data = yaml.safe_load(SEED.read_text())
    steps = [s.to_dict() for s in SEED_STEPS]
    steps[1]["aws"]["params"]["Key"] = "result_declared.csv"
    data["defaults"]["steps"] = steps
    path = tmp / "declared-seed.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_declared_seed_steps_give_the_seed_table(lab, tmp_path):
    seed = _run("seed", tmp_path / "seed")
    declared = _run(_declared_seed(tmp_path), tmp_path / "declared")
    assert sorted(seed) == sorted(declared) == ["seed-1", "seed-2", "seed-3", "seed-4"]
    for sid in seed:
        assert declared[sid].record.scenario.event["proxylab_steps"][0]["name"] == "s3_get"
        assert _table(declared[sid]) == _table(seed[sid]), sid
    a = analyse(load_tables([c.path for c in declared.values()]))
    b = analyse(load_tables([c.path for c in seed.values()]))
    assert list(a.routes["route"]) == list(b.routes["route"])
    assert a.routes["prediction_matches"].all()


CONFIGURED = """\
catalog: declared
title: declared steps with client config
defaults:
  function: private
  endpoints: {s3_gateway: true, execute_api_interface: true, execute_api_private_dns: true}
  env:
    HTTP_PROXY: "${proxy_url}"
    HTTPS_PROXY: "${proxy_url}"
    NO_PROXY: "s3.${region}.amazonaws.com,.execute-api.${region}.amazonaws.com"
    STEP_TIMEOUT: "3"
scenarios:
  - id: declared-config
    title: path-style S3 bypasses, Config(proxies) S3 crosses, private API by header
    steps:
      - name: s3-path
        aws: {service: s3, operation: get_object,
              params: {Bucket: "${bucket}", Key: "${source_key}"},
              config: {addressing_style: path}}
      - name: s3-config-proxies
        aws: {service: s3, operation: get_object,
              params: {Bucket: "${bucket}", Key: "${source_key}"},
              config: {addressing_style: path, proxies: {https: "${proxy_url}"}}}
      - name: private-api
        timeout_s: 3
        http: {url: "${private_api_url}", headers: {x-apigw-api-id: "${private_api_id}"}}
"""


def test_declared_steps_with_client_config_are_predicted(lab, tmp_path):
    cat = tmp_path / "c.yaml"
    cat.write_text(CONFIGURED)
    (c,) = _run(cat, tmp_path / "runs").values()
    a = analyse(load_tables([c.path]))
    r = a.routes.set_index("step")
    assert r.loc["s3-path", "route"] == "endpoint"  # NO_PROXY names the endpoint host
    assert r.loc["s3-config-proxies", "route"] == "proxy"  # Config(proxies): NO_PROXY unread
    assert r.loc["s3-config-proxies", "reason"] == "config-proxies"
    assert r["prediction_matches"].all(), r[["route", "predicted_route"]]
    assert str(r.loc["private-api", "outcome"]) == "ok"


HANDLER = Path(__file__).resolve().parents[1] / "fixtures" / "handlers" / "any_function.py"
# AWS calls beyond S3 the handler makes (service:operation), answered by moto behind
# the lab's fronts: with S3 and execute-api that is five AWS services and one
# third-party site, every host expected with a route its prediction matches, as below.
EXTRA_AWS = "sts:get_caller_identity,secretsmanager:list_secrets,dynamodb:list_tables"
USER = f"""\
catalog: user
title: a user's own function
defaults:
  function: regional
  endpoints: {{s3_gateway: true, execute_api_interface: false, execute_api_private_dns: false}}
scenarios:
  - id: user-handler
    title: S3 via the gateway; the API and a third-party site via Squid
    code: {HANDLER}
    handler: any_function.handler
    env:
      HTTP_PROXY: "${{proxy_url}}"
      HTTPS_PROXY: "${{proxy_url}}"
      NO_PROXY: "s3.${{region}}.amazonaws.com"
      THIRD_PARTY_URL: "https://www.google.com/"
      EXTRA_AWS: "{EXTRA_AWS}"
"""


def test_a_user_handler_is_analysed_host_by_host_in_the_report(lab, tmp_path):
    from proxylab.report.document import Report

    cat = tmp_path / "user.yaml"
    cat.write_text(USER)
    (c,) = _run(cat, tmp_path / "runs").values()
    a = analyse(load_tables([c.path]))
    assert a.routes.empty  # no step lines: the hosts come from the evidence
    res = dict(c.record.resources)
    bucket = f"{res['bucket']}.s3.{res['region']}.amazonaws.com"
    api = f"{res['regional_api_id']}.execute-api.{res['region']}.amazonaws.com"
    hosts = {f.host: f for f in a.hosts.facts}
    assert {bucket, api, "www.google.com"} <= set(hosts)
    assert len(hosts) >= 3 + len([x for x in EXTRA_AWS.split(",") if x])
    assert hosts[bucket].route == "endpoint" and hosts[api].route == "proxy"
    assert hosts["www.google.com"].route == "proxy"
    assert all(f.prediction_matches for f in hosts.values()), {
        h: (f.route, f.predicted_route) for h, f in hosts.items()}
    for lang in ("en", "ja"):
        text = Report(a, lang, None).no_steps_md(str(a.tables.runs["run_id"].iloc[0]))
        assert all(f"**{h}**" in text for h in hosts), lang
