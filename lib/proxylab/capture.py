"""Captures: everything one run produced, on disk, before anything parses it.

Layout of ``data/runs/<run-id>/``::

    run.json          RunRecord below (scenario, lab description, timings, outcome)
    function.log      CloudWatch-style lines: START / prints / probe JSON / END / REPORT
    proxy_access.log  Squid native access-log lines of this run only
    dns.log           resolver query-log lines, each prefixed "<resolver>\\t"
                      (resolver = "lambda-vpc" | "proxy-vpc" | "public")
    services.log      one JSON object per request seen by a service front:
                      {ts, service, source_ip, local_ip, via, vpce_id, host,
                       method, path, status}  (via = internet | gateway-endpoint |
                       interface-endpoint)

Raw files are written once and never rewritten: :func:`write_capture` refuses to
touch an existing file, so a capture copied from a colleague stays as it came.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RAW_FILES = ("function.log", "proxy_access.log", "dns.log", "services.log")
RUN_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9][a-z0-9._-]*$")


def default_runs_dir() -> Path:
    return Path(os.environ.get("PROXYLAB_RUNS", "data/runs"))


def new_run_id(scenario_id: str, now: float | None = None) -> str:
    """Sortable by time, readable by scenario, unique by a short random suffix."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    slug = re.sub(r"[^a-z0-9._-]+", "-", scenario_id.lower()).strip("-") or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


@dataclass
class RunRecord:
    """run.json. ``status``: ``ok`` (function ran and returned), ``function-error``
    (it ran and Lambda reported an error), ``failed`` (the lab could not complete
    the run; ``error`` says why and the evidence gathered so far is kept)."""

    run_id: str
    scenario: dict[str, Any]
    lab: dict[str, Any]
    status: str
    started_at: float
    finished_at: float
    catalog: str = ""
    repeat_index: int = 0
    invocation: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    missing_evidence: list[str] = field(default_factory=list)
    schema: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_capture(
    run_dir: Path, record: RunRecord | None = None, files: dict[str, list[str]] | None = None
) -> Path:
    """Write raw files (each exactly once) and/or run.json.

    Raw files come first and run.json last, so a run.json on disk always means the
    raw evidence beside it is complete.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, lines in (files or {}).items():
        _write_once(
            run_dir / name, "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        )
    if record is not None:
        _write_once(
            run_dir / "run.json", json.dumps(record.to_dict(), indent=2, default=str) + "\n"
        )
    return run_dir


def _write_once(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as fh:  # "x": never overwrite evidence
        fh.write(text)
    os.chmod(path, 0o444)


@dataclass
class Capture:
    """A capture read back from disk (analysis side; needs neither lab nor root)."""

    path: Path
    record: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.record.get("run_id", self.path.name)

    def lines(self, name: str) -> list[str]:
        p = self.path / name
        if not p.exists():
            return []
        return p.read_text(encoding="utf-8", errors="replace").splitlines()


def read_capture(run_dir: Path) -> Capture:
    run_json = run_dir / "run.json"
    if not run_json.exists():
        raise FileNotFoundError(f"{run_dir} is not a capture (no run.json)")
    return Capture(path=run_dir, record=json.loads(run_json.read_text(encoding="utf-8")))


def find_captures(*paths: Path) -> list[Capture]:
    """Captures under the given run directories or their parents, oldest first."""
    found: list[Capture] = []
    for p in paths or (default_runs_dir(),):
        p = Path(p)
        if (p / "run.json").exists():
            found.append(read_capture(p))
        elif p.is_dir():
            found.extend(read_capture(d) for d in sorted(p.iterdir()) if (d / "run.json").exists())
    return sorted(found, key=lambda c: (c.record.get("started_at", 0), c.run_id))
