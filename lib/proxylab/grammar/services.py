"""The services-log record: one JSON object per request a service front answered.

Written by the local lab's fronts (``labs/local/fronts.py``), built from API Gateway
access logs by the AWS lab (``labs/aws/logs.py``), read into ``service_hits`` by
:mod:`proxylab.logs.services`: all three go through :class:`ServiceRecord`
(:meth:`ServiceRecord.to_json` / :meth:`ServiceRecord.from_json`)::

    {"ts":1748149505.9,"service":"s3","source_ip":"10.1.143.211","local_ip":"198.18.16.10",
     "via":"gateway-endpoint","vpce_id":"vpce-...","host":"bucket.s3...amazonaws.com",
     "method":"GET","path":"/input/data.csv","status":200}                    (one line)

``via`` is how the request arrived (:class:`proxylab.vocab.Via`): the lab decides it
from the addresses, so it is the ground truth the route classification leans on.
``host``/``method`` may be null (API Gateway access logs can lack them). Records the
AWS lab builds also carry ``request_id``, ``api_id`` and ``evidence``; the local lab's
AWS fronts add ``operation`` (from ``X-Amz-Target``, ``Action`` or the REST path,
:mod:`proxylab.awsdata.operations`) when the request names one.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from proxylab.grammar.hostport import host_of
from proxylab.grammar.squid import MAX_EPOCH
from proxylab.vocab import Via

_REQUIRED = ("ts", "service", "via", "status")
_EXTRA = ("request_id", "api_id", "evidence", "operation")


@dataclass(frozen=True)
class ServiceRecord:
    ts: float
    service: str
    via: Via
    status: int
    source_ip: str | None = None
    local_ip: str | None = None
    vpce_id: str | None = None
    host: str | None = None
    method: str | None = None
    path: str | None = None
    request_id: str | None = None
    api_id: str | None = None
    evidence: str | None = None
    operation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the ten fields always, the AWS extras when set."""
        d = asdict(self)
        d["via"] = self.via.value
        order = ("ts", "service", "source_ip", "local_ip", "via", "vpce_id", "host", "method",
                 "path", "status")
        out = {k: d[k] for k in order}
        out.update({k: d[k] for k in _EXTRA if d[k] is not None})
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ServiceRecord:
        """One JSON line -> a record; ValueError names the field that is wrong."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceRecord:
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
        via = data["via"]
        if via not in set(Via):
            raise ValueError(f"via {via!r} is not one of {', '.join(v.value for v in Via)}")
        status = data["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 999:
            raise ValueError(f"status {status!r} is not an HTTP status (0-999)")
        if not isinstance(data["service"], str) or not data["service"]:
            raise ValueError(f"service {data['service']!r} is not a name")
        for key in ("host", "method", "source_ip", "local_ip", "vpce_id", "path", *_EXTRA):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"{key} {data[key]!r} is not a string")
        host = data.get("host")
        return cls(
            ts=_epoch(data["ts"]), service=data["service"], via=Via(via), status=status,
            source_ip=data.get("source_ip"), local_ip=data.get("local_ip"),
            vpce_id=data.get("vpce_id"),
            host=host_of(host) if isinstance(host, str) and host else host,
            method=data.get("method"), path=data.get("path"),
            **{k: data.get(k) for k in _EXTRA},
        )


def _epoch(ts: Any) -> float:
    """Epoch seconds, or an ISO 8601 time (naive = UTC), between 1970 and 2261."""
    if isinstance(ts, bool) or not isinstance(ts, (int, float, str)):
        raise ValueError(f"ts {ts!r} is neither epoch seconds nor ISO time")
    if isinstance(ts, str):
        if not ts.strip():
            raise ValueError("ts is empty")
        try:
            dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"ts {ts!r} is not an ISO time") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        value = dt.timestamp()
    else:
        value = float(ts)
    if not (math.isfinite(value) and 0 <= value < MAX_EPOCH):
        raise ValueError(f"ts {ts!r} is not a time between 1970 and 2261")
    return value
