"""`proxylab lab ... --backend aws` end to end through the command line, against moto
in-process (fake credentials; nothing leaves this process).

Two test-only substitutions, because moto cannot do these: the template gets the
``Uri``/``IntegrationHttpMethod`` moto requires on MOCK integrations, and SSM's
``DescribeInstanceInformation`` (not implemented by moto) is answered "Online".
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto import mock_aws

from proxylab.cli import main
from proxylab.labs.aws import ssm
from proxylab.labs.aws import template as tpl

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..ApiGateway..Account")


@pytest.fixture
def moto_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPROXYLABFAKEKEY2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    shipped = tpl.load()
    for res in shipped["Resources"].values():
        if res["Type"] == "AWS::ApiGateway::Method":
            res["Properties"]["Integration"].update(IntegrationHttpMethod="POST", Uri="mock://")
    monkeypatch.setattr(tpl, "template_body", lambda: json.dumps(shipped))
    monkeypatch.setattr(ssm, "ping_status", lambda client, instance: "Online")


@mock_aws(config={"lambda": {"use_docker": False}})
def test_lab_commands_with_the_aws_backend(moto_cli: None, capsys: Any) -> None:
    region = ["--backend", "aws", "--region", "ap-northeast-1"]
    assert main(["lab", "status", *region]) == 3  # no stack yet: down
    assert "down" in capsys.readouterr().out
    assert main(["lab", "up", *region, "--yes", "--json"]) == 0
    out, err = capsys.readouterr()
    desc = json.loads(out)
    assert desc["backend"] == "aws" and desc["up"] is True
    assert desc["resources"]["proxy_url"] == "http://10.0.0.72:3128"
    assert "USD/hour" in err and "CREATE_COMPLETE" in err  # plan, cost, stack events
    assert main(["lab", "status", *region, "--json"]) == 0  # every service healthy
    capsys.readouterr()
    assert main(["lab", "attach", *region, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resources"]["bucket"] == desc["resources"]["bucket"]
    assert main(["lab", "down", *region, "--name", "other", "--yes"]) == 0
    assert "nothing to delete" in capsys.readouterr().err
    # exec defaults to the Lambda subnet, which has no shell on AWS: a clear error
    assert main(["lab", "exec", *region, "--", "true"]) == 1
    assert "only on the proxy host" in capsys.readouterr().err


def test_up_without_a_terminal_and_without_yes_refuses(
    moto_cli: None, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with mock_aws():
        assert main(["lab", "up", "--backend", "aws", "--region", "ap-northeast-1"]) == 1
    assert "re-run with --yes" in capsys.readouterr().err
