"""The Lambda platform lines, written (local lab) and read (tables, AWS lab) here.

Shapes, as Lambda writes them (fields of REPORT and INIT_REPORT are tab-separated)::

    INIT_START Runtime Version: python:3.12.v38 Runtime Version ARN: arn:...
    START RequestId: 8f5e... Version: $LATEST
    END RequestId: 8f5e...
    REPORT RequestId: 8f5e...\\tDuration: 812.41 ms\\tBilled Duration: 813 ms\\t
        Memory Size: 128 MB\\tMax Memory Used: 71 MB\\tInit Duration: 243.02 ms   (one line)
    INIT_REPORT Init Duration: 10003.02 ms\\tPhase: init\\tStatus: timeout

Writers: :func:`start_line`, :func:`end_line`, :func:`report_line`,
:func:`init_report_line` (``labs/local/lambda_host.py``). Readers: :func:`parse_start`,
:func:`parse_end`, :func:`parse_report` (each None when the line is not of that kind,
ValueError when it is but breaks off), :func:`is_start_of` / :func:`is_report_of`
for one request id, :func:`report_numbers` for what a REPORT says.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

RID = r"[0-9A-Za-z][0-9A-Za-z-]*"
_START_RE = re.compile(rf"START RequestId: (?P<rid>{RID})(?: Version: (?P<version>\S+))?\s*")
_END_RE = re.compile(rf"END RequestId: (?P<rid>{RID})\s*")
_REPORT_RE = re.compile(rf"REPORT RequestId: (?P<rid>{RID})(?P<rest>(?:\s.*)?)")
_FIELD_RE = re.compile(r"([A-Za-z][A-Za-z ]*?):\s*([^\t]+?)\s*(?=\t|$)")
PLATFORM_RE = re.compile(
    r"(INIT_START|INIT_REPORT|RESTORE_START|RESTORE_REPORT|EXTENSION|TELEMETRY)\b"
)
_REPORT_FIELDS = {"Duration": "duration_ms", "Billed Duration": "billed_ms",
                  "Memory Size": "memory_mb", "Max Memory Used": "max_memory_mb",
                  "Init Duration": "init_ms"}


@dataclass(frozen=True)
class Report:
    request_id: str
    duration_ms: float
    billed_ms: float | None = None
    memory_mb: int | None = None
    max_memory_mb: int | None = None
    init_ms: float | None = None
    status: str | None = None  # "timeout", "error" (absent when the invocation succeeded)


def start_line(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(request_id: str, duration_ms: float, billed_ms: int, memory_mb: int,
                max_memory_mb: int, init_ms: float | None = None,
                tail: str | None = None) -> str:
    """``tail``: Lambda's status fields (``Status: timeout``, or ``Status: error`` and
    ``Error Type: ...`` tab-separated)."""
    parts = [f"REPORT RequestId: {request_id}", f"Duration: {duration_ms:.2f} ms",
             f"Billed Duration: {billed_ms} ms", f"Memory Size: {memory_mb} MB",
             f"Max Memory Used: {max_memory_mb} MB"]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if tail:
        parts.append(tail)
    return "\t".join(parts)


def init_report_line(init_ms: float, tail: str) -> str:
    return f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\t{tail}"


def parse_start(msg: str) -> tuple[str, str | None] | None:
    """(request id, version) of a START line; None if ``msg`` is not one."""
    if not msg.startswith("START RequestId"):
        return None
    m = _START_RE.fullmatch(msg)
    if not m:
        raise ValueError("START line without a request id")
    return m["rid"], m["version"]


def parse_end(msg: str) -> str | None:
    if not msg.startswith("END RequestId"):
        return None
    m = _END_RE.fullmatch(msg)
    if not m:
        raise ValueError("END line without a request id")
    return m["rid"]


# Largest REPORT number read (ms or MB): exact in a float and inside int64, so
# ``Memory Size: 1e30 MB`` is a malformed line, not an overflow when the table is built.
MAX_NUMBER = 2.0**53


def _num(text: str) -> float:
    words = text.split()  # "812.41 ms"; a line cut after "Duration: " leaves blanks only
    if not words:
        raise ValueError("REPORT field without a value")
    value = float(words[0])
    if not (math.isfinite(value) and 0 <= value < MAX_NUMBER):
        raise ValueError(f"REPORT value {text!r} is not a number between 0 and 2^53")
    return value


def parse_report(msg: str) -> Report | None:
    if not msg.startswith("REPORT RequestId"):
        return None
    m = _REPORT_RE.fullmatch(msg)
    if not m:
        raise ValueError("REPORT line without a request id")
    fields = {k.strip(): v for k, v in _FIELD_RE.findall(m["rest"])}
    if "Duration" not in fields:
        raise ValueError("REPORT line without Duration")
    out: dict = {}
    for key, col in _REPORT_FIELDS.items():
        if key in fields:
            value = _num(fields[key])
            out[col] = int(value) if col.endswith("_mb") else value
    return Report(request_id=m["rid"], status=fields.get("Status") or None, **out)


def report_numbers(line: str) -> Report | None:
    """The REPORT anywhere in a line (a CloudWatch tail may prefix it), or None —
    lenient: a broken REPORT is None, for callers that only want the numbers."""
    i = line.find("REPORT RequestId")
    if i < 0:
        return None
    try:
        return parse_report(line[i:])
    except ValueError:
        return None


def is_start_of(line: str, request_id: str) -> bool:
    return line.startswith(f"START RequestId: {request_id}")


def is_report_of(line: str, request_id: str) -> bool:
    return line.startswith(f"REPORT RequestId: {request_id}")


def is_init_start(line: str) -> bool:
    return line.startswith("INIT_START")
