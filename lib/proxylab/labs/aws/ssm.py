"""Commands on the Squid instance through SSM Run Command (there is no SSH key and no
inbound rule): health checks, the delivery marker, and `lab exec proxy ...`."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from proxylab.labs.aws.stack import Clock

# Squid answers a plain request from 127.0.0.1 with 403 (only the Lambda VPC may use
# it): any HTTP status proves it is listening and serving.
SQUID_CHECK = (
    "systemctl is-active squid amazon-cloudwatch-agent && "
    "curl -s -o /dev/null -w 'squid answered HTTP %{http_code}\\n' --max-time 5 "
    "http://127.0.0.1:{port}/"
)

# After a run: the connections still established to Squid's port (a CONNECT is logged
# only when its tunnel closes), then a request whose access-log line marks delivery.
MARKER_SCRIPT = (
    "ss -Htn state established '( sport = :{port} )' | awk '{print \"open \" $4}'; "
    "curl -s -o /dev/null --max-time 5 -x http://127.0.0.1:{port} http://{marker}/; true"
)


def open_peers(stdout: str) -> list[str]:
    """Client addresses from MARKER_SCRIPT's ``open <peer>:<port>`` lines (IPv4-mapped
    IPv6 forms, as a dual-stack Squid shows them, are unwrapped)."""
    peers = []
    for line in stdout.splitlines():
        if not line.startswith("open "):
            continue
        host = line[5:].strip().rsplit(":", 1)[0].strip("[]")
        peers.append(host[7:] if host.startswith("::ffff:") else host)
    return peers


@dataclass
class CommandResult:
    status: str  # Success | Failed | TimedOut | Cancelled | Undeliverable | ... | lab-timeout
    exit_code: int
    stdout: str
    stderr: str


def ping_status(ssm: Any, instance_id: str) -> str:
    """The instance's SSM agent status: Online, ConnectionLost, ... or "not registered"."""
    info = ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
    ).get("InstanceInformationList", [])
    return info[0].get("PingStatus", "?") if info else "not registered"


def wait_online(ssm: Any, instance_id: str, timeout_s: float, poll_s: float, clock: Clock) -> bool:
    """Until the instance's SSM agent reports Online (bounded)."""
    deadline = clock.now() + timeout_s
    while True:
        try:
            status = ping_status(ssm, instance_id)
        except ClientError:
            status = "?"
        if status == "Online":
            return True
        if clock.now() >= deadline:
            return False
        clock.sleep(poll_s)


def send(ssm: Any, instance_id: str, script: str, comment: str, timeout_s: float) -> str:
    resp = ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Comment=comment[:100],
        TimeoutSeconds=max(30, int(timeout_s)),
        Parameters={"commands": [script], "executionTimeout": [str(max(1, int(timeout_s)))]},
    )
    return resp["Command"]["CommandId"]


def result(
    ssm: Any, command_id: str, instance_id: str, timeout_s: float, poll_s: float, clock: Clock
) -> CommandResult:
    """Poll the command's outcome (bounded)."""
    deadline = clock.now() + timeout_s
    while True:
        try:
            inv = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        except ClientError as exc:  # InvocationDoesNotExist right after send
            inv = {"Status": "Pending", "StandardErrorContent": str(exc)}
        status = inv.get("Status", "Pending")
        if status not in ("Pending", "InProgress", "Delayed"):
            return CommandResult(
                status,
                int(inv.get("ResponseCode", -1)),
                inv.get("StandardOutputContent", ""),
                inv.get("StandardErrorContent", ""),
            )
        if clock.now() >= deadline:
            return CommandResult("lab-timeout", -1, "", f"no result after {timeout_s:.0f} s")
        clock.sleep(poll_s)


def run(
    ssm: Any,
    instance_id: str,
    argv: list[str],
    env: dict[str, str] | None,
    timeout_s: float,
    poll_s: float,
    clock: Clock,
) -> CommandResult:
    """Run argv on the instance in a clean environment (``env -i``)."""
    assigns = [f"{k}={v}" for k, v in sorted((env or {}).items())]
    script = shlex.join(["env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", *assigns, *argv])
    cid = send(ssm, instance_id, script, "proxylab lab exec", timeout_s)
    return result(ssm, cid, instance_id, timeout_s + 30, poll_s, clock)
