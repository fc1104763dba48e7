"""Adopting an AWS lab proxylab did not just create: finding its stack by tag, and
checking that every resource a run needs exists.

A lab may be built by `up`, renamed, or built by hand and described by a JSON
mapping (:func:`~proxylab.labs.aws.resources.load_mapping`); the check here is the
same for all three, so `attach` names every missing part at once, before a run
fails half-way on the first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from proxylab.labs.aws import stack
from proxylab.labs.aws import template as tpl
from proxylab.labs.aws.context import AwsContext
from proxylab.labs.aws.resources import FUNCTIONS
from proxylab.labs.base import LabError


def find_by_tag(ctx: AwsContext, name: str, stack_name: str) -> str:
    """The name of the stack tagged ``proxylab:lab=<name>``, or a LabError saying how
    to get one."""
    cfn = ctx.client("cloudformation")
    tagged = ctx.call("CloudFormation", lambda: stack.find_stack_by_tag(cfn, name))
    if tagged is None:
        raise LabError(
            f"no stack named {stack_name!r} or tagged {tpl.TAG_KEY}={name} in "
            f"{ctx.region}: `proxylab lab up --backend aws`, or pass --resources FILE"
        )
    return tagged["StackName"]


def check_resources(ctx: AwsContext, out: dict[str, str]) -> list[str]:
    """Every resource the runs need exists (one line per problem)."""
    problems: list[str] = []

    def check(what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"{what}: {exc}")

    lam, s3, apigw, ec2 = (ctx.client(s) for s in ("lambda", "s3", "apigateway", "ec2"))
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
        out[k] for k in ("SquidLogGroup", "RegionalApiLogGroup", "PrivateApiLogGroup") if k in out
    }
    logs_client = ctx.client("logs")
    for group in sorted(groups):
        try:
            found = logs_client.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
        except ClientError as exc:
            problems.append(f"log group {group}: {exc}")
            continue
        if not any(x["logGroupName"] == group for x in found):
            problems.append(f"log group {group} not found")
    return problems
