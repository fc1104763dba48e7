"""Lambda function logs as CloudWatch shows them, one line at a time.

Line shapes (any of them may carry a CloudWatch prefix on captures pulled from
AWS: ``2025-05-25T05:05:05.823Z`` or ``2025-05-25T05:05:05.823000+00:00
2025/05/25/[$LATEST]0123abcd`` or epoch milliseconds and a tab)::

    START RequestId: 8f5e... Version: $LATEST
    END RequestId: 8f5e...
    REPORT RequestId: 8f5e...\\tDuration: 812.41 ms\\tBilled Duration: 813 ms\\t
        Memory Size: 128 MB\\tMax Memory Used: 71 MB\\tInit Duration: 243.02 ms   (one line)
    {"proxylab":"step","step":"web","url":"https://www.google.com","host":"www.google.com",
        "outcome":"ok","status":200,"error":null,"elapsed_ms":12.3}                (one line)
    [ERROR] ClientError: An error occurred (AccessDenied) when calling ...
    [INFO]\\t2025-05-25T05:05:05.823Z\\t8f5e...\\tmessage from the logging module
    2025-05-25T05:05:10.830Z 8f5e... Task timed out after 5.01 seconds
    anything the function printed

Plain prints are never malformed (a function may print anything); only lines
that start like a platform line or a probe step line and then break off are.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from proxylab.logs.base import Malformed, ParseResult, to_utc, typed

OUTCOMES = ("ok", "http_error", "tunnel_error", "timeout", "dns_error", "tls_error", "other")
KINDS = ("start", "end", "report", "step", "error", "timeout", "log", "platform", "print")

DTYPES: dict[str, str] = {
    "run_id": "category",
    "request_id": "string",
    "ts": "ts",
    "kind": "category",
    "step": "category",
    "target_url": "string",
    "host": "string",
    "outcome": "category",
    "status": "Int64",
    "detail": "string",
    "elapsed_ms": "Float64",
    "message": "string",
    "raw_line_no": "Int64",
}

INVOCATION_DTYPES: dict[str, str] = {
    "run_id": "category",
    "request_id": "string",
    "start_ts": "ts",
    "end_ts": "ts",
    "version": "string",
    "duration_ms": "Float64",
    "billed_ms": "Float64",
    "memory_mb": "Int64",
    "max_memory_mb": "Int64",
    "init_ms": "Float64",
    "timed_out": "boolean",
    "errors": "Int64",
    "steps": "Int64",
    "state": "category",
}

_ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
_PREFIX_RE = re.compile(
    rf"(?:(?P<iso>{_ISO})|(?P<epoch>\d{{13}}))[ \t]+"
    r"(?:\d{4}/\d{2}/\d{2}/\[[^\]]*\][0-9A-Za-z]+[ \t]+)?"  # optional log stream name
)
_RID = r"[0-9A-Za-z][0-9A-Za-z-]*"
_START_RE = re.compile(rf"START RequestId: (?P<rid>{_RID})(?: Version: (?P<version>\S+))?\s*")
_END_RE = re.compile(rf"END RequestId: (?P<rid>{_RID})\s*")
_REPORT_RE = re.compile(rf"REPORT RequestId: (?P<rid>{_RID})(?P<rest>(?:\s.*)?)")
_REPORT_FIELD_RE = re.compile(r"([A-Za-z][A-Za-z ]*?):\s*([^\t]+?)\s*(?=\t|$)")
_TIMEOUT_RE = re.compile(
    rf"(?:(?P<ts>{_ISO})\s+)?(?:(?P<rid>{_RID})\s+)?"
    r"Task timed out after (?P<secs>\d+(?:\.\d+)?) seconds"
)
_LEVEL_RE = re.compile(r"\[(?P<level>ERROR|CRITICAL|WARNING|WARN|INFO|DEBUG)\](?P<rest>.*)")
_LOGGING_RE = re.compile(rf"\t(?P<ts>{_ISO})\t(?P<rid>{_RID})\t(?P<msg>.*)")
_PLATFORM_RE = re.compile(
    r"(INIT_START|INIT_REPORT|RESTORE_START|RESTORE_REPORT|EXTENSION|TELEMETRY)\b"
)


@dataclass
class FunctionLogResult(ParseResult):
    """``frame`` holds one row per meaningful line (``function_events``);
    ``invocations`` one row per request id, from START / END / REPORT."""

    invocations: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def steps(self) -> pd.DataFrame:
        return self.frame[self.frame["kind"] == "step"]


def strip_prefix(line: str) -> tuple[pd.Timestamp | str | None, str]:
    """(CloudWatch timestamp or None, the message after it)."""
    m = _PREFIX_RE.match(line)
    if not m or m.end() == len(line):
        return None, line
    if m["epoch"]:
        return pd.Timestamp(int(m["epoch"]), unit="ms", tz="UTC"), line[m.end():]
    return m["iso"], line[m.end():]


def _num(text: str) -> float:
    value = float(text.split()[0])
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _report(rest: str) -> dict[str, Any]:
    fields = {k.strip(): v for k, v in _REPORT_FIELD_RE.findall(rest)}
    out: dict[str, Any] = {}
    names = {
        "Duration": "duration_ms",
        "Billed Duration": "billed_ms",
        "Memory Size": "memory_mb",
        "Max Memory Used": "max_memory_mb",
        "Init Duration": "init_ms",
    }
    for key, col in names.items():
        if key in fields:
            value = _num(fields[key])
            out[col] = int(value) if col.endswith("_mb") else value
    if "Duration" not in fields:
        raise ValueError("REPORT line without Duration")
    if fields.get("Status"):
        out["status"] = fields["Status"]
    return out


def _step(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("proxylab") != "step":
        raise ValueError("not a proxylab step object")
    step, outcome = data.get("step"), data.get("outcome")
    if not isinstance(step, str) or not step:
        raise ValueError("step line without a step name")
    if outcome not in OUTCOMES:
        raise ValueError(f"step outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    status = data.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise ValueError(f"step status {status!r} is not an integer")
    elapsed = data.get("elapsed_ms")
    if elapsed is not None and (isinstance(elapsed, bool) or not isinstance(elapsed, (int, float))
                                or not math.isfinite(elapsed)):
        raise ValueError(f"step elapsed_ms {elapsed!r} is not a number")
    url, host, error = data.get("url"), data.get("host"), data.get("error")
    return {
        "step": step,
        "target_url": url if isinstance(url, str) else None,
        "host": host.lower() if isinstance(host, str) and host else None,
        "outcome": outcome,
        "status": status,
        "detail": error if isinstance(error, str) else (None if error is None else str(error)),
        "elapsed_ms": None if elapsed is None else float(elapsed),
    }


def parse_lines(lines: Iterable[str], run_id: str = "") -> FunctionLogResult:
    """Parse a function log into ``function_events`` and ``invocations``."""
    rows: list[dict[str, Any]] = []
    inv: dict[str, dict[str, Any]] = {}
    malformed: list[Malformed] = []
    current: str | None = None
    n = skipped = 0

    def invocation(rid: str) -> dict[str, Any]:
        return inv.setdefault(rid, {"request_id": rid, "errors": 0, "steps": 0, "timed_out": False})

    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            skipped += 1
            continue
        ts, msg = strip_prefix(line)
        row: dict[str, Any] = {"ts": ts, "message": msg, "raw_line_no": n, "request_id": current}
        try:
            if msg.startswith("START RequestId"):
                m = _START_RE.fullmatch(msg)
                if not m:
                    raise ValueError("START line without a request id")
                current = m["rid"]
                row.update(kind="start", request_id=current)
                rec = invocation(current)
                rec["start_ts"], rec["version"] = ts, m["version"]
            elif msg.startswith("END RequestId"):
                m = _END_RE.fullmatch(msg)
                if not m:
                    raise ValueError("END line without a request id")
                row.update(kind="end", request_id=m["rid"])
                invocation(m["rid"])["end_ts"] = ts
            elif msg.startswith("REPORT RequestId"):
                m = _REPORT_RE.fullmatch(msg)
                if not m:
                    raise ValueError("REPORT line without a request id")
                fields = _report(m["rest"])
                row.update(kind="report", request_id=m["rid"])
                rec = invocation(m["rid"])
                rec.update({k: v for k, v in fields.items() if k != "status"})
                if fields.get("status") == "timeout":
                    rec["timed_out"] = True
                if current == m["rid"]:
                    current = None
            elif msg.lstrip().startswith('{"proxylab"'):
                row.update(kind="step", **_step(msg))
                if current:
                    invocation(current)["steps"] += 1
            elif "Task timed out after" in msg:
                m = _TIMEOUT_RE.search(msg)
                if not m:
                    raise ValueError("timeout line without a duration")
                rid = m["rid"] or current
                row.update(kind="timeout", request_id=rid,
                           detail=f"Task timed out after {m['secs']} seconds")
                if ts is None and m["ts"]:
                    row["ts"] = m["ts"]
                if rid:
                    invocation(rid)["timed_out"] = True
            elif (lm := _LEVEL_RE.match(msg)) is not None:
                level, rest = lm["level"], lm["rest"]
                lg = _LOGGING_RE.match(rest)
                if lg:
                    rest = lg["msg"]
                    row["request_id"] = lg["rid"]
                    if ts is None:
                        row["ts"] = lg["ts"]
                kind = "error" if level in ("ERROR", "CRITICAL") else "log"
                row.update(kind=kind, detail=rest.strip())
                if kind == "error" and row["request_id"]:
                    invocation(row["request_id"])["errors"] += 1
            elif _PLATFORM_RE.match(msg):
                row.update(kind="platform")
            else:
                row.update(kind="print")
        except (ValueError, TypeError) as exc:
            malformed.append(Malformed(n, line, str(exc)))
            continue
        rows.append(row)

    events = pd.DataFrame(rows, columns=[c for c in DTYPES if c != "run_id"])
    events["ts"] = _mixed_ts(events["ts"])
    events["run_id"] = run_id
    events = typed(events, DTYPES)
    for col, values in (("kind", KINDS), ("outcome", OUTCOMES)):
        events[col] = events[col].cat.set_categories(
            list(dict.fromkeys([*values, *events[col].cat.categories]))
        )
    invocations = pd.DataFrame(list(inv.values()),
                               columns=[c for c in INVOCATION_DTYPES if c != "run_id"])
    for col in ("start_ts", "end_ts"):
        invocations[col] = _mixed_ts(invocations[col])
    invocations["state"] = [_state(r) for r in invocations.to_dict("records")]
    invocations["run_id"] = run_id
    return FunctionLogResult(
        frame=events,
        malformed=malformed,
        lines=n,
        skipped=skipped,
        source="function.log",
        invocations=typed(invocations, INVOCATION_DTYPES),
    )


def _mixed_ts(values: pd.Series) -> pd.Series:
    """Prefix timestamps are Timestamps or ISO strings; normalise both to UTC."""
    out = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]
    return to_utc(pd.Series(out, dtype="object", index=values.index))


def _state(rec: dict[str, Any]) -> str:
    if rec.get("timed_out") is True:
        return "timeout"
    if isinstance(rec.get("errors"), int) and rec["errors"] > 0:
        return "error"
    if rec.get("duration_ms") is None or (isinstance(rec.get("duration_ms"), float)
                                          and math.isnan(rec["duration_ms"])):
        return "incomplete"
    return "ok"
