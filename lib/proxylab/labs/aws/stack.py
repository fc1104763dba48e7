"""CloudFormation: create, update and delete the lab's stack, showing its events as
they happen, with bounded waits, and saying which resource failed when one does.

Every function takes a boto3 CloudFormation client, so tests can hand in a moto
client or a botocore ``Stubber`` for what moto does not emulate (stack events of a
rollback).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from proxylab.labs.aws.template import TAG_KEY
from proxylab.labs.base import LabError

Echo = Callable[[str], None]

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
FAILED_STATUSES = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
}


@dataclass
class Clock:
    """Time source and sleep, injectable so tests of bounded waits run instantly."""

    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass
class StackWatch:
    """Prints each new stack event once, oldest first."""

    echo: Echo
    seen: set[str] = field(default_factory=set)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def poll(self, cfn: Any, stack: str) -> None:
        events: list[dict[str, Any]] = []
        token = None
        while True:  # newest first; stop at the first page that is all seen
            kwargs = {"StackName": stack, **({"NextToken": token} if token else {})}
            try:
                page = cfn.describe_stack_events(**kwargs)
            except ClientError as exc:
                if "does not exist" in str(exc):  # deleted, and looked up by name
                    return
                raise
            fresh = [e for e in page.get("StackEvents", []) if e["EventId"] not in self.seen]
            events.extend(fresh)
            token = page.get("NextToken")
            if not token or len(fresh) < len(page.get("StackEvents", [])):
                break
        for event in reversed(events):
            self.seen.add(event["EventId"])
            status = event.get("ResourceStatus", "")
            reason = event.get("ResourceStatusReason") or ""
            self.echo(
                f"  {event.get('LogicalResourceId', '?'):<32} {event.get('ResourceType', ''):<36} "
                f"{status}{'  ' + reason if reason else ''}"
            )
            if status.endswith("_FAILED") and "cancelled" not in reason.lower():
                self.failures.append(event)


def find_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    """The live stack called ``name``, or None (deleted stacks do not count)."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise LabError(f"CloudFormation describe_stacks failed: {exc}") from exc
    live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
    return live[0] if live else None


def find_stack_by_tag(cfn: Any, lab_name: str) -> dict[str, Any] | None:
    """A live stack carrying the tag ``proxylab:lab=<lab_name>`` (for `attach` when the
    stack was created under another name)."""
    paginator = cfn.get_paginator("describe_stacks")
    for page in paginator.paginate():
        for stack in page.get("Stacks", []):
            tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
            if tags.get(TAG_KEY) == lab_name and stack.get("StackStatus") != "DELETE_COMPLETE":
                return stack
    return None


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def parameters(stack: dict[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def _failure_message(action: str, stack: str, status: str, reason: str, watch: StackWatch) -> str:
    lines = [f"stack {stack}: {action} failed ({status}{': ' + reason if reason else ''})"]
    if watch.failures:
        lines.append("failing resources:")
        for e in watch.failures:
            lines.append(
                f"  {e.get('LogicalResourceId')} ({e.get('ResourceType')}): "
                f"{e.get('ResourceStatusReason') or 'no reason given'}"
            )
    return "\n".join(lines)


def wait(
    cfn: Any,
    stack: str,
    done: set[str],
    echo: Echo,
    timeout_s: float,
    poll_s: float,
    clock: Clock,
    watch: StackWatch | None = None,
) -> tuple[str, str, StackWatch]:
    """Poll until the stack reaches a status in ``done`` or a failed/terminal one.
    Returns (status, reason, watch). Raises LabError on timeout."""
    watch = watch or StackWatch(echo)
    deadline = clock.now() + timeout_s
    while True:
        watch.poll(cfn, stack)
        found = find_stack(cfn, stack)
        if found is None:
            return "DELETE_COMPLETE", "", watch
        status = found["StackStatus"]
        reason = found.get("StackStatusReason", "") or ""
        if status in done or status in FAILED_STATUSES or not status.endswith("IN_PROGRESS"):
            watch.poll(cfn, stack)
            return status, reason, watch
        if clock.now() >= deadline:
            raise LabError(
                f"stack {stack} still {status} after {timeout_s:.0f} s; it keeps going in "
                "CloudFormation: watch it in the console, then `proxylab lab down --backend aws`"
            )
        clock.sleep(poll_s)


def create(
    cfn: Any,
    stack: str,
    body: str,
    params: dict[str, str],
    lab_name: str,
    echo: Echo,
    timeout_s: float,
    poll_s: float,
    clock: Clock,
) -> dict[str, Any]:
    """Create the stack (rollback on failure) and wait. On failure, the failing
    resources and their reasons are in the LabError."""
    echo(f"creating stack {stack} (events follow)")
    try:
        cfn.create_stack(
            StackName=stack,
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=CAPABILITIES,
            OnFailure="ROLLBACK",
            TimeoutInMinutes=max(1, int(timeout_s // 60)),
            Tags=[{"Key": TAG_KEY, "Value": lab_name}],
        )
    except ClientError as exc:
        raise LabError(f"CloudFormation refused to create stack {stack}: {exc}") from exc
    status, reason, watch = wait(cfn, stack, {"CREATE_COMPLETE"}, echo, timeout_s, poll_s, clock)
    if status != "CREATE_COMPLETE":
        msg = _failure_message("create", stack, status, reason, watch)
        if status == "ROLLBACK_COMPLETE":
            msg += (
                "\nCloudFormation rolled the stack back (the resources it had created are "
                "deleted); "
                "the empty stack remains: `proxylab lab down --backend aws` removes it"
            )
        raise LabError(msg)
    found = find_stack(cfn, stack)
    assert found is not None
    return found


def update_parameters(
    cfn: Any,
    stack: str,
    changes: dict[str, str],
    defaults: dict[str, str],
    echo: Echo,
    timeout_s: float,
    poll_s: float,
    clock: Clock,
) -> bool:
    """Change some parameters, keep the rest (``defaults``: the template's defaults).
    Returns False when nothing changed."""
    found = find_stack(cfn, stack) or {}
    current = parameters(found)
    if all(current.get(k) == v for k, v in changes.items()):
        return False
    # An SSM-typed parameter reads back with its ResolvedValue on AWS; moto shows the
    # resolved value in its place, so such a value says nothing about the path.
    for p in found.get("Parameters", []):
        if "ResolvedValue" not in p and str(p.get("ParameterValue", "")).startswith("ami-"):
            current.pop(p["ParameterKey"], None)
    # Parameters still at their template default are left out (the default applies);
    # others keep their value. (moto honours UsePreviousValue only for parameters given at
    # creation; CloudFormation re-reads the AMI's SSM parameter on every update either
    # way: see docs/aws.md.)
    params: list[dict[str, Any]] = []
    for k, v in current.items():
        if k in changes:
            params.append({"ParameterKey": k, "ParameterValue": changes[k]})
        elif defaults.get(k) != v:
            params.append({"ParameterKey": k, "UsePreviousValue": True})
    echo(f"updating stack {stack}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))
    try:
        cfn.update_stack(
            StackName=stack, UsePreviousTemplate=True, Parameters=params, Capabilities=CAPABILITIES
        )
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            return False
        raise LabError(f"CloudFormation refused to update stack {stack}: {exc}") from exc
    status, reason, watch = wait(cfn, stack, {"UPDATE_COMPLETE"}, echo, timeout_s, poll_s, clock)
    if status != "UPDATE_COMPLETE":
        raise LabError(_failure_message("update", stack, status, reason, watch))
    return True


def delete(
    cfn: Any, stack: str, echo: Echo, timeout_s: float, poll_s: float, clock: Clock
) -> list[str]:
    """Delete and wait. Returns resources CloudFormation could not delete."""
    echo(f"deleting stack {stack} (events follow)")
    found = find_stack(cfn, stack)
    stack_id = found["StackId"] if found else stack  # a deleted stack is found by id only
    cfn.delete_stack(StackName=stack)
    status, reason, watch = wait(cfn, stack_id, {"DELETE_COMPLETE"}, echo, timeout_s, poll_s, clock)
    if status == "DELETE_COMPLETE":
        return []
    left = [
        f"{e.get('LogicalResourceId')} ({e.get('ResourceType')}): "
        f"{e.get('ResourceStatusReason', '')}"
        for e in watch.failures
    ]
    return left or [f"stack {stack}: {status} {reason}".strip()]
