"""The AWS lab's CloudFormation template: cfn-lint clean, and the seed topology's rules
(no NAT or SSH, Squid only for the Lambda VPC, every resource tagged) hold in it."""

from __future__ import annotations

from pathlib import Path

import cfnlint.api  # a test dependency (pyproject [test]): never skipped
import pytest

from proxylab.labs.aws import template as tpl
from proxylab.labs.base import EndpointLayout

REGIONS = ["ap-northeast-1", "us-east-1", "eu-west-1"]
# Types CloudFormation cannot tag (their parent or the stack tag covers them).
UNTAGGABLE = {
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::Route",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::IAM::InstanceProfile",
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Deployment",  # tagged through StageDescription.Tags
}


def test_cfn_lint_reports_no_errors() -> None:
    matches = cfnlint.api.lint_file(
        tpl.TEMPLATE_PATH, config=cfnlint.api.ManualArgs(regions=REGIONS)
    )
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    assert [str(m) for m in matches] == []  # no warnings either


def test_cfn_lint_does_catch_a_broken_resource() -> None:
    """The lint test above can fail: the same call flags a misspelt property."""
    body = tpl.template_body().replace(
        "CidrBlock: !Ref LambdaVpcCidr", "CidrBloc: !Ref LambdaVpcCidr"
    )
    matches = cfnlint.api.lint(body, config=cfnlint.api.ManualArgs(regions=REGIONS))
    assert any(m.rule.id == "E3002" for m in matches)


def test_every_taggable_resource_carries_the_lab_tag() -> None:
    t = tpl.load()
    for logical_id, res in t["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::ApiGateway::Deployment":
            tags = props["StageDescription"]["Tags"]
        elif res["Type"] in UNTAGGABLE:
            continue
        else:
            tags = props.get("Tags")
        assert tags, f"{logical_id} has no Tags"
        assert {"Key": tpl.TAG_KEY, "Value": {"Ref": "LabName"}} in tags, logical_id


def test_no_nat_no_ssh_no_inbound_from_the_internet() -> None:
    t = tpl.load()
    types = {r["Type"] for r in t["Resources"].values()}
    assert "AWS::EC2::NatGateway" not in types
    instance = t["Resources"]["ProxyInstance"]["Properties"]
    assert "KeyName" not in instance
    nic = instance["NetworkInterfaces"][0]
    assert nic["PrivateIpAddress"] == {"Ref": "ProxyPrivateIp"}
    assert t["Parameters"]["ProxyPrivateIp"]["Default"] == "10.0.0.72"  # the seed's Squid
    ingress = t["Resources"]["ProxySecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert len(ingress) == 1
    assert ingress[0]["CidrIp"] == {"Ref": "LambdaVpcCidr"}
    assert ingress[0]["FromPort"] == {"Ref": "ProxyPort"}
    # The Lambda route table knows only the peering (plus the S3 prefix list via the
    # gateway endpoint): no default route.
    routes = [
        r["Properties"]
        for r in t["Resources"].values()
        if r["Type"] == "AWS::EC2::Route"
        and r["Properties"]["RouteTableId"] == {"Ref": "LambdaRouteTable"}
    ]
    assert routes == [
        {
            "RouteTableId": {"Ref": "LambdaRouteTable"},
            "DestinationCidrBlock": {"Ref": "ProxyVpcCidr"},
            "VpcPeeringConnectionId": {"Ref": "Peering"},
        }
    ]
    # And the proxy VPC routes back to the Lambda VPC over the same peering.
    back = t["Resources"]["ProxyToLambdaRoute"]["Properties"]
    assert back["DestinationCidrBlock"] == {"Ref": "LambdaVpcCidr"}


def test_squid_is_configured_like_the_local_lab() -> None:
    t = tpl.load()
    user_data = t["Resources"]["ProxyInstance"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    for line in (
        "acl lambda_vpc src ${LambdaVpcCidr}",
        "acl SSL_ports port 443",
        "http_access deny CONNECT !SSL_ports",
        "http_access allow lambda_vpc",
        "http_access deny all",
        "access_log stdio:/var/log/squid/access.log squid",
    ):
        assert line in user_data
    assert '"file_path": "/var/log/squid/access.log"' in user_data
    assert '"log_group_name": "${SquidLogGroup}"' in user_data
    ami = t["Parameters"]["ProxyImageId"]
    assert ami["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert ami["Default"].startswith("/aws/service/ami-amazon-linux-latest/al2023-")


def test_private_api_only_through_the_lab_endpoint() -> None:
    t = tpl.load()
    api = t["Resources"]["PrivateApi"]["Properties"]
    assert api["EndpointConfiguration"]["Types"] == ["PRIVATE"]
    deny = [s for s in api["Policy"]["Statement"] if s["Effect"] == "Deny"][0]
    assert deny["Condition"]["StringNotEquals"]["aws:SourceVpce"] == {
        "Fn::If": ["HasExecuteApi", {"Ref": "ExecuteApiEndpoint"}, "vpce-none"]
    }
    fmt = t["Resources"]["PrivateApiDeployment"]["Properties"]["StageDescription"][
        "AccessLogSetting"
    ]["Fn::If"][1]["Format"]
    assert "$context.identity.vpceId" in fmt


@pytest.mark.parametrize(
    "layout, s3_interface, present, absent",
    [
        (
            EndpointLayout(),
            False,
            {"S3GatewayEndpoint", "ExecuteApiEndpoint", "EndpointSecurityGroup"},
            {"S3InterfaceEndpoint"},
        ),
        (
            EndpointLayout(s3_gateway=False, execute_api_interface=False),
            False,
            set(),
            {"S3GatewayEndpoint", "ExecuteApiEndpoint", "EndpointSecurityGroup"},
        ),
        (
            EndpointLayout(execute_api_interface=False),
            True,
            {"S3InterfaceEndpoint", "EndpointSecurityGroup"},
            {"ExecuteApiEndpoint"},
        ),
    ],
)
def test_planned_resources_follow_the_endpoint_layout(
    layout: EndpointLayout, s3_interface: bool, present: set[str], absent: set[str]
) -> None:
    params = tpl.parameters_for("lab1", layout, s3_interface)
    planned = {lid for lid, _ in tpl.planned_resources(params)}
    assert present <= planned
    assert not (absent & planned)
    assert {"ProxyInstance", "RegionalFunction", "PrivateFunction", "Peering"} <= planned


def test_parameters_round_trip_to_the_layout() -> None:
    layout = EndpointLayout(s3_gateway=False, execute_api_private_dns=False)
    params = tpl.parameters_for("lab1", layout)
    assert params["EnableS3GatewayEndpoint"] == "false"
    assert params["ExecuteApiPrivateDns"] == "false"
    assert tpl.endpoints_from_parameters(params) == layout


def test_template_path_is_packaged() -> None:
    assert tpl.TEMPLATE_PATH == Path(tpl.__file__).with_name("template.yaml")
    assert tpl.TEMPLATE_PATH.is_file()


def test_readme_lists_the_shipped_iam_policy() -> None:
    """The README's AWS section shows exactly the policy file (no drift)."""
    import json

    readme = (Path(tpl.__file__).resolve().parents[4] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## On AWS (your own account)", 1)[1]
    block = section.split("```json", 1)[1].split("```", 1)[0]
    shipped = json.loads(Path(tpl.__file__).with_name("iam-policy.json").read_text())
    assert json.loads(block) == shipped
    assert "No live AWS account was used" in section
