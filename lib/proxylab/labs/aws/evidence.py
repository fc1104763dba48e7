"""One run's evidence on AWS: Squid's lines for the function's ENI addresses and the
API Gateway access-log records, from CloudWatch Logs, each wait bounded.

CloudWatch delivers late and Squid writes a CONNECT's line only when its tunnel
closes, so a capture cannot simply read "the logs since the mark": this module waits
out the tunnel idle timeout, proves delivery with a marker request, and names in
``Evidence.missing`` whatever did not arrive, so an incomplete capture never looks
complete. Line parsing is :mod:`proxylab.labs.aws.logs`'s.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from proxylab.labs.aws import logs, ssm
from proxylab.labs.aws.context import AwsContext
from proxylab.labs.aws.resources import SECURITY_GROUPS
from proxylab.labs.base import Evidence, EvidenceMark, Invocation


def collect(
    ctx: AwsContext,
    out: dict[str, str],
    mark: EvidenceMark,
    invocation: Invocation,
    variant: str | None,
    function_log_complete: bool,
) -> Evidence:
    """The evidence written between ``mark`` and the end of ``invocation``. ``variant``
    is the function that ran (None: unknown, every probe's ENIs count)."""
    evidence = Evidence()
    window = logs.Window(mark.taken_at, invocation.finished_at or ctx.clock.now())
    rid = invocation.request_id
    if rid and not function_log_complete:
        evidence.missing.append(
            f"function.log: CloudWatch had no REPORT line for {rid} within "
            f"{ctx.log_timeout_s:.0f} s; the capture holds the last 4 KB "
            "from the invoke response"
        )
    clients = function_addresses(ctx, out, variant)
    logs_client = ctx.client("logs")
    # proxy_access.log
    if not clients:
        evidence.missing.append(
            "proxy_access.log: the function's ENI address is unknown (no Lambda ENI found "
            "for its security group), so Squid's lines cannot be matched to it"
        )
    else:
        lines, missing = squid_lines(ctx, out, logs_client, clients, window)
        evidence.files["proxy_access.log"] = lines
        evidence.missing.extend(missing)
    # services.log (API Gateway access logs)
    groups = [out[k] for k in ("RegionalApiLogGroup", "PrivateApiLogGroup") if k in out]
    if not groups:
        evidence.missing.append("services.log: API Gateway access logs are off in this lab")
        return evidence
    sources = set(clients)
    if out.get("ProxyPublicIp"):
        sources.add(out["ProxyPublicIp"])
    vpces = {out[k] for k in ("ExecuteApiEndpointId",) if k in out}
    steps = logs.probe_steps(invocation.function_log)
    expect = any(
        s.get("step") == "api" and isinstance(s.get("status"), int) and 200 <= s["status"] < 300
        for s in steps
    )
    records = api_records(ctx, logs_client, groups, sources, vpces, window, expect)
    evidence.files["services.log"] = [json.dumps(r, separators=(",", ":")) for r in records]
    if expect and not records:
        evidence.missing.append(
            f"services.log: the probe's API call answered 2xx but no API Gateway "
            f"access-log record arrived within {ctx.log_timeout_s:.0f} s"
        )
    return evidence


def function_addresses(ctx: AwsContext, out: dict[str, str], variant: str | None) -> set[str]:
    """Private addresses of the Lambda (Hyperplane) ENIs in the function's security
    group: the client address Squid logs for the function."""
    groups = {
        out[SECURITY_GROUPS[v]]
        for v in ([variant] if variant else SECURITY_GROUPS)
        if SECURITY_GROUPS[v] in out
    }
    if not groups:
        return set()
    ec2 = ctx.client("ec2")
    addrs: set[str] = set()
    paginator = ec2.get_paginator("describe_network_interfaces")
    for page in paginator.paginate(Filters=[{"Name": "vpc-id", "Values": [out["LambdaVpcId"]]}]):
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


def squid_lines(
    ctx: AwsContext, out: dict[str, str], logs_client: Any, clients: set[str], window: logs.Window
) -> tuple[list[str], list[str]]:
    """Wait out Squid's tunnel idle timeout; then, through SSM, list the tunnels
    still open and send a marker request; read until the marker's line arrives
    (bounded). Returns the run's lines and what is known to be missing."""
    group = out["SquidLogGroup"]
    idle = float(out.get("SquidTunnelIdleSeconds", "30"))
    ctx.sleep_until(window.end + idle + 1)
    marker = f"proxylab-marker-{secrets.token_hex(6)}.invalid"
    instance = out["ProxyInstanceId"]
    port = out["ProxyUrl"].rsplit(":", 1)[-1]
    client = ctx.client("ssm")
    script = ssm.MARKER_SCRIPT.replace("{port}", port).replace("{marker}", marker)
    deadline = ctx.clock.now() + ctx.log_timeout_s
    missing: list[str] = []
    try:
        cid: str | None = ssm.send(client, instance, script, "proxylab delivery marker", 30)
    except (ClientError, BotoCoreError) as exc:
        ctx.echo(f"could not send Squid's delivery marker: {exc}")
        cid = None
    if cid is not None:
        res = ssm.result(
            client, cid, instance, max(0.0, deadline - ctx.clock.now()), ctx.poll_s, ctx.clock
        )
        if res.status != "Success":
            missing.append(f"proxy_access.log: could not list Squid's open tunnels ({res.status})")
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
            ctx.clock.sleep(ctx.poll_s)
            evts = logs.events(logs_client, group, window.start)
            return logs.squid_lines_for(evts, clients, window), missing
        if ctx.clock.now() >= deadline:
            missing.append(
                f"proxy_access.log: delivery not confirmed within {ctx.log_timeout_s:.0f} s "
                "(Squid's marker line did not reach CloudWatch); lines may be missing"
            )
            return logs.squid_lines_for(evts, clients, window), missing
        ctx.clock.sleep(ctx.poll_s)


def api_records(
    ctx: AwsContext,
    logs_client: Any,
    groups: list[str],
    sources: set[str],
    vpces: set[str],
    window: logs.Window,
    expect: bool,
) -> list[dict[str, Any]]:
    """API Gateway access-log records from the function (or Squid's public address);
    waited for only when the probe's API call succeeded and so one must come."""
    deadline = ctx.clock.now() + (ctx.log_timeout_s if expect else 0)
    while True:
        records: list[dict[str, Any]] = []
        for group in groups:
            records += logs.service_records_for(
                logs.events(logs_client, group, window.start), sources, vpces, window
            )
        if records or ctx.clock.now() >= deadline:
            return sorted(records, key=lambda r: r["ts"])
        ctx.clock.sleep(ctx.poll_s)
