"""What a capture shows, in brief, and whether it matches a scenario's ``expect``.

This is the runner's quick look after each run (progress line, ``--json``
summary), read back from the files just written: the hosts the proxy saw, each
probe step's outcome, the path each service front saw requests arrive by. It
deliberately stays small and dependency-free; the full tables and the route
classification live in :mod:`proxylab.logs` and :mod:`proxylab.analysis`.
Lines it cannot read are counted, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxylab.scenarios.model import Expectation


@dataclass
class ProxyRequest:
    """One Squid native access-log line, the fields the summary needs."""

    host: str
    port: int | None
    method: str
    code: str  # e.g. TCP_TUNNEL/200
    hierarchy: str  # e.g. HIER_DIRECT/198.18.1.10


@dataclass
class Observed:
    """What one capture shows: proxy requests, probe steps, service hits."""

    status: str = ""
    error: str | None = None
    proxy: list[ProxyRequest] = field(default_factory=list)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: list[dict[str, Any]] = field(default_factory=list)
    unreadable: dict[str, int] = field(default_factory=dict)

    @property
    def proxy_hosts(self) -> list[str]:
        return sorted({p.host for p in self.proxy})

    def vias(self, service: str) -> list[str]:
        return sorted({str(h.get("via")) for h in self.services if h.get("service") == service})

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "proxy": [
                {
                    "host": p.host,
                    "port": p.port,
                    "method": p.method,
                    "code": p.code,
                    "hierarchy": p.hierarchy,
                }
                for p in self.proxy
            ],
            "steps": {k: v.get("outcome") for k, v in self.steps.items()},
            "services": {
                s: self.vias(s) for s in sorted({str(h.get("service")) for h in self.services})
            },
            "unreadable": dict(self.unreadable),
        }


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def parse_proxy_line(line: str) -> ProxyRequest | None:
    """Squid native format: ts elapsed client code/status bytes method url user hier type."""
    parts = line.split()
    if len(parts) < 9 or "/" not in parts[3]:
        return None
    target = parts[6]
    if "://" in target:
        authority = target.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]
    else:
        authority = target
    host, sep, port = authority.rpartition(":")
    if not sep or not port.isdigit():
        host, port = authority, ""
    host = host.strip("[]").lower()
    if not host:
        return None
    return ProxyRequest(
        host=host,
        port=int(port) if port else None,
        method=parts[5],
        code=parts[3],
        hierarchy=parts[8],
    )


def parse_step_line(line: str) -> dict[str, Any] | None:
    """The probe's JSON step line, wherever it sits in a CloudWatch-style line."""
    start = line.find('{"proxylab"')
    if start < 0:
        start = line.find("{")
    if start < 0 or '"proxylab"' not in line:
        return None
    try:
        obj = json.loads(line[start:])
    except ValueError:
        return None
    if isinstance(obj, dict) and obj.get("proxylab") == "step" and "step" in obj:
        return obj
    return None


def observe(run_dir: Path) -> Observed:
    """Read a capture's run.json and raw files into an :class:`Observed`."""
    obs = Observed()
    record_path = run_dir / "run.json"
    if record_path.exists():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            obs.status, obs.error = record.get("status", ""), record.get("error")
        except ValueError:
            obs.unreadable["run.json"] = 1
    bad = 0
    for line in _lines(run_dir / "proxy_access.log"):
        if not line.strip():
            continue
        req = parse_proxy_line(line)
        if req is None:
            bad += 1
        else:
            obs.proxy.append(req)
    if bad:
        obs.unreadable["proxy_access.log"] = bad
    for line in _lines(run_dir / "function.log"):
        if '"proxylab"' in line:
            step = parse_step_line(line)
            if step is None:
                obs.unreadable["function.log"] = obs.unreadable.get("function.log", 0) + 1
            else:
                obs.steps[str(step["step"])] = step
    bad = 0
    for line in _lines(run_dir / "services.log"):
        if not line.strip():
            continue
        try:
            hit = json.loads(line)
        except ValueError:
            hit = None
        if isinstance(hit, dict):
            obs.services.append(hit)
        else:
            bad += 1
    if bad:
        obs.unreadable["services.log"] = bad
    return obs


def _host_matches(expected: str, req: ProxyRequest) -> bool:
    expected = expected.lower()
    return expected == req.host or expected == f"{req.host}:{req.port}"


def observable_services(resources: dict[str, str]) -> set[str] | None:
    """The service fronts whose requests a lab logs, from its resources
    (``observed_services``, comma-separated; the AWS lab sees only execute-api's
    access logs). None: the lab logs every front (the local lab)."""
    if "observed_services" not in resources:
        return None
    return {s.strip() for s in str(resources["observed_services"]).split(",") if s.strip()}


def unobservable(expect: Expectation | None, observed: set[str] | None) -> list[str]:
    """The ``expect.services`` entries a lab cannot check (no log of that front)."""
    if expect is None or observed is None:
        return []
    return [f"service {s}" for s in expect.services if s not in observed]


def check(
    expect: Expectation | None, obs: Observed, observed_services: set[str] | None = None
) -> list[str]:
    """Every way the capture differs from the expectation (empty: as expected).

    ``expect`` must already be resolved against the lab's resources. Service
    expectations for fronts outside ``observed_services`` are not checked: on such
    a lab, no line means "not observed", not "no request"."""
    if expect is None:
        return []
    out: list[str] = []
    if expect.status is not None and obs.status != expect.status:
        out.append(f"status: expected {expect.status}, got {obs.status or 'nothing'}")
    if expect.crosses_proxy is not None:
        missing = [
            h for h in expect.crosses_proxy if not any(_host_matches(h, r) for r in obs.proxy)
        ]
        extra = sorted(
            {
                r.host
                for r in obs.proxy
                if not any(_host_matches(h, r) for h in expect.crosses_proxy)
            }
        )
        if missing:
            out.append(f"proxy: expected but not seen: {', '.join(missing)}")
        if extra:
            out.append(f"proxy: seen but not expected: {', '.join(extra)}")
    crossed = [h for h in expect.bypasses_proxy if any(_host_matches(h, r) for r in obs.proxy)]
    if crossed:
        out.append(f"proxy: should have bypassed it: {', '.join(crossed)}")
    for step, outcome in expect.steps.items():
        got = obs.steps.get(step, {}).get("outcome")
        if got != outcome:
            out.append(f"step {step}: expected {outcome}, got {got or 'no step line'}")
    for service, via in expect.services.items():
        if observed_services is not None and service not in observed_services:
            continue
        vias = obs.vias(service)
        if vias != [via]:
            out.append(
                f"service {service}: expected via {via}, got {', '.join(vias) or 'no request'}"
            )
    return out
