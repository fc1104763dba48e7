"""The local Lambda runtime, end to end: lambda_host in a throwaway network namespace
(only ``lo``, nothing routed), the real awslambdaric, small handlers from tmp_path.

The lead's lab is not touched: each module gets its own ``rtt-<random>`` namespace,
deleted in teardown, with a resolv.conf pointing at 127.0.0.1 where nothing listens
(so name lookups fail inside the namespace without any packet leaving it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

import proxylab.functions
from proxylab.labs.local.invoker import InvocationSpec, run_invocation

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 (network namespaces)"),
]

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REPORT = re.compile(
    rf"^REPORT RequestId: ({UUID})\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\t"
    r"Memory Size: (\d+) MB\tMax Memory Used: (\d+) MB(\tInit Duration: (\d+\.\d\d) ms)?"
    r"(\t.*)?$")

HANDLERS = '''
import json, os, subprocess, sys, time, urllib.request
print("init line")

def ok(event, context):
    print("handler line", json.dumps(event))
    return {"event": event, "request_id": context.aws_request_id,
            "function_name": context.function_name,
            "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "log_group": context.log_group_name, "log_stream": context.log_stream_name}

def env(event, context):
    return dict(os.environ)

def boom(event, context):
    print("about to fail")
    raise ValueError("boom: the handler raised")

def sleepy(event, context):
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    child = subprocess.Popen(sleep)
    daemon = subprocess.Popen(sleep, start_new_session=True)  # leaves the process group
    with open(event["pidfile"], "w") as f:
        f.write(f"{os.getpid()} {child.pid} {daemon.pid}")
    print("sleeping past the timeout")
    time.sleep(60)

def dies(event, context):
    print("exiting hard")
    os._exit(3)

def uses_proxy(event, context):
    try:
        urllib.request.urlopen("http://www.example.com/", timeout=2)
        return "no error"
    except Exception as exc:
        return str(exc)
'''

BROKEN = "import module_that_does_not_exist\n"


@pytest.fixture(scope="module")
def netns():
    name = f"rtt-{uuid.uuid4().hex[:8]}"
    etc = Path("/etc/netns") / name
    try:
        subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=10)
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        (etc / "nsswitch.conf").write_text("hosts: files dns\n")
        yield name
    finally:
        left = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                              text=True, timeout=10).stdout.split()
        for pid in left:
            subprocess.run(["kill", "-9", pid], timeout=10)
        subprocess.run(["ip", "netns", "delete", name], timeout=10)
        shutil.rmtree(etc, ignore_errors=True)
        assert not left, f"processes left in {name}: {left}"


@pytest.fixture(scope="module")
def code(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("task")
    (root / "handlers.py").write_text(textwrap.dedent(HANDLERS))
    (root / "broken.py").write_text(BROKEN)
    return root


def invoke(netns: str, code: Path, handler: str, **kw) -> tuple:
    spec = InvocationSpec(handler=handler, task_root=str(code), **kw)
    result = run_invocation(["ip", "netns", "exec", netns], spec)
    return spec, result


def pids_in(netns: str) -> list[str]:
    return subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True,
                          timeout=10).stdout.split()


def platform_lines(log: list[str], rid: str) -> tuple[int, int, re.Match]:
    """Index of START and END, and the REPORT match (which must be last)."""
    start = log.index(f"START RequestId: {rid} Version: $LATEST")
    end = log.index(f"END RequestId: {rid}")
    report = REPORT.match(log[-1])
    assert report, log[-1]
    assert start < end == len(log) - 2
    return start, end, report


def test_ok_handler_gets_event_and_context_and_platform_lines(netns, code):
    spec, inv = invoke(netns, code, "handlers.ok", event={"id": 111}, timeout_s=3,
                       function_name="proxylab-probe-regional", memory_mb=256)
    assert inv.status == "ok", inv.error
    rid = spec.request_id
    assert inv.request_id == rid
    payload = inv.payload
    assert payload["event"] == {"id": 111}
    assert payload["request_id"] == rid
    assert payload["function_name"] == "proxylab-probe-regional"
    assert payload["arn"] == ("arn:aws:lambda:ap-northeast-1:123456789012:function:"
                              "proxylab-probe-regional")
    assert payload["memory"] == "256"
    assert 0 < payload["remaining_ms"] <= 3000
    assert payload["log_group"] == "/aws/lambda/proxylab-probe-regional"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", payload["log_stream"])

    log = inv.function_log
    start, end, report = platform_lines(log, rid)
    assert log[:start] == ["init line"]  # init output comes before START
    assert log[start + 1:end] == ['handler line {"id": 111}']
    assert report.group(1) == rid
    assert float(report.group(2)) == pytest.approx(inv.duration_ms, abs=0.01)
    assert int(report.group(3)) >= float(report.group(2))
    assert report.group(4) == "256"
    assert int(report.group(5)) > 5
    assert float(report.group(7)) == pytest.approx(inv.init_duration_ms, abs=0.01)
    assert report.group(8) is None
    assert inv.init_duration_ms > 0 and inv.duration_ms >= 0
    assert inv.started_at < inv.finished_at
    assert pids_in(netns) == []


def test_function_env_is_lambdas_and_nothing_of_the_host(netns, code, monkeypatch):
    host_vars = {"SSL_CERT_FILE": "/host/ca.pem", "REQUESTS_CA_BUNDLE": "/host/ca.pem",
                 "AWS_CA_BUNDLE": "/host/ca.pem", "CURL_CA_BUNDLE": "/host/ca.pem",
                 "HTTPS_PROXY": "http://host-proxy:3128", "AWS_PROFILE": "host",
                 "PYTHONPATH": "/host/lib"}
    for key, value in host_vars.items():
        monkeypatch.setenv(key, value)
    spec, inv = invoke(
        netns, code, "handlers.env",
        env={"HTTP_PROXY": "http://10.0.0.72:3128", "NO_PROXY": "s3.ap-northeast-1.amazonaws.com",
             "SSL_CERT_FILE": "/scenario/override.pem"},
        plumbing_env={"SSL_CERT_FILE": "/lab/ca.pem", "AWS_CA_BUNDLE": "/lab/ca.pem"},
        credentials={"AWS_ACCESS_KEY_ID": "AKIALAB", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
                     "AWS_SESSION_TOKEN": "tok"},
    )
    assert inv.status == "ok", inv.error
    env = inv.payload
    lambda_keys = {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ", "LANG", "PATH", "PYTHONPATH",
        "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_ADDRESS",
        "_AWS_XRAY_DAEMON_PORT",
    }
    ours = {"HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE", "AWS_CA_BUNDLE"}
    # CPython itself adds LC_CTYPE when LANG's locale is not installed (PEP 538).
    assert set(env) - {"LC_CTYPE"} == lambda_keys | ours
    assert env["SSL_CERT_FILE"] == "/scenario/override.pem"  # scenario > plumbing
    assert env["AWS_CA_BUNDLE"] == "/lab/ca.pem"
    assert "REQUESTS_CA_BUNDLE" not in env and "HTTPS_PROXY" not in env
    assert env["PYTHONPATH"] != "/host/lib"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "ap-northeast-1"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIALAB" and env["AWS_SESSION_TOKEN"] == "tok"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert env["_HANDLER"] == "handlers.env"
    assert env["LAMBDA_TASK_ROOT"] == str(code.resolve())
    assert env["TZ"] == ":UTC"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")


def test_reserved_keys_are_refused_as_lambda_refuses_them(netns, code):
    _spec, inv = invoke(netns, code, "handlers.ok",
                        env={"AWS_REGION": "us-east-1", "TZ": "Asia/Tokyo", "OK": "1"})
    assert inv.status == "lab-error"
    assert inv.error["errorType"] == "InvalidParameterValueException"
    assert inv.error["errorMessage"].endswith("Reserved keys used in this request: AWS_REGION, TZ")
    assert inv.function_log == []


def test_a_single_py_file_is_a_task_root_of_its_own(netns, code):
    spec = InvocationSpec(handler="handlers.env", task_root=str(code / "handlers.py"))
    inv = run_invocation(["ip", "netns", "exec", netns], spec)
    assert inv.status == "ok", inv.error
    task_root = Path(inv.payload["LAMBDA_TASK_ROOT"])
    assert task_root != code.resolve() and task_root.name.startswith("proxylab-task-")
    assert not task_root.exists()  # removed after the invocation


def test_raising_handler_is_reported_as_lambda_does(netns, code):
    spec, inv = invoke(netns, code, "handlers.boom")
    assert inv.status == "error"
    assert inv.error["errorType"] == "ValueError"
    assert inv.error["errorMessage"] == "boom: the handler raised"
    assert inv.error["requestId"] == spec.request_id
    assert any('handlers.py", line' in frame and "in boom" in frame
               for frame in inv.error["stackTrace"])
    log = inv.function_log
    start, end, report = platform_lines(log, spec.request_id)
    body = log[start + 1:end]
    assert body[:3] == ["about to fail", "[ERROR] ValueError: boom: the handler raised",
                        "Traceback (most recent call last):"]
    assert report.group(8) is None  # a handled function error: no Status in REPORT


def test_timeout_kills_the_function_and_its_children(netns, code, tmp_path):
    pidfile = tmp_path / "pids"
    spec, inv = invoke(netns, code, "handlers.sleepy", timeout_s=1.0,
                       event={"pidfile": str(pidfile)})
    rid = spec.request_id
    assert inv.status == "error"
    assert inv.error["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(rf"RequestId: {rid} Error: Task timed out after 1\.\d\d seconds",
                        inv.error["errorMessage"])
    log = inv.function_log
    start, end, report = platform_lines(log, rid)
    assert log[start + 1] == "sleeping past the timeout"
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 1\.\d\d seconds",
        log[end - 1])
    assert report.group(8) == "\tStatus: timeout"
    assert 1000 <= float(report.group(2)) < 1500
    for pid in pidfile.read_text().split():
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} survived the timeout"
    assert pids_in(netns) == []


def test_import_failure_is_an_init_error(netns, code):
    spec, inv = invoke(netns, code, "broken.handler")
    assert inv.status == "error"
    assert inv.error["errorType"] == "Runtime.ImportModuleError"
    assert inv.error["errorMessage"] == (
        "Unable to import module 'broken': No module named 'module_that_does_not_exist'")
    log = inv.function_log
    assert ("[ERROR] Runtime.ImportModuleError: Unable to import module 'broken': "
            "No module named 'module_that_does_not_exist'") in log
    init_report = [line for line in log if line.startswith("INIT_REPORT")]
    assert len(init_report) == 1
    assert re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\t"
                        r"Status: error\tError Type: Runtime.ImportModuleError", init_report[0])
    _start, _end, report = platform_lines(log, spec.request_id)
    assert report.group(8) == "\tStatus: error\tError Type: Runtime.ImportModuleError"
    assert pids_in(netns) == []


def test_runtime_that_exits_is_runtime_exit_error(netns, code):
    spec, inv = invoke(netns, code, "handlers.dies")
    assert inv.status == "error"
    assert inv.error == {"errorType": "Runtime.ExitError", "errorMessage":
                         f"RequestId: {spec.request_id} Error: Runtime exited with error: "
                         "exit status 3"}
    assert "exiting hard" in inv.function_log
    assert inv.function_log[-1].endswith("\tStatus: error\tError Type: Runtime.ExitError")


def test_proxy_variables_reach_the_function_but_not_the_runtime(netns, code):
    dead = "http://127.0.0.1:9"  # nothing listens there
    proxies = {k: dead for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                                 "ALL_PROXY", "all_proxy")}
    _spec, inv = invoke(netns, code, "handlers.uses_proxy", env=proxies)
    assert inv.status == "ok", inv.error  # the Runtime API calls ignored the proxy
    assert inv.payload == "<urlopen error [Errno 111] Connection refused>"  # urllib used it


def test_probe_runs_unchanged_under_the_runtime(netns):
    probe_dir = Path(proxylab.functions.__file__).parent
    spec, inv = invoke(netns, probe_dir, "probe.handler", timeout_s=20,
                       env={"STEP_TIMEOUT": "1", "BUCKET_NAME": "proxylab-demo-bucket",
                            "SOURCE_KEY": "input/data.csv",
                            "WEB_URL": "https://www.google.com",
                            "API_GATEWAY_URL": "https://p4v9t3n6zd.execute-api.ap-northeast-1"
                                               ".amazonaws.com/dev/data?id=111"})
    assert inv.status == "ok", inv.error
    assert inv.payload["statusCode"] == 500
    steps = [json.loads(line) for line in inv.function_log if line.startswith('{"proxylab"')]
    assert [s["step"] for s in steps] == ["s3_get", "s3_put", "web", "api"]
    # Nothing resolves in the namespace (its resolver is 127.0.0.1, where nobody answers).
    assert {s["outcome"] for s in steps} == {"dns_error"}
    assert steps[0]["url"] == ("https://proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com"
                               "/input/data.csv")
    assert steps[2]["host"] == "www.google.com"
    assert "Accessing web URL: https://www.google.com" in inv.function_log
    platform_lines(inv.function_log, spec.request_id)


def test_outer_deadline_stops_host_and_function(netns, code, tmp_path):
    spec = InvocationSpec(handler="handlers.sleepy", task_root=str(code), timeout_s=30,
                          event={"pidfile": str(tmp_path / "pids")})
    inv = run_invocation(["ip", "netns", "exec", netns], spec, timeout_s=1.5)
    assert inv.status == "lab-error"
    assert "SIGTERM" in json.dumps(inv.error)
    assert pids_in(netns) == []


def test_host_that_cannot_start_is_a_lab_error_with_evidence(code):
    spec = InvocationSpec(handler="handlers.ok", task_root=str(code))
    inv = run_invocation(["ip", "netns", "exec", "rtt-does-not-exist"], spec)
    assert inv.status == "lab-error"
    assert inv.error["errorType"] == "Lab.HostError"
    assert "rtt-does-not-exist" in inv.error["host_output"]
