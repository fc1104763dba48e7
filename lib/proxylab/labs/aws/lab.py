"""The AWS lab: the seed topology as a CloudFormation stack on the user's account.

`up` shows the plan and an hourly cost estimate, asks (unless ``assume_yes``),
creates the stack showing its events, seeds the CSV object, uploads the probe and
waits for Squid through SSM. `attach` adopts an existing stack (by name, by tag, or
from a JSON mapping of resource ids). `down` empties the bucket, deletes the stack,
waits, and lists what is left. Runs update the function's environment, invoke it
with ``LogType=Tail`` and pull the evidence from CloudWatch Logs (see logs.py).

Credentials come only from boto3's standard chain (environment, profile, SSO,
instance role); this module never reads, copies or records them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from proxylab.labs.aws import cost, logs, ssm, stack
from proxylab.labs.aws import invoke as inv
from proxylab.labs.aws import template as tpl
from proxylab.labs.aws.stack import Clock
from proxylab.labs.base import (
    EndpointLayout,
    Evidence,
    EvidenceMark,
    FunctionCode,
    Invocation,
    LabDescription,
    LabError,
    Place,
    Service,
)
from proxylab.labs.proxy_policy import DEFAULT_SQUID, ProxyPolicy

DEFAULT_NAME = "proxylab"
DEFAULT_REGION = "ap-northeast-1"  # the seed's region
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# The same bytes the local lab's S3 front serves.
SOURCE_CSV = b"id,name,value\n111,alpha,1.5\n222,beta,2.5\n333,gamma,3.5\n"
FUNCTIONS = {"regional": "RegionalFunctionName", "private": "PrivateFunctionName"}
SECURITY_GROUPS = {
    "regional": "RegionalFunctionSecurityGroupId",
    "private": "PrivateFunctionSecurityGroupId",
}
API_URLS = {"regional": "RegionalApiUrl", "private": "PrivateApiUrl"}
# resources key (as in LabDescription / shared facts) -> stack output key
RESOURCE_KEYS = {
    "bucket": "BucketName",
    "source_key": "SourceKey",
    "web_url": "WebUrl",
    "proxy_url": "ProxyUrl",
    "regional_api_id": "RegionalApiId",
    "private_api_id": "PrivateApiId",
    "regional_api_url": "RegionalApiUrl",
    "private_api_url": "PrivateApiUrl",
    "execute_api_vpce_id": "ExecuteApiEndpointId",
    "s3_gateway_vpce_id": "S3GatewayEndpointId",
    "s3_interface_vpce_id": "S3InterfaceEndpointId",
    "regional_function": "RegionalFunctionName",
    "private_function": "PrivateFunctionName",
    "regional_function_sg": "RegionalFunctionSecurityGroupId",
    "private_function_sg": "PrivateFunctionSecurityGroupId",
    "proxy_instance_id": "ProxyInstanceId",
    "proxy_public_ip": "ProxyPublicIp",
    "squid_log_group": "SquidLogGroup",
    "squid_tunnel_idle_s": "SquidTunnelIdleSeconds",
    "regional_api_log_group": "RegionalApiLogGroup",
    "private_api_log_group": "PrivateApiLogGroup",
    "lambda_vpc_id": "LambdaVpcId",
    "lambda_subnet_ids": "LambdaSubnetIds",
    "proxy_vpc_id": "ProxyVpcId",
    "peering_id": "PeeringId",
}
REQUIRED_OUTPUTS = (
    "BucketName",
    "SourceKey",
    "WebUrl",
    "ProxyUrl",
    "RegionalApiUrl",
    "PrivateApiUrl",
    "RegionalFunctionName",
    "PrivateFunctionName",
    "ProxyInstanceId",
    "SquidLogGroup",
    "LambdaVpcId",
)
USABLE_STATUSES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
}
NOT_COLLECTED = (
    "dns.log (Route 53 Resolver query logging is not part of the AWS lab); "
    "S3 requests in services.log (S3 server access logs arrive hours late; "
    "CloudTrail data events are not enabled)"
)


class NoStack(LabError):
    """No usable lab stack: the lab is down (unlike a credentials or API error)."""


def _default_echo(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def _tty_confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise LabError(
            "the AWS lab creates billable resources and asks first, but there is no terminal "
            "to ask on: re-run with --yes to confirm"
        )
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


class AwsLab:
    """The real-AWS backend. Options (all keyword):

    name            lab name: stack name, resource-name prefix, ``proxylab:lab`` tag
    region          AWS region (default: the profile's, else ap-northeast-1)
    assume_yes      create/delete without asking (``--yes``)
    profile         AWS profile name (default: the standard chain)
    resources_file  JSON mapping of resource ids to use instead of a stack (attach)
    s3_interface    create (True) or remove (False) the S3 interface endpoint; None
                    (default): off at creation, left as it is afterwards
    proxy_instance_type / proxy_image_parameter   Squid's EC2 type and AMI SSM parameter
    """

    backend = "aws"

    def __init__(
        self,
        name: str | None = None,
        region: str | None = None,
        assume_yes: bool = False,
        profile: str | None = None,
        resources_file: str | None = None,
        s3_interface: bool | None = None,
        proxy_instance_type: str | None = None,
        proxy_image_parameter: str | None = None,
        session: Any = None,
        template_body: str | None = None,
        echo: Callable[[str], None] | None = None,
        confirm: Callable[[str], bool] | None = None,
        clock: Clock | None = None,
        poll_s: float = 5.0,
        stack_timeout_s: float = 1800.0,
        squid_timeout_s: float = 900.0,
        log_timeout_s: float = 180.0,
        **_other_backends: Any,  # options meant for other backends (e.g. state dirs)
    ) -> None:
        self.name = name or DEFAULT_NAME
        if not NAME_RE.match(self.name):
            raise LabError(
                f"lab name {self.name!r}: use 1-20 lower-case letters, digits or '-', "
                "starting with a letter (it prefixes bucket and function names)"
            )
        self.stack_name = self.name
        self.assume_yes = assume_yes
        if session is None:
            import boto3

            try:
                session = boto3.session.Session(profile_name=profile)
            except BotoCoreError as exc:
                raise LabError(f"AWS profile {profile!r}: {exc}") from exc
        self.session = session
        self.region = region or session.region_name or DEFAULT_REGION
        self.resources_file = resources_file
        self.s3_interface = s3_interface
        self.extra_params: dict[str, str] = {}
        if proxy_instance_type:
            self.extra_params["ProxyInstanceType"] = proxy_instance_type
        if proxy_image_parameter:
            self.extra_params["ProxyImageId"] = proxy_image_parameter
        self.template_body = template_body if template_body is not None else tpl.template_body()
        self.echo = echo or _default_echo
        self.confirm = confirm or _tty_confirm
        self.clock = clock or Clock()
        self.poll_s = poll_s
        self.stack_timeout_s = stack_timeout_s
        self.squid_timeout_s = squid_timeout_s
        self.log_timeout_s = log_timeout_s
        self._clients: dict[str, Any] = {}
        self._mapping: dict[str, str] | None = None
        self._created_here = False
        self._complete_logs: dict[str, bool] = {}  # request id -> CloudWatch log complete
        self._variants: dict[str, str] = {}  # request id -> function variant

    # ---------------------------------------------------------------- plumbing
    def client(self, service: str, read_timeout: float = 60.0, attempts: int = 5) -> Any:
        """A client with timeouts; ``attempts=1`` where a retry would repeat an effect."""
        key = f"{service}:{read_timeout}:{attempts}"
        if key not in self._clients:
            cfg = Config(
                region_name=self.region,
                connect_timeout=10,
                read_timeout=read_timeout,
                retries={"max_attempts": attempts, "mode": "standard"},
            )
            try:
                self._clients[key] = self.session.client(service, config=cfg)
            except NoRegionError as exc:
                raise LabError("no AWS region: pass --region or set AWS_REGION") from exc
        return self._clients[key]

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Turn credential and API errors into one actionable line."""
        try:
            return fn()
        except NoCredentialsError as exc:
            raise LabError(
                "no AWS credentials found (environment, profile, SSO or instance role): "
                "configure them, e.g. `aws configure sso`, or pass --profile"
            ) from exc
        except ClientError as exc:
            raise LabError(f"{what}: {exc}") from exc

    def _stack(self) -> dict[str, Any] | None:
        return self._call(
            "CloudFormation",
            lambda: stack.find_stack(self.client("cloudformation"), self.stack_name),
        )

    def _load_mapping(self, path: str) -> dict[str, str]:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LabError(f"{path}: cannot read: {exc.strerror}") from exc
        except ValueError as exc:
            raise LabError(f"{path}: not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise LabError(f"{path}: expected a JSON object of resource names to ids")
        out: dict[str, str] = {}
        for k, v in data.items():
            if not isinstance(v, str):
                raise LabError(f"{path}: field {k!r} must be a string")
            key = RESOURCE_KEYS.get(k, k)
            if key not in RESOURCE_KEYS.values():
                raise LabError(
                    f"{path}: unknown field {k!r}; use stack output names "
                    f"({', '.join(sorted(RESOURCE_KEYS.values()))}) "
                    f"or {', '.join(sorted(RESOURCE_KEYS))}"
                )
            out[key] = v
        missing = [k for k in REQUIRED_OUTPUTS if k not in out]
        if missing:
            raise LabError(f"{path}: missing field(s): {', '.join(missing)}")
        return out

    def outputs(self) -> dict[str, str]:
        """The lab's resource ids: the stack's outputs, or the attach mapping."""
        if self._mapping is None and self.resources_file:
            self._mapping = self._load_mapping(self.resources_file)
        if self._mapping is not None:
            return dict(self._mapping)
        found = self._stack()
        if found is None or found["StackStatus"] not in USABLE_STATUSES:
            raise NoStack(
                f"no usable AWS lab stack {self.stack_name!r} in {self.region}"
                + (f" (it is {found['StackStatus']})" if found else "")
                + ": run `proxylab lab up --backend aws`"
            )
        return stack.outputs(found)

    # ---------------------------------------------------------------- up
    def plan(self, endpoints: EndpointLayout) -> str:
        """What `up` will create, and what it costs per hour."""
        params = tpl.parameters_for(
            self.name, endpoints, bool(self.s3_interface), **self.extra_params
        )
        planned = tpl.planned_resources(params, self.template_body)
        values = tpl.resolved_parameters(tpl.load(self.template_body), params)
        interface = sum(
            1 for lid, t in planned if lid in ("ExecuteApiEndpoint", "S3InterfaceEndpoint")
        )
        lines, total, note = cost.estimate(self.region, values["ProxyInstanceType"], interface)
        by_type: dict[str, list[str]] = {}
        for lid, rtype in planned:
            by_type.setdefault(rtype, []).append(lid)
        out = [
            f"stack {self.stack_name!r} in {self.region} (tag {tpl.TAG_KEY}={self.name}) "
            f"will create {len(planned)} resources:"
        ]
        out += [f"  {t:<40} {', '.join(ids)}" for t, ids in sorted(by_type.items())]
        out += [
            "",
            "hourly cost estimate (list prices, see docs/aws.md):",
            cost.render(lines, total, note),
        ]
        return "\n".join(out)

    def up(self, endpoints: EndpointLayout | None = None, progress: Any = None) -> LabDescription:
        say = progress or self.echo
        layout = endpoints or EndpointLayout()
        if self.resources_file or self._mapping is not None:
            say("attached through a resource mapping: checking it, creating nothing")
            return self.attach(self.resources_file)
        cfn = self.client("cloudformation")
        found = self._stack()
        if found is not None:
            status = found["StackStatus"]
            if status == "ROLLBACK_COMPLETE":
                raise LabError(
                    f"stack {self.stack_name!r} is ROLLBACK_COMPLETE (a failed create): "
                    "run `proxylab lab down --backend aws`, then `up` again"
                )
            if status.endswith("IN_PROGRESS"):
                say(f"stack {self.stack_name!r} is {status}: waiting")
                stack.wait(
                    cfn, self.stack_name, set(), say, self.stack_timeout_s, self.poll_s, self.clock
                )
            say(f"stack {self.stack_name!r} exists: checking it and keeping it")
            self.apply(layout, progress=say)
        else:
            say(self.plan(layout))
            if not self.assume_yes and not self.confirm(
                "Create these resources on your AWS account?"
            ):
                raise LabError("not confirmed: nothing was created")
            params = tpl.parameters_for(
                self.name, layout, bool(self.s3_interface), **self.extra_params
            )
            self._call(
                "CloudFormation create",
                lambda: stack.create(
                    cfn,
                    self.stack_name,
                    self.template_body,
                    params,
                    self.name,
                    say,
                    self.stack_timeout_s,
                    self.poll_s,
                    self.clock,
                ),
            )
            self._created_here = True
        self._finish_setup(say)
        return self.describe()

    def _finish_setup(self, say: Callable[[str], None]) -> None:
        """The parts CloudFormation does not do: the CSV object, the probe's code, and
        proof that Squid answers."""
        out = self.outputs()
        s3 = self.client("s3")
        self._call(
            "S3 put_object",
            lambda: s3.put_object(Bucket=out["BucketName"], Key=out["SourceKey"], Body=SOURCE_CSV),
        )
        say(f"seeded s3://{out['BucketName']}/{out['SourceKey']}")
        if inv.PROBE_SOURCE.is_file():
            lam = self.client("lambda")
            data, handler = inv.build_zip(None)
            for variant, key in FUNCTIONS.items():
                fn = out[key]
                cfg = self._call(
                    "Lambda", lambda fn=fn: lam.get_function_configuration(FunctionName=fn)
                )
                if cfg.get("CodeSha256") != inv.code_sha256(data) or cfg.get("Handler") != handler:
                    self._call(
                        "Lambda update",
                        lambda fn=fn: lam.update_function_code(FunctionName=fn, ZipFile=data),
                    )
                    inv.wait_updated(lam, fn, 120, self.poll_s, self.clock)
                    self._call(
                        "Lambda update",
                        lambda fn=fn: lam.update_function_configuration(
                            FunctionName=fn, Handler=handler
                        ),
                    )
                    inv.wait_updated(lam, fn, 120, self.poll_s, self.clock)
                    say(f"probe code uploaded to {fn} ({variant})")
        else:
            say(
                f"probe code not found at {inv.PROBE_SOURCE}: "
                "functions keep their placeholder until a run"
            )
        say(
            f"waiting for Squid's instance to answer through SSM "
            f"(up to {self.squid_timeout_s / 60:.0f} min)"
        )
        ok, detail = self.check_squid(self.squid_timeout_s)
        say(f"squid: {detail}")
        if not ok:
            raise LabError(
                f"Squid did not answer: {detail}. The stack stays up; look at the instance's "
                "console output, then `proxylab lab down --backend aws`"
            )

    def check_squid(self, timeout_s: float) -> tuple[bool, str]:
        """Squid answers on its port (checked on the instance through SSM, bounded)."""
        out = self.outputs()
        client = self.client("ssm")
        instance = out["ProxyInstanceId"]
        if not ssm.wait_online(client, instance, timeout_s, self.poll_s, self.clock):
            return False, f"instance {instance} not online in SSM after {timeout_s:.0f} s"
        port = out["ProxyUrl"].rsplit(":", 1)[-1]
        script = ssm.SQUID_CHECK.replace("{port}", port)
        cid = self._call(
            "SSM send_command",
            lambda: ssm.send(client, instance, script, "proxylab squid check", 30),
        )
        res = ssm.result(client, cid, instance, min(timeout_s, 120), self.poll_s, self.clock)
        text = (res.stdout or res.stderr).strip().replace("\n", "; ")
        return res.status == "Success", f"{res.status}: {text}" if text else res.status

    # ---------------------------------------------------------------- attach
    def attach(self, resources: str | None = None) -> LabDescription:
        """Adopt an existing lab: a JSON mapping of resource ids, the stack named like
        the lab, or a stack tagged ``proxylab:lab=<name>``; then check its parts."""
        if resources:
            self.resources_file = resources
            self._mapping = self._load_mapping(resources)
        elif self._stack() is None:
            cfn = self.client("cloudformation")
            tagged = self._call("CloudFormation", lambda: stack.find_stack_by_tag(cfn, self.name))
            if tagged is None:
                raise LabError(
                    f"no stack named {self.stack_name!r} or tagged {tpl.TAG_KEY}={self.name} in "
                    f"{self.region}: `proxylab lab up --backend aws`, or pass --resources FILE"
                )
            self.stack_name = tagged["StackName"]
            self.echo(f"found stack {self.stack_name!r} by its tag")
        problems = self.check_resources()
        if problems:
            raise LabError("the lab is incomplete:\n  " + "\n  ".join(problems))
        return self.describe()

    def check_resources(self) -> list[str]:
        """Every resource the runs need exists (one line per problem)."""
        out = self.outputs()
        problems: list[str] = []

        def check(what: str, fn: Callable[[], Any]) -> None:
            try:
                fn()
            except (ClientError, BotoCoreError) as exc:
                problems.append(f"{what}: {exc}")

        lam, s3, apigw, ec2 = (self.client(s) for s in ("lambda", "s3", "apigateway", "ec2"))
        for key in FUNCTIONS.values():
            check(
                f"function {out[key]}",
                lambda k=key: lam.get_function_configuration(FunctionName=out[k]),
            )
        check(f"bucket {out['BucketName']}", lambda: s3.head_bucket(Bucket=out["BucketName"]))
        for key in ("RegionalApiId", "PrivateApiId"):
            if key in out:
                check(f"REST API {out[key]}", lambda k=key: apigw.get_rest_api(restApiId=out[k]))
        check(
            f"instance {out['ProxyInstanceId']}",
            lambda: ec2.describe_instances(InstanceIds=[out["ProxyInstanceId"]]),
        )
        groups = {
            out[k]
            for k in ("SquidLogGroup", "RegionalApiLogGroup", "PrivateApiLogGroup")
            if k in out
        }
        logs_client = self.client("logs")
        for group in sorted(groups):

            def has_group(g: str = group) -> None:
                found = logs_client.describe_log_groups(logGroupNamePrefix=g).get("logGroups", [])
                if not any(x["logGroupName"] == g for x in found):
                    raise LabError(f"log group {g} not found")

            try:
                has_group()
            except LabError as exc:
                problems.append(str(exc))
            except ClientError as exc:
                problems.append(f"log group {group}: {exc}")
        return problems

    # ---------------------------------------------------------------- describe
    def describe(self) -> LabDescription:
        try:
            out = self.outputs()
        except NoStack:  # credential and API errors still surface
            return LabDescription(
                backend=self.backend, name=self.name, region=self.region, up=False
            )
        found = None if self._mapping is not None else self._stack()
        params = stack.parameters(found) if found else {}
        account = found["StackId"].split(":")[4] if found else ""
        resources = {"region": self.region, "account_id": account, "stack_name": self.stack_name}
        for rkey, okey in RESOURCE_KEYS.items():
            if okey in out:
                resources[rkey] = out[okey]
        resources["private_api_public_dns"] = (
            "decided by AWS public DNS (the seed observed NXDOMAIN); the lab cannot switch it"
        )
        resources["evidence_not_collected"] = NOT_COLLECTED
        # Machine-readable: the service fronts whose requests this lab logs (services.log).
        # Absence of an S3 or web hit in an AWS capture means "not observed", not "no request".
        resources["observed_services"] = (
            "execute-api" if {"RegionalApiLogGroup", "PrivateApiLogGroup"} & set(out) else ""
        )
        places = [
            Place(
                "lambda",
                "Lambda VPC, private subnets, no NAT",
                addresses=[params.get("LambdaVpcCidr", "10.1.0.0/16")],
                routes=[
                    f"{params.get('ProxyVpcCidr', '10.0.0.0/16')} "
                    f"via peering {out.get('PeeringId', '?')}"
                ]
                + (["S3 prefix list via gateway endpoint"] if "S3GatewayEndpointId" in out else []),
            ),
            Place(
                "proxy",
                "proxy VPC, public subnet with Squid",
                addresses=[params.get("ProxyVpcCidr", "10.0.0.0/16")],
                routes=[
                    "0.0.0.0/0 via internet gateway",
                    f"{params.get('LambdaVpcCidr', '10.1.0.0/16')} via peering",
                ],
            ),
        ]
        services = [self._squid_service(out)]
        services.append(Service("s3", "aws", f"s3://{out['BucketName']}", True, "bucket"))
        for variant in ("regional", "private"):
            services.append(
                Service(
                    f"probe-{variant}",
                    "lambda",
                    out[FUNCTIONS[variant]],
                    True,
                    out[API_URLS[variant]],
                )
            )
        return LabDescription(
            backend=self.backend,
            name=self.name,
            region=self.region,
            up=True,
            places=places,
            services=services,
            endpoints=tpl.endpoints_from_parameters(params) if params else EndpointLayout(),
            resources=resources,
            plumbing_env={
                inv.NONCE_VAR: "random per invocation: forces a fresh (cold) execution environment"
            },
        )

    def _squid_service(self, out: dict[str, str]) -> Service:
        instance = out["ProxyInstanceId"]
        state = ping = "?"
        try:
            res = self.client("ec2").describe_instances(InstanceIds=[instance])
            state = res["Reservations"][0]["Instances"][0]["State"]["Name"]
            ping = ssm.ping_status(self.client("ssm"), instance)
        except (ClientError, BotoCoreError, IndexError, KeyError) as exc:
            return Service("squid", "proxy", out["ProxyUrl"], False, f"{instance}: {exc}")
        healthy = state == "running" and ping == "Online"
        return Service(
            "squid", "proxy", out["ProxyUrl"], healthy, f"{instance} {state}, SSM {ping}"
        )

    # ---------------------------------------------------------------- apply
    def apply(self, endpoints: EndpointLayout, progress: Any = None) -> None:
        """Update the endpoint parameters of the stack (a no-op when they match). The
        private API is redeployed after a change, since a resource policy naming a new
        endpoint takes effect only with a new deployment."""
        say = progress or self.echo
        if self._mapping is not None or self.resources_file:
            current = EndpointLayout()
            if endpoints.to_dict() != current.to_dict():
                raise LabError(
                    "an attached lab (--resources mapping) has no stack to update: create the "
                    "endpoint layout yourself, or use a lab made by `proxylab lab up --backend aws`"
                )
            return
        if dataclasses.replace(endpoints.proxy, squid=DEFAULT_SQUID) != ProxyPolicy():
            raise LabError(
                "a scenario's proxy policy (allowlist, users, own squid.conf) is applied by the "
                "local lab only: the AWS lab's Squid keeps its template's rules"
            )
        if endpoints.private_api_public_dns != "nxdomain":
            say(
                f"private_api_public_dns={endpoints.private_api_public_dns!r} is decided by AWS's "
                "public DNS, not by the lab: left as AWS has it"
            )
        changes = tpl.parameters_for(self.name, endpoints, bool(self.s3_interface))
        changes.pop("LabName")
        if self.s3_interface is None:  # not asked for: a scenario's apply leaves it alone
            changes.pop("EnableS3InterfaceEndpoint")
        cfn = self.client("cloudformation")
        changed = self._call(
            "CloudFormation update",
            lambda: stack.update_parameters(
                cfn,
                self.stack_name,
                changes,
                tpl.resolved_parameters(tpl.load(self.template_body), {}),
                say,
                self.stack_timeout_s,
                self.poll_s,
                self.clock,
            ),
        )
        if changed:
            api = self.outputs()["PrivateApiId"]
            apigw = self.client("apigateway")
            self._call(
                "API Gateway create_deployment",
                lambda: apigw.create_deployment(
                    restApiId=api, stageName="dev", description="proxylab: endpoint layout changed"
                ),
            )
            say(f"private API {api} redeployed (resource policy follows the endpoint)")

    # ---------------------------------------------------------------- runs
    def mark(self) -> EvidenceMark:
        return EvidenceMark(taken_at=self.clock.now())

    def invoke(
        self,
        function: str,
        env: dict[str, str],
        event: dict[str, Any],
        timeout_s: float,
        code: FunctionCode | None = None,
    ) -> Invocation:
        if function not in FUNCTIONS:
            raise LabError(f"unknown function variant {function!r}: use regional or private")
        out = self.outputs()
        fn = out[FUNCTIONS[function]]
        config_env = {
            "BUCKET_NAME": out["BucketName"],
            "SOURCE_KEY": out["SourceKey"],
            "API_GATEWAY_URL": out[API_URLS[function]],
            "WEB_URL": out["WebUrl"],
        }
        lam = self.client("lambda")
        self._call(
            "Lambda configuration",
            lambda: inv.prepare(lam, fn, config_env, env, timeout_s, code, self.clock, self.poll_s),
        )
        # One attempt: a retried Invoke (e.g. after a read timeout) would run the function twice.
        invoker = self.client("lambda", read_timeout=timeout_s + 30, attempts=1)
        result = inv.invoke(invoker, fn, event, self.clock)
        self._variants[result.request_id] = function
        if result.status != "lab-error" and result.request_id:
            window = logs.Window(result.started_at, result.finished_at)
            full = logs.poll_function_log(
                self.client("logs"),
                f"/aws/lambda/{fn}",
                result.request_id,
                window,
                self.log_timeout_s,
                self.poll_s,
                self.clock,
            )
            self._complete_logs[result.request_id] = full is not None
            if full is not None:
                result.function_log = full
        return result

    def collect(self, mark: EvidenceMark, invocation: Invocation) -> Evidence:
        out = self.outputs()
        evidence = Evidence()
        window = logs.Window(mark.taken_at, invocation.finished_at or self.clock.now())
        rid = invocation.request_id
        if rid and not self._complete_logs.get(rid, False):
            evidence.missing.append(
                f"function.log: CloudWatch had no REPORT line for {rid} within "
                f"{self.log_timeout_s:.0f} s; the capture holds the last 4 KB "
                "from the invoke response"
            )
        variant = self._variant_of(out, invocation)
        clients = self.function_addresses(out, variant)
        logs_client = self.client("logs")
        # proxy_access.log
        if not clients:
            evidence.missing.append(
                "proxy_access.log: the function's ENI address is unknown (no Lambda ENI found "
                "for its security group), so Squid's lines cannot be matched to it"
            )
        else:
            lines, missing = self._squid_lines(out, logs_client, clients, window)
            evidence.files["proxy_access.log"] = lines
            evidence.missing.extend(missing)
        # services.log (API Gateway access logs)
        groups = [out[k] for k in ("RegionalApiLogGroup", "PrivateApiLogGroup") if k in out]
        if not groups:
            evidence.missing.append("services.log: API Gateway access logs are off in this lab")
        else:
            sources = set(clients)
            if out.get("ProxyPublicIp"):
                sources.add(out["ProxyPublicIp"])
            vpces = {out[k] for k in ("ExecuteApiEndpointId",) if k in out}
            steps = logs.probe_steps(invocation.function_log)
            expect = any(
                s.get("step") == "api"
                and isinstance(s.get("status"), int)
                and 200 <= s["status"] < 300
                for s in steps
            )
            records = self._api_records(logs_client, groups, sources, vpces, window, expect)
            evidence.files["services.log"] = [json.dumps(r, separators=(",", ":")) for r in records]
            if expect and not records:
                evidence.missing.append(
                    f"services.log: the probe's API call answered 2xx but no API Gateway "
                    f"access-log record arrived within {self.log_timeout_s:.0f} s"
                )
        return evidence

    def _variant_of(self, out: dict[str, str], invocation: Invocation) -> str | None:
        """Which function ran (None for a placeholder: then every probe's ENIs count)."""
        return self._variants.get(invocation.request_id)

    def function_addresses(self, out: dict[str, str], variant: str | None) -> set[str]:
        """Private addresses of the Lambda (Hyperplane) ENIs in the function's security
        group: the client address Squid logs for the function."""
        groups = {
            out[SECURITY_GROUPS[v]]
            for v in ([variant] if variant else SECURITY_GROUPS)
            if SECURITY_GROUPS[v] in out
        }
        if not groups:
            return set()
        ec2 = self.client("ec2")
        addrs: set[str] = set()
        paginator = ec2.get_paginator("describe_network_interfaces")
        for page in paginator.paginate(
            Filters=[{"Name": "vpc-id", "Values": [out["LambdaVpcId"]]}]
        ):
            for eni in page.get("NetworkInterfaces", []):
                if not (
                    eni.get("Description", "").startswith("AWS Lambda VPC ENI")
                    or eni.get("InterfaceType") == "lambda"
                ):
                    continue
                if not groups & {g["GroupId"] for g in eni.get("Groups", [])}:
                    continue
                addrs.update(a["PrivateIpAddress"] for a in eni.get("PrivateIpAddresses", []))
                if eni.get("PrivateIpAddress"):
                    addrs.add(eni["PrivateIpAddress"])
        return addrs

    def _squid_lines(
        self, out: dict[str, str], logs_client: Any, clients: set[str], window: logs.Window
    ) -> tuple[list[str], list[str]]:
        """Wait out Squid's tunnel idle timeout; then, through SSM, list the tunnels
        still open and send a marker request; read until the marker's line arrives
        (bounded). Returns the run's lines and what is known to be missing."""
        group = out["SquidLogGroup"]
        idle = float(out.get("SquidTunnelIdleSeconds", "30"))
        settle_until = window.end + idle + 1
        while self.clock.now() < settle_until:
            self.clock.sleep(
                min(self.poll_s, max(0.0, settle_until - self.clock.now())) or self.poll_s
            )
        marker = f"proxylab-marker-{secrets.token_hex(6)}.invalid"
        instance = out["ProxyInstanceId"]
        port = out["ProxyUrl"].rsplit(":", 1)[-1]
        client = self.client("ssm")
        script = ssm.MARKER_SCRIPT.replace("{port}", port).replace("{marker}", marker)
        deadline = self.clock.now() + self.log_timeout_s
        missing: list[str] = []
        try:
            cid: str | None = ssm.send(client, instance, script, "proxylab delivery marker", 30)
        except (ClientError, BotoCoreError) as exc:
            self.echo(f"could not send Squid's delivery marker: {exc}")
            cid = None
        if cid is not None:
            res = ssm.result(
                client,
                cid,
                instance,
                max(0.0, deadline - self.clock.now()),
                self.poll_s,
                self.clock,
            )
            if res.status != "Success":
                missing.append(
                    f"proxy_access.log: could not list Squid's open tunnels ({res.status})"
                )
            still_open = [p for p in ssm.open_peers(res.stdout) if p in clients]
            if still_open:
                missing.append(
                    f"proxy_access.log: {len(still_open)} tunnel(s) from the function still "
                    f"open {idle:.0f} s after the run; Squid logs a CONNECT when it closes, so "
                    "those requests are not in this capture"
                )
        while True:
            evts = logs.events(logs_client, group, window.start)
            if cid is not None and logs.marker_seen(evts, marker):
                # Shipped in order, but searchable a moment apart: read once more.
                self.clock.sleep(self.poll_s)
                evts = logs.events(logs_client, group, window.start)
                return logs.squid_lines_for(evts, clients, window), missing
            if self.clock.now() >= deadline:
                missing.append(
                    f"proxy_access.log: delivery not confirmed within {self.log_timeout_s:.0f} s "
                    "(Squid's marker line did not reach CloudWatch); lines may be missing"
                )
                return logs.squid_lines_for(evts, clients, window), missing
            self.clock.sleep(self.poll_s)

    def _api_records(
        self,
        logs_client: Any,
        groups: list[str],
        sources: set[str],
        vpces: set[str],
        window: logs.Window,
        expect: bool,
    ) -> list[dict[str, Any]]:
        deadline = self.clock.now() + (self.log_timeout_s if expect else 0)
        while True:
            records: list[dict[str, Any]] = []
            for group in groups:
                records += logs.service_records_for(
                    logs.events(logs_client, group, window.start), sources, vpces, window
                )
            if records or self.clock.now() >= deadline:
                return sorted(records, key=lambda r: r["ts"])
            self.clock.sleep(self.poll_s)

    def exec(
        self,
        place: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> int:
        """On AWS only the proxy host runs commands (SSM Run Command): a Lambda subnet
        has no shell, and 'internet'/'aws' are the real ones."""
        if place != "proxy":
            raise LabError(
                f"the AWS lab runs commands only on the proxy host (--in proxy), not in {place!r}: "
                "the Lambda VPC has no machine to run them on"
            )
        if not argv:
            raise LabError("nothing to run: give a command after `--`")
        out = self.outputs()
        res = ssm.run(
            self.client("ssm"),
            out["ProxyInstanceId"],
            argv,
            env,
            timeout_s or 60,
            self.poll_s,
            self.clock,
        )
        if res.stdout:
            print(res.stdout, end="" if res.stdout.endswith("\n") else "\n")
        if res.stderr:
            print(res.stderr, end="" if res.stderr.endswith("\n") else "\n", file=sys.stderr)
        if res.status not in ("Success", "Failed"):
            raise LabError(
                f"command on {out['ProxyInstanceId']}: {res.status} {res.stderr}".strip()
            )
        return res.exit_code

    # ---------------------------------------------------------------- down
    def down(self) -> list[str]:
        found = self._stack()
        if found is None:
            self.echo(f"no AWS lab stack {self.stack_name!r} in {self.region}: nothing to delete")
            return []
        if not (self.assume_yes or self._created_here) and sys.stdin.isatty():
            if not self.confirm(f"Delete stack {self.stack_name!r} and everything in it?"):
                raise LabError("not confirmed: nothing was deleted")
        out = stack.outputs(found)
        if out.get("BucketName"):
            self._empty_bucket(out["BucketName"])
        cfn = self.client("cloudformation")
        left = self._call(
            "CloudFormation delete",
            lambda: stack.delete(
                cfn, self.stack_name, self.echo, self.stack_timeout_s, self.poll_s, self.clock
            ),
        )
        left += self._leftovers(out)
        self._created_here = False
        return left

    def _empty_bucket(self, bucket: str) -> None:
        s3 = self.client("s3")
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        except ClientError as exc:
            if "NoSuchBucket" not in str(exc):
                raise LabError(f"emptying bucket {bucket}: {exc}") from exc

    def _gone(self, arn: str) -> bool:
        """Terminated instances and deleted peerings stay listed (and tagged) for a
        while after deletion; they cost nothing and are not leftovers."""
        kind, _, rid = arn.rsplit(":", 1)[-1].partition("/")
        ec2 = self.client("ec2")
        try:
            if kind == "instance":
                res = ec2.describe_instances(InstanceIds=[rid])["Reservations"]
                states = {i["State"]["Name"] for r in res for i in r["Instances"]}
                return states <= {"terminated", "shutting-down"}
            if kind == "vpc-peering-connection":
                res = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[rid])
                codes = {p["Status"]["Code"] for p in res["VpcPeeringConnections"]}
                return codes <= {"deleted", "deleting"}
        except ClientError as exc:
            return "NotFound" in str(exc)
        return False

    def _leftovers(self, out: dict[str, str]) -> list[str]:
        """What survives the stack: tagged resources, and log groups Lambda re-created
        after CloudFormation deleted them (those are deleted here)."""
        left: list[str] = []
        logs_client = self.client("logs")
        for key in FUNCTIONS.values():
            group = f"/aws/lambda/{out.get(key, '')}"
            try:
                found = logs_client.describe_log_groups(logGroupNamePrefix=group).get(
                    "logGroups", []
                )
                if any(g["logGroupName"] == group for g in found):
                    logs_client.delete_log_group(logGroupName=group)
                    self.echo(f"deleted log group {group} (Lambda re-created it)")
            except ClientError as exc:
                left.append(f"log group {group}: {exc}")
        try:
            tagging = self.client("resourcegroupstaggingapi")
            pages = tagging.get_paginator("get_resources").paginate(
                TagFilters=[{"Key": tpl.TAG_KEY, "Values": [self.name]}]
            )
            for page in pages:
                for res in page.get("ResourceTagMappingList", []):
                    arn = res["ResourceARN"]
                    if not self._gone(arn):
                        left.append(f"still tagged {tpl.TAG_KEY}={self.name}: {arn}")
        except (ClientError, BotoCoreError) as exc:
            left.append(f"could not list tagged resources: {exc}")
        return left
