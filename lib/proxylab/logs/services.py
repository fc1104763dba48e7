"""Service-front access logs: one JSON object per request a front answered.

``{"ts": 1748149505.9, "service": "s3", "source_ip": "10.1.143.211",
"local_ip": "198.18.16.10", "via": "gateway-endpoint", "vpce_id": "vpce-...",
"host": "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com", "method": "GET",
"path": "/input/data.csv", "status": 200}``

``via`` is how the request arrived (``internet`` / ``gateway-endpoint`` /
``interface-endpoint``): the lab decides it from the address the request came to
and from, so it is the ground truth the route classification leans on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from proxylab.logs.base import MAX_EPOCH, Malformed, ParseResult, to_utc, typed

VIAS = ("internet", "gateway-endpoint", "interface-endpoint")
DTYPES: dict[str, str] = {
    "run_id": "category",
    "service": "category",
    "ts": "ts",
    "source_ip": "string",
    "local_ip": "string",
    "via": "category",
    "vpce_id": "string",
    "host": "string",
    "method": "category",
    "path": "string",
    "status": "Int64",
    "raw_line_no": "Int64",
}
# host/method may be null: API Gateway access logs (AWS captures) can lack them.
_REQUIRED = ("ts", "service", "via", "status")


def parse_record(text: str) -> dict[str, Any]:
    """One JSON line -> a row; ValueError names the field that is wrong."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    ts = data["ts"]
    if isinstance(ts, bool) or not isinstance(ts, (int, float, str)):
        raise ValueError(f"ts {ts!r} is neither epoch seconds nor ISO time")
    if isinstance(ts, (int, float)) and not (math.isfinite(ts) and 0 <= ts < MAX_EPOCH):
        raise ValueError(f"ts {ts!r} is not a time between 1970 and 2261")
    if isinstance(ts, str):
        try:
            ts = pd.Timestamp(ts).tz_localize("UTC") if pd.Timestamp(ts).tzinfo is None \
                else pd.Timestamp(ts).tz_convert("UTC")
        except (ValueError, TypeError):
            raise ValueError(f"ts {data['ts']!r} is not an ISO time") from None
        if ts is pd.NaT:
            raise ValueError("ts is empty")
        ts = ts.timestamp()
        if not 0 <= ts < MAX_EPOCH:
            raise ValueError(f"ts {data['ts']!r} is not a time between 1970 and 2261")
    if data["via"] not in VIAS:
        raise ValueError(f"via {data['via']!r} is not one of {', '.join(VIAS)}")
    status = data["status"]
    if isinstance(status, bool) or not isinstance(status, int):
        raise ValueError(f"status {status!r} is not an integer")
    if not isinstance(data["service"], str) or not data["service"]:
        raise ValueError(f"service {data['service']!r} is not a name")
    for key in ("host", "method"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"{key} {data[key]!r} is not a string")
    out = {k: data.get(k) for k in DTYPES if k not in ("run_id", "raw_line_no")}
    for key in ("source_ip", "local_ip", "vpce_id", "path"):
        if out[key] is not None and not isinstance(out[key], str):
            raise ValueError(f"{key} {out[key]!r} is not a string")
    out["ts"] = float(ts)
    host = data.get("host")
    if isinstance(host, str):
        out["host"] = host.lower() if host.startswith("[") else host.lower().split(":")[0]
    return out


def parse_lines(lines: Iterable[str], run_id: str = "") -> ParseResult:
    """Parse ``services.log`` into ``service_hits``."""
    rows: list[dict[str, Any]] = []
    malformed: list[Malformed] = []
    n = skipped = 0
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            skipped += 1
            continue
        try:
            row = parse_record(line)
        except (ValueError, TypeError, OverflowError) as exc:
            malformed.append(Malformed(n, line, str(exc)))
            continue
        row["raw_line_no"] = n
        rows.append(row)
    df = pd.DataFrame(rows, columns=[c for c in DTYPES if c != "run_id"])
    df["ts"] = to_utc(pd.Series([r["ts"] for r in rows], dtype="float64"))
    df["run_id"] = run_id
    return ParseResult(typed(df, DTYPES), malformed, lines=n, skipped=skipped,
                       source="services.log")
