"""Node.js functions in the lab on the real ``aws-lambda-ric`` (issue 11, first slice).

seed-1's variables (``HTTP(S)_PROXY`` only) with the Node probe and with the Python
probe, in one lab: the AWS SDK for JavaScript v3 ignores the proxy variables, so S3
arrives over the gateway endpoint and Squid logs no S3 CONNECT, while boto3 in the
same scenario crosses the proxy. Node 20's ``fetch`` and ``https.request`` ignore
them too: with no NAT the web and API calls time out, naming no proxy. A Node
handler that throws is reported as Lambda reports it.

Needs the RIC (``proxylab setup node``): skipped with that command when it is not
installed, a failure under CI.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxylab import cli
from proxylab.capture import Capture, read_capture
from proxylab.labs import get_lab
from proxylab.labs.local import node
from proxylab.logs import lambda_log
from proxylab.logs.squid import parse_line
from proxylab.vocab import Runtime

pytestmark = pytest.mark.lab

LAB = "nodet"
REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def node20() -> node.NodeRuntime:
    try:
        return node.resolve(Runtime.NODEJS20)
    except node.NodeMissing as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI: {exc}")
        pytest.skip(str(exc))  # the message names the command that installs it


def newer_nodes() -> list[Runtime]:
    """The Node runtimes past 20 that this machine has installed (setup node)."""
    out = []
    for r in (Runtime.NODEJS22, Runtime.NODEJS24):
        try:
            node.resolve(r)
        except node.NodeMissing:
            continue
        out.append(r)
    return out


NEWER = newer_nodes()

ENV_PROXY = """
  - id: {sid}
    title: seed-1, Node probe on {runtime}, NODE_USE_ENV_PROXY=1
    runtime: {runtime}
    env: {{NODE_USE_ENV_PROXY: "1"}}
  - id: {sid}-no-proxy
    title: NODE_USE_ENV_PROXY=1 on {runtime}, NO_PROXY read by each client's own rule
    runtime: {runtime}
    env:
      NODE_USE_ENV_PROXY: "1"
      NO_PROXY: "google.com,.xecute-api.${{region}}.amazonaws.com"
"""

CATALOG = """
catalog: node-itest
title: Node and Python side by side
defaults:
  env:
    HTTP_PROXY: "${proxy_url}"
    HTTPS_PROXY: "${proxy_url}"
    STEP_TIMEOUT: "2"
  timeout_s: 30
  function: regional
  endpoints: {s3_gateway: true, execute_api_interface: false, execute_api_private_dns: false}
scenarios:
  - id: py-seed-1
    title: seed-1, Python probe
  - id: node-seed-1
    title: seed-1, Node probe
    runtime: nodejs20.x
  - id: node-env-proxy
    title: seed-1, Node probe, NODE_USE_ENV_PROXY=1 (Node 20 does not know it)
    runtime: nodejs20.x
    env: {NODE_USE_ENV_PROXY: "1"}
  - id: node-throws
    title: a Node handler that throws
    runtime: nodejs20.x
    code: throws.mjs
  - id: node-timeout
    title: a Node handler that outlives its timeout
    runtime: nodejs20.x
    code: slow.mjs
    timeout_s: 1
  - id: node-import
    title: a Node handler whose module cannot load
    runtime: nodejs20.x
    code: broken.mjs
  - id: node-env
    title: the environment a Node function gets
    runtime: nodejs20.x
    code: env.mjs
  - id: node-user-deps
    title: a user's Node function directory whose package.json needs undici from npm
    runtime: nodejs20.x
    code: userfn
    handler: app.handler
"""

USER_PACKAGE = """
{"name": "proxylab-user-fn", "private": true, "type": "module",
 "dependencies": {"undici": "6.21.3"}}
"""

# The usual workaround on Node 20 (no NODE_USE_ENV_PROXY): undici's own ProxyAgent.
USER_APP = """
import { ProxyAgent, fetch } from "undici";
export const handler = async () => {
  const res = await fetch(process.env.WEB_URL, {
    dispatcher: new ProxyAgent(process.env.HTTPS_PROXY), signal: AbortSignal.timeout(5000) });
  return { status: res.status };
};
"""

SLOW = """
export const handler = async () => new Promise((resolve) => setTimeout(resolve, 5000));
"""

BROKEN = """
import "proxylab-no-such-package";
export const handler = async () => 1;
"""

ENV_HANDLER = """
export const handler = async () => ({ env: process.env, node: process.version });
"""

THROWS = """
console.log("about to fail on purpose");
export const handler = async () => {
  throw new TypeError("always throws");
};
"""


@pytest.fixture(scope="module")
def runs(node20, tmp_path_factory) -> Iterator[dict[str, Capture]]:
    work = tmp_path_factory.mktemp("node-catalog")
    extra = "".join(ENV_PROXY.format(sid=f"{r.value.split('.')[0]}-env-proxy", runtime=r)
                    for r in NEWER)
    (work / "node.yaml").write_text(textwrap.dedent(CATALOG) + extra)
    (work / "throws.mjs").write_text(textwrap.dedent(THROWS))
    (work / "env.mjs").write_text(textwrap.dedent(ENV_HANDLER))
    (work / "slow.mjs").write_text(textwrap.dedent(SLOW))
    (work / "broken.mjs").write_text(textwrap.dedent(BROKEN))
    (work / "userfn").mkdir()
    (work / "userfn" / "package.json").write_text(USER_PACKAGE)
    (work / "userfn" / "app.js").write_text(USER_APP)
    out = work / "runs"
    lab = get_lab("local", name=LAB)
    lab.down()
    try:
        rc = cli.main(["run", "--catalog", str(work / "node.yaml"), "--name", LAB,
                       "--runs-dir", str(out), "--keep-lab", "-q"])
        captures = {read_capture(p).record.scenario.id: read_capture(p) for p in out.iterdir()}
        assert rc in (0, 1), rc  # 1: the throwing handler is a function error
        yield captures
    finally:
        left = lab.down()
        assert not left, f"lab down left: {left}"


def connects(c: Capture) -> set[str]:
    return {sl.url for sl in map(parse_line, c.lines("proxy_access.log")) if sl.method == "CONNECT"}


def steps(c: Capture) -> dict[str, dict]:
    rows = lambda_log.parse_lines(c.lines("function.log")).steps.to_dict("records")
    return {str(r["step"]): r for r in rows}


def s3_vias(c: Capture) -> set[str]:
    import json

    hits = (json.loads(line) for line in c.lines("services.log") if line.strip())
    return {h["via"] for h in hits if h.get("service") == "s3"}


def bucket_host(c: Capture) -> str:
    return f"{dict(c.record.resources)['bucket']}.s3.{REGION}.amazonaws.com"


def test_runtime_is_recorded_in_each_capture(runs):
    assert {sid: c.record.scenario.runtime for sid, c in runs.items()} == {
        "py-seed-1": "python3.x", "node-seed-1": "nodejs20.x", "node-env-proxy": "nodejs20.x",
        "node-throws": "nodejs20.x", "node-env": "nodejs20.x",
        "node-timeout": "nodejs20.x", "node-import": "nodejs20.x", "node-user-deps": "nodejs20.x",
        **{f"{r.value.split('.')[0]}-env-proxy{tail}": str(r) for r in NEWER
           for tail in ("", "-no-proxy")}}


def test_node_probe_runs_on_the_real_ric_with_lambdas_environment(runs, node20):
    c = runs["node-seed-1"]
    assert c.record.status == "ok", c.record.error
    log = c.lines("function.log")
    # Init-phase output (the RIC's "Executing ..." line, console lines with request id
    # "undefined") comes before START, as in CloudWatch.
    assert any(line.startswith("Executing 'index.handler' in function directory")
               for line in log[:log.index(next(x for x in log if x.startswith("START ")))])
    assert any(line.startswith("REPORT RequestId: ") and "Init Duration: " in line for line in log)
    # The RIC's console: "<ISO ts>\t<request id>\tINFO\t<message>" (Node's Lambda format).
    rid = c.record.invocation.request_id
    assert any(line.endswith(f"\t{rid}\tINFO\tDownloading input/data.csv from bucket "
                             f"{dict(c.record.resources)['bucket']}") for line in log), log
    assert set(steps(c)) == {"s3_get", "s3_put", "web", "api", "web_https", "api_https"}


def test_seed_1_node_s3_takes_the_gateway_endpoint_python_crosses_the_proxy(runs):
    py, nd = runs["py-seed-1"], runs["node-seed-1"]
    assert py.record.status == "ok", py.record.error
    assert f"{bucket_host(py)}:443" in connects(py)
    assert s3_vias(py) == {"internet"}
    # SDK v3: no CONNECT for S3 at all; S3 saw it arrive from the VPC over the endpoint.
    assert not {t for t in connects(nd) if ".s3." in t}, connects(nd)
    assert s3_vias(nd) == {"gateway-endpoint"}
    got = steps(nd)
    assert (got["s3_get"]["outcome"], got["s3_put"]["outcome"]) == ("ok", "ok")
    assert got["s3_get"]["host"] == bucket_host(nd)


@pytest.mark.parametrize("sid", ["node-seed-1", "node-env-proxy"])
def test_seed_1_node_20_fetch_and_https_ignore_the_proxy_and_time_out(runs, sid):
    """Node 20 has no NODE_USE_ENV_PROXY (22.21 / 24.5 added it): with or without it,
    fetch and https go direct and, with no NAT, time out naming no proxy."""
    nd = runs[sid]
    assert nd.record.env.get("HTTPS_PROXY", "").startswith("http://")
    got = steps(nd)
    for step in ("web", "api", "web_https", "api_https"):
        assert got[step]["outcome"] == "timeout", (step, got[step])
        assert "proxy" not in (got[step]["detail"] or "").lower()
    assert connects(nd) == set()  # nothing of the Node function went to Squid


def test_a_throwing_node_handler_is_reported_as_lambda_reports_it(runs):
    c = runs["node-throws"]
    assert c.record.status == "function-error"
    err = c.record.invocation.error
    assert err["errorType"] == "TypeError"
    assert err["errorMessage"] == "always throws"
    assert isinstance(err.get("trace"), list) and err["trace"][0].startswith("TypeError")
    log = c.lines("function.log")
    assert any(line.endswith("\tINFO\tabout to fail on purpose") for line in log), log
    # The RIC logs the error itself: "<ts>\t<id>\tERROR\tInvoke Error \t{...}"
    assert any("\tERROR\tInvoke Error" in line for line in log), log


def test_a_node_timeout_is_reported_as_lambda_reports_it(runs):
    c = runs["node-timeout"]
    assert c.record.status == "function-error"
    err = c.record.invocation.error
    assert err["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.0" in err["errorMessage"]
    log = c.lines("function.log")
    assert any(line.endswith(" Task timed out after " + line.rsplit(" after ", 1)[1])
               and line.split(" ")[1] == c.record.invocation.request_id for line in log
               if " Task timed out after " in line), log
    assert any(line.startswith("REPORT ") and "Status: timeout" in line for line in log)


def test_a_node_module_that_cannot_load_is_an_init_error(runs):
    """What Lambda shows for an ES module whose import fails (e.g. aws-sdk v2 on
    nodejs18.x+): "Uncaught Exception {"errorType":"Error", ... ERR_MODULE_NOT_FOUND}"
    at init, not the CommonJS Runtime.ImportModuleError."""
    c = runs["node-import"]
    assert c.record.status == "function-error"
    err = c.record.invocation.error
    assert err["errorType"] == "Error", err
    assert err["errorMessage"].startswith("Cannot find package 'proxylab-no-such-package'")
    log = c.lines("function.log")
    assert any("\tundefined\tERROR\tUncaught Exception \t" in line and
               '"code":"ERR_MODULE_NOT_FOUND"' in line for line in log), log
    assert any(line.startswith("INIT_REPORT Init Duration: ") and
               "Phase: init\tStatus: error\tError Type: Error" in line for line in log), log


def test_lab_exec_gives_node_the_lab_ca(runs):
    """Node trusts only its own roots plus NODE_EXTRA_CA_CERTS: without it every TLS
    call to a lab front would fail where it would not on AWS."""
    lab = get_lab("local", name=LAB)
    script = ("fetch(process.argv[1], {signal: AbortSignal.timeout(5000)})"
              ".then(r => process.exit(r.status < 500 ? 0 : 3), e => { console.error(e); "
              "process.exit(4) })")
    url = f"https://s3.{REGION}.amazonaws.com/"
    assert lab.exec("lambda", ["node", "-e", script, url], timeout_s=15) == 0
    assert lab.exec("lambda", ["node", "-e", script, url], env={"NODE_EXTRA_CA_CERTS": ""},
                    timeout_s=15) == 4


@pytest.mark.parametrize("runtime", NEWER or [pytest.param(None, marks=pytest.mark.skip(
    reason=f"no Node.js 22/24 installed: {node.SETUP_COMMAND} --runtime nodejs24.x"))])
def test_node_use_env_proxy_sends_fetch_and_https_through_squid_on_newer_node(runs, runtime):
    """Node >= 22.21 / 24.5 with NODE_USE_ENV_PROXY=1: fetch and https.request use
    HTTPS_PROXY (CONNECT at Squid), while the SDK's own https.Agent still goes direct."""
    c = runs[f"{runtime.value.split('.')[0]}-env-proxy"]
    assert c.record.status == "ok", c.record.error
    got = steps(c)
    for step in ("web", "api", "web_https", "api_https"):
        assert got[step]["outcome"] == "ok", (step, got[step])
    api = f"{dict(c.record.resources)['regional_api_id']}.execute-api.{REGION}.amazonaws.com"
    assert {"www.google.com:443", f"{api}:443"} <= connects(c)
    assert not {t for t in connects(c) if ".s3." in t}, connects(c)
    assert s3_vias(c) == {"gateway-endpoint"}


def test_a_node_function_gets_lambdas_node_environment_and_the_lab_ca(runs, node20):
    c = runs["node-env"]
    assert c.record.status == "ok", c.record.error
    payload = c.record.invocation.payload
    env = payload["env"]
    assert payload["node"] == node20.version
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["NODE_PATH"].split(":") == [
        "/opt/nodejs/node20/node_modules", "/opt/nodejs/node_modules",
        f"{node20.ric_dir}/node_modules", str(node20.ric_dir), env["LAMBDA_TASK_ROOT"]]
    assert env["LAMBDA_RUNTIME_DIR"] == str(node20.ric_dir)
    assert env["_HANDLER"] == "env.handler"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert Path(env["NODE_EXTRA_CA_CERTS"]).name == "ca.pem"  # lab plumbing
    assert env["HTTPS_PROXY"] == dict(c.record.resources)["proxy_url"]
    assert "HOME" not in env and "PYTHONPATH" not in env


def test_every_node_route_is_the_one_its_client_predicts(runs):
    """The Node clients' rules (analysis.node_clients) against the lab: every step of
    every Node probe run took the route the prediction gives, for the stated reason."""
    from proxylab.analysis.routes import classify
    from proxylab.logs.tables import load_tables

    paths = [Path(c.path) for c in runs.values()
             if c.record.scenario.runtime != "python3.x" and steps(c)]
    routes = classify(load_tables(paths)).routes
    assert len(routes) >= 6 * 2, routes
    bad = routes[routes["prediction_matches"] != True]  # noqa: E712 - nullable boolean
    assert bad.empty, bad[["scenario", "step", "route", "predicted_route", "reason"]]
    node20 = routes[routes["scenario"].isin(["node-seed-1", "node-env-proxy"])]
    assert set(node20["reason"]) == {"client-ignores-env", "env-proxy-unsupported"}


# What each client does with NO_PROXY="google.com,.xecute-api.<region>.amazonaws.com":
# undici 6 (Node 22) matches the bare entry only as the host itself, so fetch proxies
# www.google.com; undici 7 (Node 24) reads it as a domain and goes direct (timeout).
# node:http matches a bare entry only as the host; its '.x' rule crossed label
# boundaries on 22.23.5 (api_https direct, timeout) and no longer does on 24.22.3.
NO_PROXY_OUTCOMES = {
    Runtime.NODEJS22: {"web": "ok", "api": "ok", "web_https": "ok", "api_https": "timeout"},
    Runtime.NODEJS24: {"web": "timeout", "api": "ok", "web_https": "ok", "api_https": "ok"},
}


@pytest.mark.parametrize("runtime", NEWER or [pytest.param(None, marks=pytest.mark.skip(
    reason=f"no Node.js 22/24 installed: {node.SETUP_COMMAND} --runtime nodejs24.x"))])
def test_fetch_and_https_read_no_proxy_each_by_its_own_rule(runs, runtime):
    c = runs[f"{runtime.value.split('.')[0]}-env-proxy-no-proxy"]
    got = {k: v["outcome"] for k, v in steps(c).items() if k not in ("s3_get", "s3_put")}
    assert got == NO_PROXY_OUTCOMES[runtime], got
    proxied = {t.split(":")[0] for t in connects(c)}
    assert ("www.google.com" in proxied) == (got["web"] == "ok" or got["web_https"] == "ok")


def test_a_users_node_directory_gets_its_npm_dependencies_once(runs):
    """code: a directory with package.json: its dependencies come from the npm registry
    into the Node cache once, and are linked into a fresh copy of the directory."""
    c = runs["node-user-deps"]
    assert c.record.status == "ok", (c.record.error, c.lines("function.log"))
    assert c.record.invocation.payload == {"status": 200}
    assert "www.google.com:443" in connects(c)  # undici's ProxyAgent, even on Node 20
    pj = Path(c.record.scenario.code) / "package.json"
    assert (node.deps_dir(pj) / "node_modules" / "undici" / "package.json").is_file()
    assert not (Path(c.record.scenario.code) / "node_modules").exists()  # the user's dir


def test_seed_node_puts_python_and_node_side_by_side(runs, tmp_path):
    """The seed-node catalogue on the real runtimes: every expectation holds (Node's S3
    over the gateway endpoint, its web calls timing out, its private API call over the
    interface endpoint where Python's fails at the proxy), every route is the predicted
    one, and the report pairs each Python scenario with its Node twin, in both
    languages, with each scenario's runtime."""
    from proxylab.analysis import analyse
    from proxylab.logs.tables import load_tables
    from proxylab.report.document import Report

    out = tmp_path / "runs"
    rc = cli.main(["run", "--catalog", "seed-node", "--name", LAB, "--runs-dir", str(out),
                   "--keep-lab", "-q"])
    assert rc == 0  # 0: every run ok and as expected
    paths = sorted(out.iterdir())
    a = analyse(load_tables(paths))
    assert len(a.routes) == 4 * 4 + 4 * 6
    assert a.routes["prediction_matches"].all(), a.routes[~a.routes["prediction_matches"]]
    assert [(p.python, p.node) for p in a.runtime_pairs] == [
        (f"seed-{i}", f"seed-{i}-node") for i in range(1, 5)]
    s3 = {(p.python, s.node_step): (s.python_route, s.node_route)
          for p in a.runtime_pairs for s in p.steps if s.node_step == "s3_get"}
    assert s3[("seed-1", "s3_get")] == ("proxy", "endpoint (gateway)")
    api = {p.python: s.node_route for p in a.runtime_pairs for s in p.steps
           if s.node_step == "api_https"}
    assert api == {"seed-1": "failed-direct", "seed-2": "failed-direct",
                   "seed-3": "endpoint (interface)", "seed-4": "endpoint (interface)"}
    for lang, heading in (("en", "Python and Node.js side by side"),
                          ("ja", "Python と Node.js の比較")):
        doc = Report.load(paths, lang=lang)
        assert heading in doc.matrix_md()
        assert "nodejs20.x (20." in doc.setup_md() and "python3.x (3." in doc.setup_md()
