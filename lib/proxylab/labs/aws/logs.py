"""CloudWatch Logs pulls, turned into the capture's files, with bounded waits.

- ``function.log``: the invocation's lines from the function's log group, INIT_START
  (when cold) through ``REPORT RequestId: <id>``, exactly as CloudWatch holds them.
- ``proxy_access.log``: Squid's native lines from its log group whose client is one of
  the function's ENI addresses and whose request began inside the run's window.
  Squid writes a CONNECT line when the tunnel *closes*, and the CloudWatch agent ships
  the file in order; so after the tunnel idle timeout, a marker request sent to Squid
  (through SSM) whose line shows up proves every earlier line has been delivered.
- ``services.log``: API Gateway access-log records (with ``$context.identity.vpceId``)
  mapped to the capture's JSON shape.

Nothing here invents a line: what did not arrive in time is named in ``missing``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from proxylab.grammar.platform import is_init_start, is_report_of, is_start_of
from proxylab.grammar.services import ServiceRecord
from proxylab.grammar.squid import LineError, parse_native
from proxylab.grammar.step import find_step
from proxylab.labs.aws.stack import Clock
from proxylab.vocab import Via

SLACK_S = 5.0  # clock skew between this machine, Lambda and the Squid host


@dataclass(frozen=True)
class Window:
    """The run's time span, seconds since the epoch."""

    start: float
    end: float

    def holds(self, ts: float) -> bool:
        return self.start - SLACK_S <= ts <= self.end + SLACK_S


def events(logs: Any, group: str, start: float, end: float | None = None) -> list[dict[str, Any]]:
    """All events of a log group from ``start`` (seconds) on, oldest first."""
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": int((start - SLACK_S) * 1000)}
    if end is not None:
        kwargs["endTime"] = int((end + SLACK_S) * 1000)
    out: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
        out.extend(page.get("events", []))
    out.sort(key=lambda e: (e.get("timestamp", 0), e.get("ingestionTime", 0)))
    return out


def _lines(message: str) -> list[str]:
    return message.rstrip("\n").split("\n")


def invocation_lines(evts: Iterable[dict[str, Any]], request_id: str) -> list[str] | None:
    """The invocation's lines (from INIT_START when cold, else START, through REPORT),
    or None until its REPORT line has arrived."""
    by_stream: dict[str, list[str]] = {}
    for e in evts:
        by_stream.setdefault(e.get("logStreamName", ""), []).extend(_lines(e.get("message", "")))
    for lines in by_stream.values():
        starts = [i for i, ln in enumerate(lines) if is_start_of(ln, request_id)]
        if not starts:
            continue
        first = starts[0]
        if first > 0 and is_init_start(lines[first - 1]):
            first -= 1
        for j in range(starts[0], len(lines)):
            if is_report_of(lines[j], request_id):
                return lines[first : j + 1]
        return None
    return None


def poll_function_log(
    logs: Any,
    group: str,
    request_id: str,
    window: Window,
    timeout_s: float,
    poll_s: float,
    clock: Clock,
) -> list[str] | None:
    deadline = clock.now() + timeout_s
    while True:
        got = invocation_lines(events(logs, group, window.start), request_id)
        if got is not None or clock.now() >= deadline:
            return got
        clock.sleep(poll_s)


def squid_fields(line: str) -> tuple[float, float, str, str] | None:
    """(end time, elapsed s, client ip, url) of a Squid native line by the grammar
    (:mod:`proxylab.grammar.squid`), or None if it is not a well-formed one."""
    try:
        rec = parse_native(line)
    except LineError:
        return None
    return rec.ts, (rec.elapsed_ms or 0) / 1000.0, rec.client_ip, rec.url


def squid_lines_for(evts: Iterable[dict[str, Any]], clients: set[str], window: Window) -> list[str]:
    """The run's Squid lines: client among ``clients``, request begun inside ``window``."""
    out = []
    for e in evts:
        for line in _lines(e.get("message", "")):
            f = squid_fields(line)
            if f is None:
                continue
            end, elapsed, client, _url = f
            if client in clients and window.holds(end - elapsed):
                out.append(line)
    return out


def marker_seen(evts: Iterable[dict[str, Any]], marker_host: str) -> bool:
    return any(marker_host in e.get("message", "") for e in evts)


def service_record(message: str) -> dict[str, Any] | None:
    """One API Gateway access-log record (the template's JSON format) in the capture's
    services.log shape; None when the message is not such a record."""
    try:
        rec = json.loads(message)
    except ValueError:
        return None
    if not isinstance(rec, dict) or "requestTimeEpoch" not in rec:
        return None
    vpce = rec.get("vpceId") or ""
    vpce = None if vpce in ("", "-") else vpce
    try:
        ts = int(rec["requestTimeEpoch"]) / 1000.0
        status: int | None = int(rec.get("status"))
    except (TypeError, ValueError):
        return None
    return ServiceRecord(
        ts=ts, service="execute-api", via=Via.INTERFACE_ENDPOINT if vpce else Via.INTERNET,
        status=status, source_ip=rec.get("sourceIp") or None,
        local_ip=None,  # API Gateway does not log which of its addresses answered
        vpce_id=vpce, host=rec.get("domainName") or None, method=rec.get("httpMethod") or None,
        path=rec.get("path") or None, request_id=rec.get("requestId"), api_id=rec.get("apiId"),
        evidence="apigateway-access-log",
    ).to_dict()


def service_records_for(
    evts: Iterable[dict[str, Any]], sources: set[str], vpce_ids: set[str], window: Window
) -> list[dict[str, Any]]:
    """Records of this run: inside the window, from the function (ENI address, through
    an endpoint) or from Squid's public address (through the proxy)."""
    out = []
    for e in evts:
        rec = service_record(e.get("message", ""))
        if rec is None or not window.holds(rec["ts"]):
            continue
        if rec["source_ip"] in sources or (rec["vpce_id"] and rec["vpce_id"] in vpce_ids):
            out.append(rec)
    return out


def probe_steps(function_lines: Iterable[str]) -> list[dict[str, Any]]:
    """The probe's step records ({"proxylab":"step",...}) found in the function's lines
    (:func:`proxylab.grammar.step.find_step`)."""
    return [rec for line in function_lines if (rec := find_step(line)) is not None]
