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

The line grammars are :mod:`proxylab.grammar.platform` (START/END/REPORT) and
:mod:`proxylab.grammar.step` (the probe's step line); this module builds the
``function_events`` and ``invocations`` tables from them.

Plain prints are never malformed (a function may print anything); only lines
that start like a platform line or a probe step line and then break off are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from proxylab.grammar.platform import PLATFORM_RE, RID, parse_end, parse_report, parse_start
from proxylab.grammar.step import is_step_line, parse_step
from proxylab.logs.base import MAX_EPOCH, Malformed, ParseResult, to_utc, typed
from proxylab.vocab import Outcome

OUTCOMES = tuple(o.value for o in Outcome)
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
_RID = RID
_TIMEOUT_RE = re.compile(
    rf"(?:(?P<ts>{_ISO})\s+)?(?:(?P<rid>{_RID})\s+)?"
    r"Task timed out after (?P<secs>\d+(?:\.\d+)?) seconds"
)
_LEVEL_RE = re.compile(r"\[(?P<level>ERROR|CRITICAL|WARNING|WARN|INFO|DEBUG)\](?P<rest>.*)")
_LOGGING_RE = re.compile(rf"\t(?P<ts>{_ISO})\t(?P<rid>{_RID})\t(?P<msg>.*)")


@dataclass
class FunctionLogResult(ParseResult):
    """``frame`` holds one row per meaningful line (``function_events``);
    ``invocations`` one row per request id, from START / END / REPORT."""

    invocations: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def steps(self) -> pd.DataFrame:
        return self.frame[self.frame["kind"] == "step"]


def strip_prefix(line: str) -> tuple[float | str | None, str]:
    """(CloudWatch timestamp or None, the message after it): epoch milliseconds come
    back as epoch seconds, an ISO time as written (:func:`epoch_of` checks both)."""
    m = _PREFIX_RE.match(line)
    if not m or m.end() == len(line):
        return None, line
    if m["epoch"]:
        return int(m["epoch"]) / 1000.0, line[m.end():]
    return m["iso"], line[m.end():]


def epoch_of(ts: float | str | None) -> float | None:
    """A line's timestamp as epoch seconds; ValueError when it is not a time the tables
    can hold (1970 to 2261: ``0025-05-25T...`` or a 13-digit epoch past 2262 would
    otherwise overflow ``datetime64[ns]`` when the table is built, losing every line)."""
    if ts is None:
        return None
    if isinstance(ts, str):
        try:
            stamp = pd.Timestamp(ts)
        except (ValueError, OverflowError):
            raise ValueError(f"timestamp {ts!r} is not a time") from None
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")
        value = stamp.timestamp()
    else:
        value = float(ts)
    if not (math.isfinite(value) and 0 <= value < MAX_EPOCH):
        raise ValueError(f"timestamp {ts!r} is not a time between 1970 and 2261")
    return value


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
        prefix_ts, msg = strip_prefix(line)
        row: dict[str, Any] = {"message": msg, "raw_line_no": n, "request_id": current}
        try:
            row["ts"] = ts = epoch_of(prefix_ts)
            if (start := parse_start(msg)) is not None:
                current = start[0]
                row.update(kind="start", request_id=current)
                rec = invocation(current)
                rec["start_ts"], rec["version"] = ts, start[1]
            elif (end := parse_end(msg)) is not None:
                row.update(kind="end", request_id=end)
                invocation(end)["end_ts"] = ts
            elif (rep := parse_report(msg)) is not None:
                row.update(kind="report", request_id=rep.request_id)
                rec = invocation(rep.request_id)
                rec.update({k: v for k, v in asdict(rep).items()
                            if k not in ("status", "request_id") and v is not None})
                if rep.status == "timeout":
                    rec["timed_out"] = True
                if current == rep.request_id:
                    current = None
            elif is_step_line(msg):
                st = parse_step(msg)
                fields = asdict(st)
                ended = fields.pop("ended_at")
                row.update(kind="step", **{**fields, "outcome": st.outcome.value})
                if row.get("ts") is None and ended is not None:
                    row["ts"] = ended  # the probe's own clock when no log prefix has one
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
                    row["ts"] = epoch_of(m["ts"])
                if rid:
                    invocation(rid)["timed_out"] = True
            elif (lm := _LEVEL_RE.match(msg)) is not None:
                level, rest = lm["level"], lm["rest"]
                lg = _LOGGING_RE.match(rest)
                if lg:
                    rest = lg["msg"]
                    row["request_id"] = lg["rid"]
                    if ts is None:
                        row["ts"] = epoch_of(lg["ts"])
                kind = "error" if level in ("ERROR", "CRITICAL") else "log"
                row.update(kind=kind, detail=rest.strip())
                if kind == "error" and row["request_id"]:
                    invocation(row["request_id"])["errors"] += 1
            elif PLATFORM_RE.match(msg):
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
    """Epoch seconds (:func:`epoch_of`, None when the line had no time) -> UTC."""
    out = [math.nan if v is None else float(v) for v in values]
    return to_utc(pd.Series(out, dtype="float64", index=values.index))


def _state(rec: dict[str, Any]) -> str:
    if rec.get("timed_out") is True:
        return "timeout"
    if isinstance(rec.get("errors"), int) and rec["errors"] > 0:
        return "error"
    if rec.get("duration_ms") is None or (isinstance(rec.get("duration_ms"), float)
                                          and math.isnan(rec["duration_ms"])):
        return "incomplete"
    return "ok"
