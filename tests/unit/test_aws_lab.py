"""The AWS lab's provision -> run -> collect -> down path, against moto (in-process,
``mock_aws``: nothing leaves this process; fake credentials).

What moto cannot execute, and how each test checks the request instead:

- Lambda cannot run a VPC function here (no Docker, no VPC): moto's "simple" Lambda
  backend answers ``Invoke`` with a queued payload, and the test checks the calls the
  lab made (code upload, configuration, ``LogType=Tail``).
- CloudWatch Logs delivery (Lambda's log lines, the CloudWatch agent shipping Squid's
  access.log, API Gateway access logs) does not happen in moto: a small ``World``
  writes lines shaped like real ones into moto's log groups *while the lab waits*
  (on the lab's injected sleep), so the bounded waits and the filtering are real.
- SSM: moto records ``SendCommand`` and answers ``GetCommandInvocation`` with
  Success, but has no ``DescribeInstanceInformation``: a botocore ``before-call`` hook
  answers it (Online), and the test checks the commands sent.
- Lambda Hyperplane ENIs are not created by moto: the World creates one with the
  description and security group Lambda gives it.
- moto's CloudFormation requires ``IntegrationHttpMethod`` and ``Uri`` on MOCK
  integrations (AWS does not): ``moto_template`` adds them; everything else is the
  shipped template.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.awslambda_simple.models import lambda_simple_backends

from proxylab.labs.aws import lab as awslab
from proxylab.labs.aws import template as tpl
from proxylab.labs.aws.stack import Clock
from proxylab.labs.base import EndpointLayout, Lab, LabError
from proxylab.labs.registry import get_lab

pytestmark = pytest.mark.filterwarnings(
    "ignore:Tried to parse AWS..ApiGateway..Account"  # moto skips it; AWS creates it
)

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
FAKE_KEY = "AKIAPROXYLABFAKEKEY1"
FAKE_SECRET = "proxylab-fake-secret-never-in-a-capture"
ENI_IP = "10.1.143.211"


def moto_template() -> str:
    t = tpl.load()
    for res in t["Resources"].values():
        if res["Type"] == "AWS::ApiGateway::Method":
            res["Properties"]["Integration"].update(IntegrationHttpMethod="POST", Uri="mock://")
    return json.dumps(t)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


class World:
    """Stands in for AWS's asynchronous parts: delivers log lines on the lab's sleeps."""

    def __init__(self, session: boto3.session.Session, deliver: bool = True) -> None:
        self.session = session  # the lab's: its calls are recorded
        self.helper = boto3.session.Session(region_name=REGION)  # the test's and World's own
        self.deliver = deliver
        self.t = time.time()
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.invocations: list[tuple[str, str, float]] = []  # (function, request id, at)
        self.markers: list[str] = []
        self.delivered: set[str] = set()
        self.outputs: dict[str, str] = {}
        session.events.register("before-parameter-build.*.*", self._record)
        session.events.register("before-call.ssm.DescribeInstanceInformation", self._ssm_online)
        session.events.register("after-call.lambda.Invoke", self._invoked)
        session.events.register("before-call.cloudformation.DeleteStack", self._cascade)
        session.events.register("after-call.ssm.GetCommandInvocation", self._ss_output)
        self.ss_output = ""  # what `ss` prints on the Squid host (moto runs nothing)

    # clock
    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += max(s, 0.5)
        if self.deliver:
            self._deliver()

    # recorded calls
    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, params))

    def _ssm_online(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        ids = json.loads(params["body"])["Filters"][0]["Values"]
        return (
            AWSResponse(None, 200, {}, None),
            {"InstanceInformationList": [{"InstanceId": i, "PingStatus": "Online"} for i in ids]},
        )

    def _ss_output(self, parsed: dict[str, Any], **_: Any) -> None:
        parsed["StandardOutputContent"] = self.ss_output

    def _cascade(self, **_: Any) -> None:
        """moto's CloudFormation deletes without dependency order and never detaches or
        deletes the internet gateway, nor deletes the peering, VPC endpoints, ENIs or
        non-main route tables, so the VPCs' deletion fails; CloudFormation orders this
        itself. Do those parts first, as AWS would, then let moto delete the stack."""
        ec2 = self.helper.client("ec2", region_name=REGION)
        vpcs = [self.outputs["LambdaVpcId"], self.outputs["ProxyVpcId"]]
        flt = [{"Name": "vpc-id", "Values": vpcs}]
        for igw in ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": vpcs}]
        )["InternetGateways"]:
            for att in igw["Attachments"]:
                ec2.detach_internet_gateway(
                    InternetGatewayId=igw["InternetGatewayId"], VpcId=att["VpcId"]
                )
        ids = [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=flt)["VpcEndpoints"]]
        if ids:
            ec2.delete_vpc_endpoints(VpcEndpointIds=ids)
        for eni in ec2.describe_network_interfaces(Filters=flt)["NetworkInterfaces"]:
            if eni.get("Attachment", {}).get("InstanceId"):
                continue
            ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
        for rt in ec2.describe_route_tables(Filters=flt)["RouteTables"]:
            if any(a.get("Main") for a in rt.get("Associations", [])):
                continue
            for a in rt.get("Associations", []):
                ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=rt["RouteTableId"])
        for igw in ec2.describe_internet_gateways(
            Filters=[{"Name": "tag:aws:cloudformation:stack-name", "Values": ["proxylab"]}]
        )["InternetGateways"]:
            ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
        ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=self.outputs["PeeringId"])

    def _invoked(self, http_response: Any, parsed: dict[str, Any], model: Any, **kw: Any) -> None:
        rid = parsed["ResponseMetadata"]["RequestId"]
        fn = kw.get("context", {}).get("proxylab_fn") or self._last_invoke_fn()
        self.invocations.append((fn, rid, self.t))

    def _last_invoke_fn(self) -> str:
        return [p for s, op, p in self.calls if op == "Invoke"][-1]["FunctionName"]

    def ops(self, name: str) -> list[dict[str, Any]]:
        return [p for _s, op, p in self.calls if op == name]

    # delivery
    def _put(self, group: str, stream: str, messages: list[tuple[float, str]]) -> None:
        logs = self.helper.client("logs", region_name=REGION)
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(ts * 1000), "message": m} for ts, m in messages],
        )

    def _deliver(self) -> None:
        out = self.outputs
        for fn, rid, at in self.invocations:
            if rid in self.delivered:
                continue
            self.delivered.add(rid)
            api = out["RegionalApiId"]
            host = f"{api}.execute-api.{REGION}.amazonaws.com"
            step = {
                "proxylab": "step",
                "step": "api",
                "url": f"https://{host}/dev/data?id=111",
                "host": host,
                "outcome": "ok",
                "status": 200,
                "error": None,
                "elapsed_ms": 80.1,
            }
            self._put(
                f"/aws/lambda/{fn}",
                f"2026/11/24/[$LATEST]{rid[:8]}",
                [
                    (
                        at - 1.0,
                        "INIT_START Runtime Version: python:3.12.v40\tRuntime Version ARN: x\n",
                    ),
                    (at - 0.9, f"START RequestId: {rid} Version: $LATEST\n"),
                    (at - 0.5, json.dumps(step) + "\n"),
                    (at - 0.1, f"END RequestId: {rid}\n"),
                    (
                        at,
                        f"REPORT RequestId: {rid}\tDuration: 812.33 ms\tBilled Duration: 813 ms\t"
                        "Memory Size: 256 MB\tMax Memory Used: 81 MB\tInit Duration: 301.20 ms\t\n",
                    ),
                ],
            )
            squid = [
                f"{at - 0.2:.3f}    410 {ENI_IP} TCP_TUNNEL/200 19109 CONNECT www.google.com:443 - "
                "HIER_DIRECT/172.217.31.164 -",
                f"{at - 0.1:.3f}    120 {ENI_IP} TCP_TUNNEL/200 5230 CONNECT {host}:443 - "
                "HIER_DIRECT/13.112.0.10 -",
                # another client, and an old line of the same client: not this run's
                f"{at - 0.1:.3f}     90 10.1.99.99 TCP_TUNNEL/200 100 CONNECT example.com:443 - "
                "HIER_DIRECT/93.184.216.34 -",
                f"{at - 3600:.3f}     90 {ENI_IP} TCP_TUNNEL/200 100 CONNECT old.example:443 - "
                "HIER_DIRECT/93.184.216.34 -",
                "this is not a squid line",
            ]
            self._put(out["SquidLogGroup"], "i-squid", [(at + 1, line) for line in squid])
            record = {
                "requestId": "a1b2",
                "requestTimeEpoch": str(int((at - 0.15) * 1000)),
                "apiId": api,
                "stage": "dev",
                "domainName": host,
                "httpMethod": "GET",
                "path": "/dev/data",
                "status": "200",
                "sourceIp": out["ProxyPublicIp"],
                "vpceId": "-",
                "userAgent": "Python-urllib/3.12",
            }
            self._put(out["RegionalApiLogGroup"], "api", [(at + 1, json.dumps(record))])
        for cmd in self.ops("SendCommand"):
            script = cmd["Parameters"]["commands"][0]
            if "proxylab-marker-" in script and script not in self.markers:
                self.markers.append(script)
                host = re.search(r"proxylab-marker-[0-9a-f]+\.invalid", script)[0]
                self._put(
                    out["SquidLogGroup"],
                    "i-squid",
                    [
                        (
                            self.t,
                            f"{self.t:.3f}      0 127.0.0.1 TCP_DENIED/403 3900 GET "
                            f"http://{host} - HIER_NONE/- text/html",
                        )
                    ],
                )


def make_lab(world: World, **kw: Any) -> awslab.AwsLab:
    return awslab.AwsLab(
        name="proxylab",
        region=REGION,
        session=world.session,
        template_body=moto_template(),
        clock=Clock(now=world.now, sleep=world.sleep),
        echo=lambda msg: world.calls.append(("echo", "echo", {"msg": msg})),
        poll_s=1.0,
        log_timeout_s=20.0,
        **kw,
    )


def add_lambda_eni(session: boto3.session.Session, out: dict[str, str], variant: str) -> None:
    ec2 = session.client("ec2", region_name=REGION)
    subnet = out["LambdaSubnetIds"].split(",")[0]
    sg = out[f"{variant.capitalize()}FunctionSecurityGroupId"]
    ec2.create_network_interface(
        SubnetId=subnet,
        Groups=[sg],
        PrivateIpAddress=ENI_IP,
        Description=f"AWS Lambda VPC ENI-proxylab-probe-{variant}-0f1e2d3c",
    )


@mock_aws(config={"lambda": {"use_docker": False}})
def test_provision_run_collect_down(aws_env: None) -> None:
    session = boto3.session.Session(region_name=REGION)
    world = World(session)
    lab = make_lab(world, assume_yes=True)

    desc = lab.up(EndpointLayout())
    cfn = world.helper.client("cloudformation", region_name=REGION)
    stack = cfn.describe_stacks(StackName="proxylab")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {"Key": "proxylab:lab", "Value": "proxylab"} in stack["Tags"]
    world.outputs = out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    # resources created
    ec2 = world.helper.client("ec2", region_name=REGION)
    cidrs = {
        v["CidrBlock"]
        for v in ec2.describe_vpcs(VpcIds=[out["LambdaVpcId"], out["ProxyVpcId"]])["Vpcs"]
    }
    assert cidrs == {"10.1.0.0/16", "10.0.0.0/16"}
    peering = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[out["PeeringId"]])
    assert peering["VpcPeeringConnections"][0]["AccepterVpcInfo"]["VpcId"] == out["ProxyVpcId"]
    endpoints = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    assert {(e["VpcEndpointType"], e["ServiceName"]) for e in endpoints} == {
        ("Gateway", f"com.amazonaws.{REGION}.s3"),
        ("Interface", f"com.amazonaws.{REGION}.execute-api"),
    }
    assert ec2.describe_nat_gateways()["NatGateways"] == []
    instance = ec2.describe_instances(InstanceIds=[out["ProxyInstanceId"]])["Reservations"][0][
        "Instances"
    ][0]
    assert instance["State"]["Name"] == "running"
    # (moto ignores NetworkInterfaces' PrivateIpAddress: test_aws_template checks 10.0.0.72)
    assert "KeyName" not in instance
    apis = world.helper.client("apigateway", region_name=REGION)
    # (moto drops a CloudFormation EndpointConfiguration on the way out: the PRIVATE type
    # and its policy are checked on the template in test_aws_template)
    assert apis.get_rest_api(restApiId=out["PrivateApiId"])["name"] == "proxylab-private"
    stages = apis.get_stages(restApiId=out["RegionalApiId"])["item"]
    assert [s["stageName"] for s in stages] == ["dev"]
    s3 = world.helper.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=out["BucketName"], Key="input/data.csv")["Body"].read()
    assert body.startswith(b"id,name,value\n111,")
    lam = world.helper.client("lambda", region_name=REGION)
    cfg = lam.get_function_configuration(FunctionName="proxylab-probe-regional")
    assert cfg["Handler"] == "probe.handler"  # the probe replaced the placeholder
    assert cfg["VpcConfig"]["SecurityGroupIds"] == [out["RegionalFunctionSecurityGroupId"]]
    # Squid checked through SSM (the check's command is what a live account runs)
    checks = [c for c in world.ops("SendCommand") if c.get("Comment") == "proxylab squid check"]
    assert checks and "systemctl is-active squid" in checks[0]["Parameters"]["commands"][0]
    # description: the shared resource keys
    assert desc.up and desc.backend == "aws"
    for key in (
        "bucket",
        "source_key",
        "regional_api_id",
        "private_api_id",
        "execute_api_vpce_id",
        "s3_gateway_vpce_id",
        "proxy_url",
        "web_url",
        "regional_api_url",
        "private_api_url",
    ):
        assert desc.resources[key], key
    assert desc.resources["proxy_url"] == "http://10.0.0.72:3128"
    assert desc.resources["account_id"] == ACCOUNT
    assert all(s.healthy for s in desc.services)

    # --- one run, seed run 2's variables
    add_lambda_eni(world.helper, out, "regional")
    backend = lambda_simple_backends[ACCOUNT][REGION]
    backend.lambda_simple_results_queue.append(json.dumps({"statusCode": 200, "body": "done"}))
    env = {
        "HTTP_PROXY": "http://10.0.0.72:3128",
        "HTTPS_PROXY": "http://10.0.0.72:3128",
        "NO_PROXY": "s3.ap-northeast-1.amazonaws.com",
    }
    lab.apply(EndpointLayout())
    assert world.ops("UpdateStack") == []  # same layout: no stack update
    mark = lab.mark()
    inv = lab.invoke("regional", env, {"scenario": "seed-2"}, 20.0)
    assert inv.status == "ok" and inv.payload == {"statusCode": 200, "body": "done"}
    call = world.ops("Invoke")[-1]
    assert call["LogType"] == "Tail" and call["FunctionName"] == "proxylab-probe-regional"
    conf = world.ops("UpdateFunctionConfiguration")[-1]
    variables = conf["Environment"]["Variables"]
    assert variables["NO_PROXY"] == env["NO_PROXY"]
    assert variables["API_GATEWAY_URL"] == out["RegionalApiUrl"]
    assert variables["BUCKET_NAME"] == out["BucketName"]
    assert "PROXYLAB_INVOCATION" in variables
    assert not any(k.startswith("AWS_") for k in variables)  # nothing of ours leaks in
    # function.log from CloudWatch, START..REPORT, with the REPORT line
    assert inv.function_log[0].startswith("INIT_START")
    assert inv.function_log[1] == f"START RequestId: {inv.request_id} Version: $LATEST"
    assert inv.function_log[-1].startswith(
        f"REPORT RequestId: {inv.request_id}\tDuration: 812.33 ms"
    )

    ev = lab.collect(mark, inv)
    assert ev.missing == []
    squid = ev.files["proxy_access.log"]
    assert [line.split()[6] for line in squid] == [
        "www.google.com:443",
        f"{out['RegionalApiId']}.execute-api.{REGION}.amazonaws.com:443",
    ]
    services = [json.loads(s) for s in ev.files["services.log"]]
    assert len(services) == 1
    assert services[0]["via"] == "internet" and services[0]["vpce_id"] is None
    assert services[0]["source_ip"] == out["ProxyPublicIp"] and services[0]["status"] == 200
    assert len(world.markers) == 1  # delivery proven by the marker's line

    # credentials never reach what is recorded
    recorded = json.dumps([asdict(inv), asdict(ev), desc.to_dict(), lab.describe().to_dict()])
    assert FAKE_KEY not in recorded and FAKE_SECRET not in recorded

    # --- switch the layout: stack parameters change, the private API is redeployed
    lab.apply(EndpointLayout(s3_gateway=False))
    update = world.ops("UpdateStack")[-1]
    assert update["UsePreviousTemplate"] is True
    assert {"ParameterKey": "EnableS3GatewayEndpoint", "ParameterValue": "false"} in update[
        "Parameters"
    ]
    assert world.ops("CreateDeployment")[-1]["restApiId"] == out["PrivateApiId"]

    # --- down (Lambda releases its Hyperplane ENI when the function goes; moto does not)
    for eni in ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": ["AWS Lambda VPC ENI*"]}]
    )["NetworkInterfaces"]:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert lab.down() == []
    assert world.ops("DeleteStack") == [{"StackName": "proxylab"}]
    assert world.ops("DeleteObjects")  # emptied first: CloudFormation cannot delete a full bucket
    assert not _bucket_exists(s3, out["BucketName"])
    assert lab.describe().up is False

    # every call the lab made is allowed by the IAM policy the README documents
    assert_policy_covers({(svc, op) for svc, op, _ in world.calls if svc != "echo"})


# IAM action names that differ from "<prefix>:<Operation>".
ACTION_OF = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("resourcegroupstaggingapi", "GetResources"): "tag:GetResources",
    ("apigateway", "CreateDeployment"): "apigateway:POST",
    ("apigateway", "GetRestApi"): "apigateway:GET",
}


def assert_policy_covers(calls: set[tuple[str, str]]) -> None:
    policy = json.loads((Path(awslab.__file__).with_name("iam-policy.json")).read_text())
    allowed = {a for st in policy["Statement"] for a in st["Action"]}
    missing = sorted(
        ACTION_OF.get((svc, op), f"{svc}:{op}")
        for svc, op in calls
        if ACTION_OF.get((svc, op), f"{svc}:{op}") not in allowed
    )
    assert missing == []


def _bucket_exists(s3: Any, name: str) -> bool:
    return any(b["Name"] == name for b in s3.list_buckets()["Buckets"])


@mock_aws(config={"lambda": {"use_docker": False}})
def test_collect_names_what_did_not_arrive(aws_env: None) -> None:
    """No delivery at all (the World stays silent): bounded waits end, and the run says
    which evidence is missing instead of looking complete."""
    session = boto3.session.Session(region_name=REGION)
    world = World(session, deliver=False)
    lab = make_lab(world, assume_yes=True)
    lab.up()
    world.outputs = out = lab.outputs()
    add_lambda_eni(world.helper, out, "private")
    mark = lab.mark()
    t0 = world.now()
    inv = lab.invoke("private", {}, {}, 10.0)
    assert inv.status == "ok" and inv.function_log == []  # moto's Tail is empty, nothing arrived
    ev = lab.collect(mark, inv)
    assert world.now() - t0 < 200  # every wait was bounded (log_timeout_s=20 per source)
    assert any(m.startswith("function.log: CloudWatch had no REPORT line") for m in ev.missing)
    assert any(m.startswith("proxy_access.log: delivery not confirmed") for m in ev.missing)
    assert ev.files["proxy_access.log"] == []


@mock_aws(config={"lambda": {"use_docker": False}})
def test_exec_runs_on_the_proxy_host_through_ssm(aws_env: None, capsys: Any) -> None:
    """moto records the command and reports Success without running it: the test
    checks the script sent (clean environment, the scenario's variables, the argv)."""
    session = boto3.session.Session(region_name=REGION)
    world = World(session)
    lab = make_lab(world, assume_yes=True)
    lab.up()
    rc = lab.exec("proxy", ["curl", "-sS", "https://example.com/a b"], env={"NO_PROXY": "x"})
    assert rc == 0
    script = world.ops("SendCommand")[-1]["Parameters"]["commands"][0]
    assert script == (
        "env -i PATH=/usr/local/bin:/usr/bin:/bin NO_PROXY=x curl -sS 'https://example.com/a b'"
    )
    assert world.ops("SendCommand")[-1]["InstanceIds"] == [lab.outputs()["ProxyInstanceId"]]
    with pytest.raises(LabError, match="only on the proxy host"):
        lab.exec("lambda", ["true"])


@mock_aws(config={"lambda": {"use_docker": False}})
def test_apply_leaves_the_optional_s3_interface_endpoint_alone(aws_env: None) -> None:
    """A lab made with the S3 interface endpoint keeps it when a scenario (which knows
    nothing of it) switches another endpoint."""
    session = boto3.session.Session(region_name=REGION)
    world = World(session)
    make_lab(world, assume_yes=True, s3_interface=True).up()
    assert "s3_interface_vpce_id" in make_lab(world).describe().resources
    make_lab(world).apply(EndpointLayout(s3_gateway=False))
    update = world.ops("UpdateStack")[-1]["Parameters"]
    assert {"ParameterKey": "EnableS3InterfaceEndpoint", "UsePreviousValue": True} in update
    assert {"ParameterKey": "EnableS3GatewayEndpoint", "ParameterValue": "false"} in update
    desc = make_lab(world).describe()
    assert "s3_interface_vpce_id" in desc.resources and "s3_gateway_vpce_id" not in desc.resources
    assert desc.endpoints.s3_gateway is False


@mock_aws(config={"lambda": {"use_docker": False}})
def test_a_tunnel_still_open_is_named_as_missing_evidence(aws_env: None) -> None:
    """Squid writes a CONNECT's line only when the tunnel closes: one still open from
    the function's address after the idle wait means a request the capture lacks."""
    session = boto3.session.Session(region_name=REGION)
    world = World(session)
    lab = make_lab(world, assume_yes=True)
    lab.up()
    world.outputs = out = lab.outputs()
    add_lambda_eni(world.helper, out, "regional")
    world.ss_output = "open [::ffff:10.1.143.211]:43122\nopen 10.1.9.9:5555\n"
    mark = lab.mark()
    ev = lab.collect(mark, lab.invoke("regional", {}, {}, 10.0))
    assert ev.missing == [
        "proxy_access.log: 1 tunnel(s) from the function still open 30 s after the run; "
        "Squid logs a CONNECT when it closes, so those requests are not in this capture"
    ]
    assert len(ev.files["proxy_access.log"]) == 2  # what did arrive is kept
    script = world.ops("SendCommand")[-1]["Parameters"]["commands"][0]
    assert script.startswith("ss -Htn state established '( sport = :3128 )'")


@mock_aws(config={"lambda": {"use_docker": False}})
def test_down_on_a_missing_stack_is_a_clear_no_op(aws_env: None) -> None:
    session = boto3.session.Session(region_name=REGION)
    world = World(session)
    lab = make_lab(world)
    assert lab.down() == []
    said = [p["msg"] for s, op, p in world.calls if op == "echo"]
    assert any("nothing to delete" in m for m in said)
    assert world.ops("DeleteStack") == []


@mock_aws(config={"lambda": {"use_docker": False}})
def test_attach_finds_the_stack_by_tag_and_by_mapping(aws_env: None, tmp_path: Any) -> None:
    session = boto3.session.Session(region_name=REGION)
    world = World(session)
    make_lab(world, assume_yes=True).up()
    # a lab with another name finds nothing...
    other = awslab.AwsLab(name="elsewhere", region=REGION, session=session, echo=lambda m: None)
    with pytest.raises(LabError, match="no stack named 'elsewhere'"):
        other.attach()
    # ...the same lab name under another stack name is found by its tag
    lab = make_lab(world)
    lab.stack_name = "renamed"
    desc = lab.attach()
    assert lab.stack_name == "proxylab" and desc.up
    # a mapping of resource ids, no stack needed; bad files name the field
    out = lab.outputs()
    good = tmp_path / "ids.json"
    good.write_text(json.dumps({k: v for k, v in out.items()}))
    mapped = awslab.AwsLab(name="mapped", region=REGION, session=session, echo=lambda m: None)
    assert mapped.attach(resources=str(good)).resources["bucket"] == out["BucketName"]
    # the function's own configuration, from the same ids (the protocol's, for `lab exec`)
    assert mapped.function_configuration("private") == {
        "BUCKET_NAME": out["BucketName"],
        "SOURCE_KEY": out["SourceKey"],
        "API_GATEWAY_URL": out["PrivateApiUrl"],
        "WEB_URL": out["WebUrl"],
    }
    with pytest.raises(LabError, match="unknown function variant 'public'"):
        mapped.function_configuration("public")
    creates = len(world.ops("CreateStack"))
    assert mapped.up().up and len(world.ops("CreateStack")) == creates  # checks, creates nothing
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**out, "BucketNam": "x"}))
    with pytest.raises(LabError, match="unknown field 'BucketNam'"):
        mapped.attach(resources=str(bad))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**out, "RegionalFunctionName": "no-such-function"}))
    with pytest.raises(LabError, match="function no-such-function"):
        mapped.attach(resources=str(broken))


@mock_aws(config={"lambda": {"use_docker": False}})
def test_up_refuses_without_a_terminal_unless_yes(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = boto3.session.Session(region_name=REGION)
    world = World(session)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    lab = awslab.AwsLab(
        name="proxylab",
        region=REGION,
        session=session,
        echo=lambda m: None,
        template_body=moto_template(),
    )
    with pytest.raises(LabError, match="--yes"):
        lab.up()
    assert world.ops("CreateStack") == []
    said: list[str] = []
    lab = awslab.AwsLab(
        name="proxylab",
        region=REGION,
        session=session,
        echo=said.append,
        template_body=moto_template(),
        confirm=lambda q: False,
    )
    with pytest.raises(LabError, match="nothing was created"):
        lab.up()
    plan = "\n".join(said)
    assert "AWS::EC2::Instance" in plan and "USD/hour" in plan and "NAT gateway" in plan


def test_registry_builds_the_aws_lab_with_the_command_options(aws_env: None) -> None:
    lab = get_lab("aws", name="mylab", region="us-east-1", assume_yes=True)
    assert (lab.backend, lab.name, lab.region, lab.assume_yes) == (
        "aws",
        "mylab",
        "us-east-1",
        True,
    )
    assert isinstance(lab, Lab)  # the protocol every backend implements
    with pytest.raises(LabError, match="lab name"):
        get_lab("aws", name="Bad_Name")


@mock_aws
def test_apply_refuses_layouts_beyond_the_seeds_rather_than_ignoring_them(
    aws_env: None,
) -> None:
    from proxylab.labs.base import InterfaceEndpoint

    session = boto3.session.Session(region_name=REGION)
    lab = awslab.AwsLab(name="beyond", region=REGION, session=session, echo=lambda m: None)
    for layout, field in ((EndpointLayout(interfaces=(InterfaceEndpoint("sts"),)), "interfaces"),
                          (EndpointLayout(dynamodb_gateway=True), "dynamodb_gateway"),
                          (EndpointLayout(internet_hosts=("a.example",)), "internet_hosts")):
        with pytest.raises(LabError, match=f"field\\(s\\) {field} are built by the local lab"):
            lab.apply(layout)
