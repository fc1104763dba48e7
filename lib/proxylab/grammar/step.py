"""The probe's step line: one JSON object per step the probe function took.

Written by ``functions/probe.py`` (``_emit``), which runs on real Lambda and so
never imports proxylab: it prints the object itself, compact (``separators=(",",
":")``), on its own line::

    {"proxylab":"step","step":"web","url":"https://www.google.com","host":"www.google.com",
     "outcome":"ok","status":200,"error":null,"elapsed_ms":12.3,"t":1796131005.742}  (one line)

``t`` (optional: older captures lack it) is the function's wall clock, in epoch
seconds, when the step ended: with ``elapsed_ms`` it gives the step's time window,
which is how evidence that names no host (Squid's ``error:invalid-request`` for TLS
sent to its plain port) is joined to the step that caused it.

CloudWatch may put a prefix before it (a timestamp, a request id). This module is
the reader: :func:`find_step` (the raw object in any function-log line, or None:
what the AWS lab and the expectation checker want) and :func:`parse_step` (the
object checked field by field into a :class:`Step`, ValueError naming what is
wrong: what the ``function_events`` table wants).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from proxylab.vocab import Outcome

STEP_MARK = '{"proxylab"'


@dataclass(frozen=True)
class Step:
    step: str
    outcome: Outcome
    target_url: str | None
    host: str | None
    status: int | None
    detail: str | None
    elapsed_ms: float | None
    ended_at: float | None = None  # epoch seconds (the ``t`` field)


def find_step(line: str) -> dict[str, Any] | None:
    """The step object in a function-log line (after any prefix), or None."""
    i = line.find(STEP_MARK)
    if i < 0:
        return None
    try:
        obj = json.loads(line[i:])
    except ValueError:
        return None
    if isinstance(obj, dict) and obj.get("proxylab") == "step" and "step" in obj:
        return obj
    return None


def is_step_line(message: str) -> bool:
    """The message claims to be a step line (and is malformed if it does not parse)."""
    return message.lstrip().startswith(STEP_MARK)


def _finite(value: int | float) -> bool:
    """A JSON number a float column can hold (an int of 400 digits overflows float())."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def parse_step(text: str) -> Step:
    """A step line's JSON text -> :class:`Step`; ValueError says which field is wrong."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("proxylab") != "step":
        raise ValueError("not a proxylab step object")
    step, outcome = data.get("step"), data.get("outcome")
    if not isinstance(step, str) or not step:
        raise ValueError("step line without a step name")
    if outcome not in set(Outcome):
        raise ValueError(f"step outcome {outcome!r} is not one of "
                         f"{', '.join(o.value for o in Outcome)}")
    status = data.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                               or not 0 <= status <= 999):
        raise ValueError(f"step status {status!r} is not an HTTP status (0-999)")
    elapsed = data.get("elapsed_ms")
    if elapsed is not None and (isinstance(elapsed, bool) or not isinstance(elapsed, (int, float))
                                or not _finite(elapsed)):
        raise ValueError(f"step elapsed_ms {elapsed!r} is not a number")
    ended = data.get("t")
    if ended is not None and (isinstance(ended, bool) or not isinstance(ended, (int, float))
                              or not _finite(ended) or not 0 <= float(ended) < 1e11):
        raise ValueError(f"step t {ended!r} is not an epoch time in seconds")
    url, host, error = data.get("url"), data.get("host"), data.get("error")
    return Step(
        step=step, outcome=Outcome(outcome),
        target_url=url if isinstance(url, str) else None,
        host=host.lower() if isinstance(host, str) and host else None,
        status=status,
        detail=error if isinstance(error, str) else (None if error is None else str(error)),
        elapsed_ms=None if elapsed is None else float(elapsed),
        ended_at=None if ended is None else float(ended),
    )
