"""The AWS lab as a :class:`~proxylab.labs.base.LabDescription`: places, services
and their health, the endpoint layout and the resource ids scenarios refer to.

Every capture records this description, so it also says what the AWS lab cannot
observe (``evidence_not_collected``, ``observed_services``): the analysis reads an
absent S3 hit on AWS as "not observed", not as "no request".
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from proxylab.labs.aws import invoke as inv
from proxylab.labs.aws import ssm, stack
from proxylab.labs.aws import template as tpl
from proxylab.labs.aws.context import AwsContext
from proxylab.labs.aws.resources import API_URLS, FUNCTIONS, RESOURCE_KEYS
from proxylab.labs.base import EndpointLayout, LabDescription, Place, Service

BACKEND = "aws"
NOT_COLLECTED = (
    "dns.log (Route 53 Resolver query logging is not part of the AWS lab); "
    "S3 requests in services.log (S3 server access logs arrive hours late; "
    "CloudTrail data events are not enabled)"
)


def down(name: str, region: str) -> LabDescription:
    return LabDescription(backend=BACKEND, name=name, region=region, up=False)


def describe(
    ctx: AwsContext,
    name: str,
    stack_name: str,
    out: dict[str, str],
    found: dict[str, Any] | None,
) -> LabDescription:
    """An up lab from its resource ids ``out`` and its stack ``found`` (None for a
    lab attached through a mapping: no parameters, no account id)."""
    params = stack.parameters(found) if found else {}
    account = found["StackId"].split(":")[4] if found else ""
    resources = {"region": ctx.region, "account_id": account, "stack_name": stack_name}
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
    lambda_cidr = params.get("LambdaVpcCidr", "10.1.0.0/16")
    proxy_cidr = params.get("ProxyVpcCidr", "10.0.0.0/16")
    places = [
        Place(
            "lambda",
            "Lambda VPC, private subnets, no NAT",
            addresses=[lambda_cidr],
            routes=[f"{proxy_cidr} via peering {out.get('PeeringId', '?')}"]
            + (["S3 prefix list via gateway endpoint"] if "S3GatewayEndpointId" in out else []),
        ),
        Place(
            "proxy",
            "proxy VPC, public subnet with Squid",
            addresses=[proxy_cidr],
            routes=["0.0.0.0/0 via internet gateway", f"{lambda_cidr} via peering"],
        ),
    ]
    services = [squid_service(ctx, out)]
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
        backend=BACKEND,
        name=name,
        region=ctx.region,
        up=True,
        places=places,
        services=services,
        endpoints=tpl.endpoints_from_parameters(params) if params else EndpointLayout(),
        resources=resources,
        plumbing_env={
            inv.NONCE_VAR: "random per invocation: forces a fresh (cold) execution environment"
        },
    )


def squid_service(ctx: AwsContext, out: dict[str, str]) -> Service:
    """Squid is healthy when its instance runs and SSM sees it online."""
    instance = out["ProxyInstanceId"]
    try:
        res = ctx.client("ec2").describe_instances(InstanceIds=[instance])
        state = res["Reservations"][0]["Instances"][0]["State"]["Name"]
        ping = ssm.ping_status(ctx.client("ssm"), instance)
    except (ClientError, BotoCoreError, IndexError, KeyError) as exc:
        return Service("squid", "proxy", out["ProxyUrl"], False, f"{instance}: {exc}")
    healthy = state == "running" and ping == "Online"
    return Service("squid", "proxy", out["ProxyUrl"], healthy, f"{instance} {state}, SSM {ping}")
