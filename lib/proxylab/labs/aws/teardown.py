"""Taking the AWS lab down so it stops costing money, and saying what survived.

CloudFormation cannot delete a non-empty bucket, and Lambda re-creates a function's
log group after the stack deleted it; both are handled here. Whatever still carries
the lab's tag afterwards is listed (not silently ignored), except resources AWS keeps
listed for a while after deleting them (terminated instances, deleted peerings),
which cost nothing.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from proxylab.labs.aws import stack
from proxylab.labs.aws import template as tpl
from proxylab.labs.aws.context import AwsContext
from proxylab.labs.aws.resources import FUNCTIONS
from proxylab.labs.base import LabError


def delete(ctx: AwsContext, name: str, stack_name: str, out: dict[str, str]) -> list[str]:
    """Empty the bucket, delete the stack (bounded wait), and list what is left."""
    if out.get("BucketName"):
        empty_bucket(ctx, out["BucketName"])
    cfn = ctx.client("cloudformation")
    left = ctx.call(
        "CloudFormation delete",
        lambda: stack.delete(cfn, stack_name, ctx.echo, ctx.stack_timeout_s, ctx.poll_s, ctx.clock),
    )
    return left + leftovers(ctx, name, out)


def empty_bucket(ctx: AwsContext, bucket: str) -> None:
    s3 = ctx.client("s3")
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    except ClientError as exc:
        if "NoSuchBucket" not in str(exc):
            raise LabError(f"emptying bucket {bucket}: {exc}") from exc


def gone(ctx: AwsContext, arn: str) -> bool:
    """Terminated instances and deleted peerings stay listed (and tagged) for a
    while after deletion; they cost nothing and are not leftovers."""
    kind, _, rid = arn.rsplit(":", 1)[-1].partition("/")
    ec2 = ctx.client("ec2")
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


def leftovers(ctx: AwsContext, name: str, out: dict[str, str]) -> list[str]:
    """What survives the stack: tagged resources, and log groups Lambda re-created
    after CloudFormation deleted them (those are deleted here)."""
    left: list[str] = []
    logs_client = ctx.client("logs")
    for key in FUNCTIONS.values():
        group = f"/aws/lambda/{out.get(key, '')}"
        try:
            found = logs_client.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
            if any(g["logGroupName"] == group for g in found):
                logs_client.delete_log_group(logGroupName=group)
                ctx.echo(f"deleted log group {group} (Lambda re-created it)")
        except ClientError as exc:
            left.append(f"log group {group}: {exc}")
    try:
        tagging = ctx.client("resourcegroupstaggingapi")
        pages = tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": tpl.TAG_KEY, "Values": [name]}]
        )
        for page in pages:
            for res in page.get("ResourceTagMappingList", []):
                arn = res["ResourceARN"]
                if not gone(ctx, arn):
                    left.append(f"still tagged {tpl.TAG_KEY}={name}: {arn}")
    except (ClientError, BotoCoreError) as exc:
        left.append(f"could not list tagged resources: {exc}")
    return left
