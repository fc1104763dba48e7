"""Pure logic of the local Lambda runtime (no root): spec validation, Lambda's
environment layers and reserved keys, and where platform lines land in the
function's output."""

from __future__ import annotations

import os

import pytest

from proxylab.labs.local import lambda_env
from proxylab.labs.local.invoker import InvocationSpec, invocation_from_dict
from proxylab.labs.local.lambda_host import OutputCapture


def env_for(runtime_id="python3.11", **layers):
    return lambda_env.function_env(
        handler="probe.handler", task_root="/task", runtime_dir="/rt", bin_dir="/py/bin",
        runtime_api="127.0.0.1:9001", function_name="fn", memory_mb=128,
        region="ap-northeast-1", runtime_id=runtime_id, log_stream="s",
        credentials={"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret",
                     "AWS_SESSION_TOKEN": "token"},
        **layers)


def test_layers_scenario_over_plumbing_over_defaults():
    env = env_for(plumbing_env={"SSL_CERT_FILE": "/lab/ca.pem", "LANG": "C.UTF-8"},
                  scenario_env={"SSL_CERT_FILE": "/mine.pem", "PATH": "/custom"})
    assert env["SSL_CERT_FILE"] == "/mine.pem"
    assert env["LANG"] == "C.UTF-8"
    assert env["PATH"] == "/custom"  # PATH is not reserved on Lambda either
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["LAMBDA_RUNTIME_DIR"] == env["PYTHONPATH"] == "/rt"


def test_nothing_comes_from_os_environ(monkeypatch):
    for key in list(os.environ):
        monkeypatch.delenv(key)
    bare = env_for()
    for key, value in {"SSL_CERT_FILE": "/host.pem", "HOME": "/root", "PATH": "/host/bin",
                       "HTTPS_PROXY": "http://host:3128", "AWS_PROFILE": "x"}.items():
        monkeypatch.setenv(key, value)
    assert env_for() == bare
    assert "SSL_CERT_FILE" not in bare and "HOME" not in bare


@pytest.mark.parametrize("layer", ["plumbing_env", "scenario_env"])
def test_reserved_keys_are_refused_in_any_layer(layer):
    with pytest.raises(ValueError, match="Reserved keys used in this request: "
                                         "AWS_LAMBDA_RUNTIME_API, _HANDLER"):
        env_for(**{layer: {"_HANDLER": "x.y", "AWS_LAMBDA_RUNTIME_API": "h:1", "OK": "1"}})
    assert lambda_env.reserved_keys_in({"HTTP_PROXY": "x", "NO_PROXY": "y"}) == []


def test_spec_round_trips_and_names_bad_fields():
    spec = InvocationSpec(handler="probe.handler", task_root="/task", env={"A": "1"})
    assert InvocationSpec.from_dict(spec.to_dict()) == spec
    bad = [
        ({"handler": "h"}, "field 'task_root' is required"),
        ({"handler": "h", "task_root": "/t", "colour": 1}, "unknown field(s): colour"),
        ({"handler": "h", "task_root": "/t", "env": {"A": 1}}, "field 'env' must map"),
        ({"handler": "h", "task_root": "/t", "timeout_s": 0}, "'timeout_s' must be a positive"),
        ({"handler": "h", "task_root": "/t", "credentials": {"AWS_ACCESS_KEY_ID": "x"}},
         "lacks AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN"),
    ]
    for data, message in bad:
        with pytest.raises(ValueError, match=r"^spec\.json: .*") as info:
            InvocationSpec.from_dict(data, source="spec.json")
        assert message in str(info.value)


def test_result_json_maps_to_invocation_ignoring_extras():
    inv = invocation_from_dict({"status": "ok", "request_id": "r", "payload": 1,
                                "report": {"billed_duration_ms": 2}})
    assert inv.status == "ok" and inv.payload == 1


def test_platform_lines_land_at_stream_positions():
    read_fd, write_fd = os.pipe()
    capture = OutputCapture(read_fd)
    capture.start()
    try:
        os.write(write_fd, b"init line\n")
        capture.mark("START")  # written before the mark: stays before it
        os.write(write_fd, "[ERROR] E: x\rTraceback (most recent call last):\r"
                           "\u00a0\u00a0File x\n".encode())
        os.write(write_fd, b"warning\r\npartial")
        capture.mark("TIMEOUT")
    finally:
        os.close(write_fd)
    capture.finish(timeout=2)
    capture.mark("END")
    os.close(read_fd)
    assert capture.lines() == [
        "init line", "START", "[ERROR] E: x", "Traceback (most recent call last):",
        "\u00a0\u00a0File x", "warning", "partial", "TIMEOUT", "END"]


def test_output_is_bounded_and_the_rest_drained_and_counted():
    read_fd, write_fd = os.pipe()
    capture = OutputCapture(read_fd, max_bytes=1000)
    capture.start()
    try:
        capture.mark("START RequestId: r")
        for _ in range(200):  # 200 KB through a 64 KB pipe: the writer must never block
            os.write(write_fd, b"x" * 999 + b"\n")
    finally:
        os.close(write_fd)
    capture.finish(timeout=5)
    capture.mark("END RequestId: r")
    os.close(read_fd)
    lines = capture.lines()
    assert len(capture.buf) == 1000 and capture.dropped == 200 * 1000 - 1000
    assert lines[0] == "START RequestId: r" and lines[-1] == "END RequestId: r"
    assert "199000 more bytes" in lines[-2]


def test_node_environment_is_lambdas_for_that_runtime():
    env = env_for(runtime_id="nodejs20.x", plumbing_env={"NODE_EXTRA_CA_CERTS": "/lab/ca.pem"})
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    # Lambda's NODE_PATH, with the RIC's directory where Lambda has /var/runtime.
    assert env["NODE_PATH"] == ("/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:"
                                "/rt/node_modules:/rt:/task")
    assert "PYTHONPATH" not in env
    assert env["NODE_EXTRA_CA_CERTS"] == "/lab/ca.pem"
    assert env["LAMBDA_RUNTIME_DIR"] == "/rt" and env["LAMBDA_TASK_ROOT"] == "/task"


def test_lab_plumbing_gives_node_the_lab_ca(tmp_path):
    from proxylab.labs.local import pki

    env = pki.plumbing_env(tmp_path / "ca.pem")
    assert env["NODE_EXTRA_CA_CERTS"] == env["SSL_CERT_FILE"] == str(tmp_path / "ca.pem")


def test_a_node_spec_names_its_runtime_and_client():
    base = {"handler": "index.handler", "task_root": "/t"}
    with pytest.raises(ValueError, match="'runtime' must be one of"):
        InvocationSpec.from_dict({**base, "runtime": "nodejs18.x"})
    with pytest.raises(ValueError, match="needs 'node' and 'ric_dir'"):
        InvocationSpec.from_dict({**base, "runtime": "nodejs20.x"})
    spec = InvocationSpec.from_dict({**base, "runtime": "nodejs20.x", "node": "/usr/bin/node",
                                     "ric_dir": "/c/aws-lambda-ric"})
    assert InvocationSpec.from_dict(spec.to_dict()) == spec
