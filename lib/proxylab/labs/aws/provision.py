"""Bringing the AWS lab into being and into a scenario's shape: the plan with its
hourly cost, the stack create (or the check of one that exists), the parts
CloudFormation does not do (the CSV object, the probe's code, proof that Squid
answers), and the endpoint-layout update a scenario's `apply` asks for.

Kept apart from evidence collection and teardown because it is the only part that
creates billable resources: everything that does so, and the question before it,
is in this one module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxylab.labs.aws import cost, ssm, stack
from proxylab.labs.aws import invoke as inv
from proxylab.labs.aws import template as tpl
from proxylab.labs.aws.context import AwsContext
from proxylab.labs.aws.resources import FUNCTIONS
from proxylab.labs.base import EndpointLayout, LabError

# The same bytes the local lab's S3 front serves.
SOURCE_CSV = b"id,name,value\n111,alpha,1.5\n222,beta,2.5\n333,gamma,3.5\n"
INTERFACE_ENDPOINTS = ("ExecuteApiEndpoint", "S3InterfaceEndpoint")

Say = Callable[[str], None]


@dataclass(frozen=True)
class Blueprint:
    """What `up` builds: the lab name (stack tag, resource-name prefix), the template,
    whether the optional S3 interface endpoint is asked for (None: not asked), and
    the proxy instance's type/AMI parameters."""

    name: str
    template_body: str
    s3_interface: bool | None = None
    extra_params: dict[str, str] = field(default_factory=dict)

    def parameters(self, layout: EndpointLayout) -> dict[str, str]:
        return tpl.parameters_for(self.name, layout, bool(self.s3_interface), **self.extra_params)


def plan(ctx: AwsContext, blueprint: Blueprint, stack_name: str, layout: EndpointLayout) -> str:
    """What `up` will create, and what it costs per hour."""
    params = blueprint.parameters(layout)
    planned = tpl.planned_resources(params, blueprint.template_body)
    values = tpl.resolved_parameters(tpl.load(blueprint.template_body), params)
    interface = sum(1 for lid, _ in planned if lid in INTERFACE_ENDPOINTS)
    lines, total, note = cost.estimate(ctx.region, values["ProxyInstanceType"], interface)
    by_type: dict[str, list[str]] = {}
    for lid, rtype in planned:
        by_type.setdefault(rtype, []).append(lid)
    out = [
        f"stack {stack_name!r} in {ctx.region} (tag {tpl.TAG_KEY}={blueprint.name}) "
        f"will create {len(planned)} resources:"
    ]
    out += [f"  {t:<40} {', '.join(ids)}" for t, ids in sorted(by_type.items())]
    out += [
        "",
        "hourly cost estimate (list prices, see docs/aws.md):",
        cost.render(lines, total, note),
    ]
    return "\n".join(out)


def keep_existing(ctx: AwsContext, stack_name: str, found: dict[str, Any], say: Say) -> None:
    """An existing stack is kept: refused when a create failed, waited for when busy."""
    status = found["StackStatus"]
    if status == "ROLLBACK_COMPLETE":
        raise LabError(
            f"stack {stack_name!r} is ROLLBACK_COMPLETE (a failed create): "
            "run `proxylab lab down --backend aws`, then `up` again"
        )
    if status.endswith("IN_PROGRESS"):
        say(f"stack {stack_name!r} is {status}: waiting")
        stack.wait(
            ctx.client("cloudformation"),
            stack_name,
            set(),
            say,
            ctx.stack_timeout_s,
            ctx.poll_s,
            ctx.clock,
        )
    say(f"stack {stack_name!r} exists: checking it and keeping it")


def create(
    ctx: AwsContext, blueprint: Blueprint, stack_name: str, layout: EndpointLayout, say: Say
) -> None:
    """Create the stack, showing its events, and wait for it (bounded)."""
    cfn = ctx.client("cloudformation")
    params = blueprint.parameters(layout)
    ctx.call(
        "CloudFormation create",
        lambda: stack.create(
            cfn,
            stack_name,
            blueprint.template_body,
            params,
            blueprint.name,
            say,
            ctx.stack_timeout_s,
            ctx.poll_s,
            ctx.clock,
        ),
    )


def finish_setup(ctx: AwsContext, out: dict[str, str], say: Say) -> None:
    """The parts CloudFormation does not do: the CSV object, the probe's code, and
    proof that Squid answers."""
    s3 = ctx.client("s3")
    ctx.call(
        "S3 put_object",
        lambda: s3.put_object(Bucket=out["BucketName"], Key=out["SourceKey"], Body=SOURCE_CSV),
    )
    say(f"seeded s3://{out['BucketName']}/{out['SourceKey']}")
    if inv.PROBE_SOURCE.is_file():
        _upload_probe(ctx, out, say)
    else:
        say(
            f"probe code not found at {inv.PROBE_SOURCE}: "
            "functions keep their placeholder until a run"
        )
    say(
        f"waiting for Squid's instance to answer through SSM "
        f"(up to {ctx.squid_timeout_s / 60:.0f} min)"
    )
    ok, detail = check_squid(ctx, out, ctx.squid_timeout_s)
    say(f"squid: {detail}")
    if not ok:
        raise LabError(
            f"Squid did not answer: {detail}. The stack stays up; look at the instance's "
            "console output, then `proxylab lab down --backend aws`"
        )


def _upload_probe(ctx: AwsContext, out: dict[str, str], say: Say) -> None:
    """Each function gets the probe's code and handler unless it already has them."""
    lam = ctx.client("lambda")
    data, handler = inv.build_zip(None)
    for variant, key in FUNCTIONS.items():
        fn = out[key]
        cfg = ctx.call("Lambda", lambda fn=fn: lam.get_function_configuration(FunctionName=fn))
        if cfg.get("CodeSha256") == inv.code_sha256(data) and cfg.get("Handler") == handler:
            continue
        ctx.call(
            "Lambda update",
            lambda fn=fn: lam.update_function_code(FunctionName=fn, ZipFile=data),
        )
        inv.wait_updated(lam, fn, 120, ctx.poll_s, ctx.clock)
        ctx.call(
            "Lambda update",
            lambda fn=fn: lam.update_function_configuration(FunctionName=fn, Handler=handler),
        )
        inv.wait_updated(lam, fn, 120, ctx.poll_s, ctx.clock)
        say(f"probe code uploaded to {fn} ({variant})")


def check_squid(ctx: AwsContext, out: dict[str, str], timeout_s: float) -> tuple[bool, str]:
    """Squid answers on its port (checked on the instance through SSM, bounded)."""
    client = ctx.client("ssm")
    instance = out["ProxyInstanceId"]
    if not ssm.wait_online(client, instance, timeout_s, ctx.poll_s, ctx.clock):
        return False, f"instance {instance} not online in SSM after {timeout_s:.0f} s"
    port = out["ProxyUrl"].rsplit(":", 1)[-1]
    script = ssm.SQUID_CHECK.replace("{port}", port)
    cid = ctx.call(
        "SSM send_command",
        lambda: ssm.send(client, instance, script, "proxylab squid check", 30),
    )
    res = ssm.result(client, cid, instance, min(timeout_s, 120), ctx.poll_s, ctx.clock)
    text = (res.stdout or res.stderr).strip().replace("\n", "; ")
    return res.status == "Success", f"{res.status}: {text}" if text else res.status


def apply_layout(
    ctx: AwsContext,
    blueprint: Blueprint,
    stack_name: str,
    endpoints: EndpointLayout,
    outputs: Callable[[], dict[str, str]],
    say: Say,
) -> None:
    """Update the endpoint parameters of the stack (a no-op when they match). The
    private API is redeployed after a change, since a resource policy naming a new
    endpoint takes effect only with a new deployment."""
    if endpoints.private_api_public_dns != "nxdomain":
        say(
            f"private_api_public_dns={endpoints.private_api_public_dns!r} is decided by AWS's "
            "public DNS, not by the lab: left as AWS has it"
        )
    # Only the endpoint switches: the proxy's type/AMI stay as the stack has them.
    changes = tpl.parameters_for(blueprint.name, endpoints, bool(blueprint.s3_interface))
    changes.pop("LabName")
    if blueprint.s3_interface is None:  # not asked for: a scenario's apply leaves it alone
        changes.pop("EnableS3InterfaceEndpoint")
    cfn = ctx.client("cloudformation")
    changed = ctx.call(
        "CloudFormation update",
        lambda: stack.update_parameters(
            cfn,
            stack_name,
            changes,
            tpl.resolved_parameters(tpl.load(blueprint.template_body), {}),
            say,
            ctx.stack_timeout_s,
            ctx.poll_s,
            ctx.clock,
        ),
    )
    if changed:
        api = outputs()["PrivateApiId"]
        apigw = ctx.client("apigateway")
        ctx.call(
            "API Gateway create_deployment",
            lambda: apigw.create_deployment(
                restApiId=api, stageName="dev", description="proxylab: endpoint layout changed"
            ),
        )
        say(f"private API {api} redeployed (resource policy follows the endpoint)")
