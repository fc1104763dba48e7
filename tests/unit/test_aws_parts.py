"""The AWS lab's parts without moto: stack events on a failed create (botocore
Stubber: moto does not roll back), Lambda's answer shapes, CloudWatch line filtering,
the probe's zip and the cost table."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from proxylab.labs.aws import cost, logs, ssm, stack
from proxylab.labs.aws import invoke as inv
from proxylab.labs.aws.stack import Clock
from proxylab.labs.base import FunctionCode, LabError

STACK_ID = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/proxylab/1f2e"
T0 = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.UTC)


def fake_client(service: str) -> object:
    return boto3.client(
        service,
        region_name="ap-northeast-1",
        aws_access_key_id="AKIAFAKE",
        aws_secret_access_key="fake",
    )


def event(n: int, logical: str, rtype: str, status: str, reason: str = "") -> dict:
    e = {
        "StackId": STACK_ID,
        "EventId": f"e{n}",
        "StackName": "proxylab",
        "LogicalResourceId": logical,
        "ResourceType": rtype,
        "Timestamp": T0 + dt.timedelta(seconds=n),
        "ResourceStatus": status,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def stack_status(status: str) -> dict:
    return {
        "Stacks": [
            {
                "StackName": "proxylab",
                "StackId": STACK_ID,
                "CreationTime": T0,
                "StackStatus": status,
            }
        ]
    }


class FakeClock(Clock):
    def __init__(self) -> None:
        self.t = 1000.0
        super().__init__(now=lambda: self.t, sleep=self._sleep)

    def _sleep(self, s: float) -> None:
        self.t += s


def test_failed_create_rolls_back_and_names_the_failing_resource() -> None:
    """moto creates or raises at once; a rollback's event stream is stubbed as
    CloudFormation sends it (newest first)."""
    cfn = fake_client("cloudformation")
    e1 = event(1, "LambdaVpc", "AWS::EC2::VPC", "CREATE_COMPLETE")
    e2 = event(
        2,
        "ProxyInstance",
        "AWS::EC2::Instance",
        "CREATE_FAILED",
        "Received 0 SUCCESS signals out of the 1 expected from the instance",
    )
    e3 = event(
        3,
        "Peering",
        "AWS::EC2::VPCPeeringConnection",
        "CREATE_FAILED",
        "Resource creation cancelled",
    )
    e4 = event(
        4,
        "proxylab",
        "AWS::CloudFormation::Stack",
        "ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to create: [ProxyInstance]",
    )
    e5 = event(5, "LambdaVpc", "AWS::EC2::VPC", "DELETE_COMPLETE")
    e6 = event(6, "proxylab", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE")
    with Stubber(cfn) as stub:
        stub.add_response("create_stack", {"StackId": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": [e1]})
        stub.add_response("describe_stacks", stack_status("CREATE_IN_PROGRESS"))
        stub.add_response("describe_stack_events", {"StackEvents": [e4, e3, e2, e1]})
        stub.add_response("describe_stacks", stack_status("ROLLBACK_IN_PROGRESS"))
        stub.add_response("describe_stack_events", {"StackEvents": [e6, e5, e4, e3, e2, e1]})
        stub.add_response("describe_stacks", stack_status("ROLLBACK_COMPLETE"))
        stub.add_response("describe_stack_events", {"StackEvents": [e6, e5, e4, e3, e2, e1]})
        said: list[str] = []
        with pytest.raises(LabError) as err:
            stack.create(
                cfn,
                "proxylab",
                "{}",
                {"LabName": "proxylab"},
                "proxylab",
                said.append,
                600,
                5,
                FakeClock(),
            )
        stub.assert_no_pending_responses()
    msg = str(err.value)
    assert "create failed (ROLLBACK_COMPLETE)" in msg
    assert "ProxyInstance (AWS::EC2::Instance): Received 0 SUCCESS signals" in msg
    assert "Peering" not in msg  # cancelled because of the failure, not a cause
    assert "rolled the stack back" in msg and "lab down --backend aws" in msg
    # every event shown once, oldest first
    shown = [line.split()[0] for line in said[1:]]
    assert shown == ["LambdaVpc", "ProxyInstance", "Peering", "proxylab", "LambdaVpc", "proxylab"]


def test_stack_wait_is_bounded() -> None:
    cfn = fake_client("cloudformation")
    clock = FakeClock()
    with Stubber(cfn) as stub:
        for _ in range(4):
            stub.add_response("describe_stack_events", {"StackEvents": []})
            stub.add_response("describe_stacks", stack_status("CREATE_IN_PROGRESS"))
        with pytest.raises(LabError, match="still CREATE_IN_PROGRESS after 30 s"):
            stack.wait(cfn, "proxylab", {"CREATE_COMPLETE"}, lambda m: None, 30, 10, clock)


def test_missing_stack_is_none() -> None:
    cfn = fake_client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id proxylab does not exist"
        )
        assert stack.find_stack(cfn, "proxylab") is None


def _invoke_response(payload: bytes, tail: str, function_error: str | None = None) -> dict:
    resp = {
        "StatusCode": 200,
        "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
        "LogResult": base64.b64encode(tail.encode()).decode(),
        "ExecutedVersion": "$LATEST",
    }
    if function_error:
        resp["FunctionError"] = function_error
    return resp


def test_invoke_reads_a_function_error_and_the_report_line() -> None:
    lam = fake_client("lambda")
    tail = (
        "START RequestId: 6f1c Version: $LATEST\n"
        "[ERROR] RuntimeError: boom\n"
        "END RequestId: 6f1c\n"
        "REPORT RequestId: 6f1c\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 256 MB"
        "\tMax Memory Used: 40 MB\tInit Duration: 250.10 ms\t\n"
    )
    err = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"}).encode()
    with Stubber(lam) as stub:
        stub.add_response(
            "invoke",
            _invoke_response(err, tail, "Unhandled"),
            {
                "FunctionName": "f",
                "InvocationType": "RequestResponse",
                "LogType": "Tail",
                "Payload": b"{}",
            },
        )
        result = inv.invoke(lam, "f", {}, FakeClock())
    assert result.status == "error"
    assert result.error == {
        "errorMessage": "boom",
        "errorType": "RuntimeError",
        "functionError": "Unhandled",
    }
    assert (result.duration_ms, result.init_duration_ms) == (12.5, 250.1)
    assert result.function_log[-1].startswith("REPORT RequestId: 6f1c")


def test_invoke_failure_is_a_lab_error_not_an_exception() -> None:
    lam = fake_client("lambda")
    with Stubber(lam) as stub:
        stub.add_client_error("invoke", "ResourceNotFoundException", "Function not found: f")
        result = inv.invoke(lam, "f", {}, FakeClock())
    assert result.status == "lab-error" and "Function not found" in result.error["errorMessage"]


def test_scenario_env_may_not_set_lambda_reserved_names() -> None:
    inv.check_env({"HTTP_PROXY": "http://10.0.0.72:3128", "AWS_ENDPOINT_URL_S3": "https://x"})
    with pytest.raises(LabError, match="AWS_REGION, AWS_SECRET_ACCESS_KEY reserved by Lambda"):
        inv.check_env({"AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "y"})


def test_zip_is_deterministic_and_holds_the_code(tmp_path: Path) -> None:
    a, handler = inv.build_zip(None)
    b, _ = inv.build_zip(None)
    assert a == b and handler == "probe.handler"
    assert zipfile.ZipFile(io.BytesIO(a)).namelist() == ["probe.py"]
    (tmp_path / "pkg").mkdir()
    (tmp_path / "app.py").write_text("def handler(e, c):\n    raise ValueError('x')\n")
    (tmp_path / "pkg" / "util.py").write_text("X = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    data, handler = inv.build_zip(FunctionCode(str(tmp_path), "app.handler"))
    assert handler == "app.handler"
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["app.py", "pkg/util.py"]
    assert inv.code_sha256(data) != inv.code_sha256(a)
    with pytest.raises(LabError, match="no such file"):
        inv.build_zip(FunctionCode(str(tmp_path / "nope"), "x.handler"))


def _evt(stream: str, ts: float, message: str) -> dict:
    return {"logStreamName": stream, "timestamp": int(ts * 1000), "message": message}


def test_invocation_lines_wait_for_report_and_keep_init_start() -> None:
    evts = [
        _evt("s1", 1, "START RequestId: other Version: $LATEST\n"),
        _evt("s1", 2, "REPORT RequestId: other\tDuration: 1 ms\n"),
        _evt("s2", 3, "INIT_START Runtime Version: python:3.12\n"),
        _evt("s2", 4, "START RequestId: r1 Version: $LATEST\n"),
        _evt("s2", 5, "line one\nline two\n"),
        _evt("s2", 6, "END RequestId: r1\n"),
    ]
    assert logs.invocation_lines(evts, "r1") is None  # REPORT not delivered yet
    evts.append(_evt("s2", 7, "REPORT RequestId: r1\tDuration: 5.00 ms\t\n"))
    assert logs.invocation_lines(evts, "r1") == [
        "INIT_START Runtime Version: python:3.12",
        "START RequestId: r1 Version: $LATEST",
        "line one",
        "line two",
        "END RequestId: r1",
        "REPORT RequestId: r1\tDuration: 5.00 ms\t",
    ]


def test_squid_lines_match_client_and_request_start() -> None:
    window = logs.Window(1000.0, 1010.0)
    lines = [
        "1009.500    400 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT www.google.com:443 - "
        "HIER_DIRECT/1.2.3.4 -",
        # ended 35 s after the run (tunnel idle) but began inside it: this run's
        "1045.000  36000 10.1.143.211 TCP_TUNNEL/200 5000 CONNECT "
        "b.s3.ap-northeast-1.amazonaws.com:443 - HIER_DIRECT/5.6.7.8 -",
        "1005.000    100 10.1.9.9 TCP_TUNNEL/200 10 CONNECT other:443 - HIER_DIRECT/1.1.1.1 -",
        "900.000    100 10.1.143.211 TCP_TUNNEL/200 10 CONNECT earlier:443 - HIER_DIRECT/1.1.1.1 -",
        "garbage",
    ]
    got = logs.squid_lines_for([_evt("i", 1050, ln) for ln in lines], {"10.1.143.211"}, window)
    assert got == lines[:2]


def test_api_access_records_become_services_lines() -> None:
    via_vpce = json.dumps(
        {
            "requestId": "r",
            "requestTimeEpoch": "1005000",
            "apiId": "p4v9t3n6zd",
            "stage": "dev",
            "domainName": "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com",
            "httpMethod": "GET",
            "path": "/dev/data",
            "status": "200",
            "sourceIp": "10.1.143.211",
            "vpceId": "vpce-0a1b2c3d4e5f67890",
        }
    )
    rec = logs.service_record(via_vpce)
    assert rec["via"] == "interface-endpoint" and rec["vpce_id"] == "vpce-0a1b2c3d4e5f67890"
    assert rec["ts"] == 1005.0 and rec["status"] == 200 and rec["service"] == "execute-api"
    public = json.loads(via_vpce) | {"vpceId": "-", "sourceIp": "54.1.2.3", "requestTimeEpoch": "1"}
    assert logs.service_record(json.dumps(public))["via"] == "internet"
    assert logs.service_record("not json") is None
    assert logs.service_record('{"x": 1}') is None
    window = logs.Window(1000.0, 1010.0)
    evts = [_evt("a", 1005, via_vpce), _evt("a", 1005, json.dumps(public))]
    assert len(logs.service_records_for(evts, {"10.1.143.211"}, set(), window)) == 1
    assert logs.service_records_for(evts, set(), {"vpce-0a1b2c3d4e5f67890"}, window)[0]["vpce_id"]


def test_probe_steps_are_read_from_function_lines() -> None:
    step = {"proxylab": "step", "step": "api", "status": 200, "outcome": "ok"}
    lines = ["START RequestId: r", json.dumps(step), '{"proxylab": broken', "plain print"]
    assert logs.probe_steps(lines) == [step]


def test_cost_estimate_adds_up_the_table() -> None:
    lines, total, note = cost.estimate("ap-northeast-1", "t4g.micro", 1)
    p = cost.PRICES["ap-northeast-1"]
    expected = (
        p["t4g.micro"]
        + p["gp3_gb_month"] * 8 / 730
        + p["public_ipv4_hour"]
        + p["interface_endpoint_az_hour"]
    )
    assert total == pytest.approx(expected, abs=1e-4) and note == ""
    assert any(line.item == "NAT gateway" and line.usd_per_hour == 0.0 for line in lines)
    text = cost.render(lines, total, note)
    assert "USD/hour" in text and "per use" in text
    _, _, note = cost.estimate("sa-east-1", "t3.micro", 0)
    assert "no price table for sa-east-1" in note
    lines, _, _ = cost.estimate("us-east-1", "m7g.large", 0)
    assert lines[0].usd_per_hour is None and "not in the price table" in lines[0].note


def test_describe_without_credentials_says_so_instead_of_down(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No credentials anywhere in the chain: a clear error before any request is sent
    (instance metadata lookups disabled, so nothing leaves this process)."""
    from proxylab.labs.aws.lab import AwsLab

    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    lab = AwsLab(region="ap-northeast-1", echo=lambda m: None)
    with pytest.raises(LabError, match="no AWS credentials found"):
        lab.describe()


def test_open_peers_reads_ss_output() -> None:
    out = "open 10.1.143.211:43122\nopen [::ffff:10.1.144.7]:5000\nopen [fd00::1]:80\nnoise\n"
    assert ssm.open_peers(out) == ["10.1.143.211", "10.1.144.7", "fd00::1"]
