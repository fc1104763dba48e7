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

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from proxylab.errors import UserError
from proxylab.grammar.text import read_lines
from proxylab.labs.base import EndpointLayout, Invocation, LabDescription, Place, Service
from proxylab.scenarios.model import Expectation, Scenario, resolve_text
from proxylab.secrets import mask, mask_any, mask_policy_users
from proxylab.vocab import RunStatus, Runtime, SkipKind, parse_enum

RAW_FILES = ("function.log", "proxy_access.log", "dns.log", "services.log")
RUN_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z0-9][a-z0-9._-]*$")


def default_runs_dir() -> Path:
    return Path(os.environ.get("PROXYLAB_RUNS", "data/runs"))


def new_run_id(scenario_id: str, now: float | None = None) -> str:
    """Sortable by time, readable by scenario, unique by a short random suffix."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    slug = re.sub(r"[^a-z0-9._-]+", "-", scenario_id.lower()).strip("-") or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


SCHEMA = 1  # run.json format version; readers refuse a newer one (see read_capture)


class CaptureError(ValueError):
    """A capture on disk cannot be read as one (unreadable, garbled or of a newer
    format): the message names the capture and what is wrong with it; ``kind`` and
    ``detail`` say the same as data, for words in another language."""

    def __init__(self, message: str, kind: SkipKind = SkipKind.INVALID,
                 detail: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.detail = kind, message if detail is None else detail


class Skipped(str):
    """A skipped capture's reason: the English sentence the loader warns with (a plain
    ``str`` wherever text is wanted), carrying the capture's directory name, the
    :class:`SkipKind` and the detail, so a report says it in its own language."""

    capture: str
    kind: SkipKind
    detail: str

    def __new__(cls, text: str, capture: Path, kind: SkipKind, detail: str) -> Skipped:
        obj = super().__new__(cls, text)
        obj.capture, obj.kind, obj.detail = Path(capture).name, kind, detail
        return obj


def _known(cls: type, data: Any) -> dict[str, Any]:
    """The keys of ``data`` that ``cls`` (a dataclass) has, so a capture written by a
    newer proxylab with an extra key still reads; unknown keys are dropped."""
    if not isinstance(data, dict):
        return {}
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def lab_from_dict(data: Any) -> LabDescription:
    """A capture's ``lab`` block as a :class:`LabDescription` (tolerant of extra keys)."""
    d = _known(LabDescription, data)
    d["places"] = [Place(**_known(Place, p)) for p in d.get("places") or []]
    d["services"] = [Service(**_known(Service, x)) for x in d.get("services") or []]
    d["endpoints"] = EndpointLayout.from_dict(_known(EndpointLayout, d.get("endpoints")))
    d["resources"] = {str(k): str(v) for k, v in (d.get("resources") or {}).items()}
    d["plumbing_env"] = {str(k): str(v) for k, v in (d.get("plumbing_env") or {}).items()}
    d.setdefault("backend", "")
    d.setdefault("name", "")
    d.setdefault("region", d["resources"].get("region", ""))
    d.setdefault("up", False)
    return LabDescription(**d)


def _env(data: Any) -> MappingProxyType[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in (data or {}).items()})


@dataclass(frozen=True)
class ScenarioRecord:
    """The scenario as it ran: ``env`` holds the values the function got (references
    resolved), ``env_template`` the values as written in the catalogue."""

    id: str
    title: str = ""
    function: str = ""
    description: str = ""
    endpoints: EndpointLayout = field(default_factory=EndpointLayout)
    env: Mapping[str, str] = field(default_factory=lambda: _env({}))
    env_template: Mapping[str, str] = field(default_factory=lambda: _env({}))
    event: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 30.0
    code: str | None = None
    handler: str | None = None
    expect: Expectation | None = None
    source: str = ""
    # A vocab.Runtime value; kept as the string written, so a runtime this version does
    # not know still reads back (parse_enum it). Captures older than the field: Python.
    runtime: str = Runtime.PYTHON3
    # The region the scenario asked for (None: the lab's; the lab's own is lab.region).
    region: str | None = None

    @classmethod
    def from_scenario(cls, scenario: Scenario, env: Mapping[str, str],
                      event: dict[str, Any] | None = None) -> ScenarioRecord:
        """``event``: what the function got, when it differs from the scenario's own
        (the probe's declared steps, resolved: the record of what ran)."""
        return cls(id=scenario.id, title=scenario.title, function=scenario.function,
                   description=scenario.description, endpoints=scenario.endpoints,
                   env=_env(env), env_template=_env(scenario.env),
                   event=dict(scenario.event if event is None else event),
                   timeout_s=scenario.timeout_s, code=scenario.code, handler=scenario.handler,
                   expect=scenario.expect, source=scenario.source,
                   runtime=str(scenario.runtime), region=scenario.region)

    @classmethod
    def from_dict(cls, data: Any, resources: Mapping[str, str]) -> ScenarioRecord:
        d = _known(cls, data)
        d["id"] = str(d.get("id", ""))
        d["endpoints"] = EndpointLayout.from_dict(_known(EndpointLayout, d.get("endpoints")))
        if "env_template" in d:
            d["env"], d["env_template"] = _env(d.get("env")), _env(d["env_template"])
        else:  # written before env_template existed: env holds ${...} references
            template = _env(d.get("env"))
            d["env"], d["env_template"] = _env(_resolve_all(template, resources)), template
        d["expect"] = Expectation.from_dict(d["expect"]) if d.get("expect") else None
        d["event"] = dict(d.get("event") or {})
        d["runtime"] = str(d.get("runtime") or Runtime.PYTHON3)
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description,
                "function": self.function, "endpoints": self.endpoints.to_dict(),
                "event": self.event, "timeout_s": self.timeout_s, "code": self.code,
                "handler": self.handler, "runtime": str(self.runtime), "region": self.region,
                "expect": None if self.expect is None else self.expect.to_dict(),
                "source": self.source, "env_template": dict(self.env_template),
                "env": dict(self.env)}


def _resolve_all(env: Mapping[str, str], resources: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for k, v in env.items():
        try:
            out[k] = resolve_text(v, dict(resources))
        except KeyError:
            out[k] = v
    return out


@dataclass(frozen=True)
class RunRecord:
    """run.json, typed. ``status``: ``ok`` (function ran and returned),
    ``function-error`` (it ran and Lambda reported an error), ``failed`` (the lab
    could not complete the run; ``error`` says why and the evidence gathered so far
    is kept). ``invocation`` is None when the function was never invoked.
    ``lab_note`` says when the lab block is the last good description rather than
    the one the run used."""

    run_id: str
    scenario: ScenarioRecord
    lab: LabDescription
    status: RunStatus
    started_at: float
    finished_at: float
    catalog: str = ""
    repeat_index: int = 0
    invocation: Invocation | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    missing_evidence: tuple[str, ...] = ()
    schema: int = SCHEMA
    lab_note: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> Mapping[str, str]:
        """The variables the function got from the scenario."""
        return self.scenario.env

    @property
    def resources(self) -> Mapping[str, str]:
        return self.lab.resources

    @property
    def layout(self) -> EndpointLayout:
        """The endpoint layout the run asked for."""
        return self.scenario.endpoints

    @property
    def backend(self) -> str:
        return self.lab.backend or "local"

    def evidence_gaps(self, file: str) -> tuple[str, ...]:
        """The ``missing_evidence`` notes saying ``file`` is absent or partial.

        Labs write these notes as ``"<file>: why"``; the runner writes
        ``"evidence: not collected"`` when nothing beyond function.log exists.
        With such a note, a line missing from ``file`` is absence of evidence, not
        evidence of absence."""
        collected = file != "function.log"  # function.log comes from invoke, not collect
        return tuple(m for m in self.missing_evidence
                     if m == file or m.startswith((f"{file}:", f"{file} ("))
                     or (collected and m.startswith("evidence:")))

    @property
    def observed_services(self) -> frozenset[str] | None:
        """The service fronts whose requests the lab logs in services.log; None: every
        front (the local lab). A lab that logs only some declares them in its
        ``observed_services`` resource (the AWS lab: API Gateway's access logs only;
        S3 and the web site have none). AWS captures older than that resource logged
        execute-api only."""
        if "observed_services" in self.resources:
            names = str(self.resources["observed_services"]).split(",")
            return frozenset(s.strip() for s in names if s.strip())
        if self.backend == "aws":
            return frozenset({"execute-api"})
        return None

    def logs_front(self, service: str) -> bool:
        """Whether this run can hold a services.log line for ``service`` at all: the
        one rule for "no front line means no request" (the expectation checker and the
        route classification both ask it). False when the lab keeps no log of that
        front or the capture notes services.log as missing or partial."""
        if self.evidence_gaps("services.log"):
            return False
        observed = self.observed_services
        return observed is None or service in observed

    def to_dict(self) -> dict[str, Any]:
        lab = self.lab.to_dict()
        if self.lab_note:
            lab["note"] = self.lab_note
        inv: dict[str, Any] = {}
        if self.invocation is not None:
            inv = asdict(self.invocation)
            inv.pop("function_log", None)
        return {"run_id": self.run_id, "scenario": self.scenario.to_dict(), "lab": lab,
                "status": str(self.status), "started_at": self.started_at,
                "finished_at": self.finished_at, "catalog": self.catalog,
                "repeat_index": self.repeat_index, "invocation": inv,
                "timings": dict(self.timings), "error": self.error,
                "missing_evidence": list(self.missing_evidence), "schema": self.schema,
                "checksums": dict(self.checksums)}

    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        """Read run.json's content back as types; CaptureError says what is wrong."""
        if not isinstance(data, dict):
            raise CaptureError("run.json does not hold a JSON object")
        schema = data.get("schema", 1)
        if not isinstance(schema, int) or schema > SCHEMA:
            raise CaptureError(f"run.json has format version {schema!r}; this proxylab reads "
                               f"up to {SCHEMA} (upgrade proxylab to read it)",
                               SkipKind.NEWER_FORMAT, repr(schema))
        try:
            lab = lab_from_dict(data.get("lab"))
            status = parse_enum(RunStatus, data.get("status"))
            if status is None:
                raise CaptureError(f"status {data.get('status')!r} is not one of "
                                   f"{', '.join(RunStatus)}")
            inv_data = data.get("invocation") or {}
            inv = Invocation(**_known(Invocation, inv_data)) if inv_data else None
            started, finished = (_epoch(data, "started_at"), _epoch(data, "finished_at"))
            return cls(
                run_id=str(data["run_id"]),
                scenario=ScenarioRecord.from_dict(data.get("scenario"), lab.resources),
                lab=lab, status=status, started_at=started, finished_at=finished,
                catalog=str(data.get("catalog") or ""),
                repeat_index=int(data.get("repeat_index") or 0), invocation=inv,
                timings={str(k): float(v) for k, v in (data.get("timings") or {}).items()},
                error=None if data.get("error") is None else str(data["error"]),
                missing_evidence=tuple(str(m) for m in data.get("missing_evidence") or ()),
                schema=schema,
                lab_note=(data.get("lab") or {}).get("note"),
                checksums={str(k): str(v) for k, v in (data.get("checksums") or {}).items()},
            )
        except CaptureError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            # AttributeError: a block of the wrong JSON type (a list where an object
            # belongs); OverflowError: a number too large for a float or an int field.
            raise CaptureError(f"run.json: {type(exc).__name__}: {exc}") from None


# Epoch seconds a capture may hold: 1970 to 2261 (pandas' datetime64[ns] range).
MAX_EPOCH = 9.2e9


def _epoch(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 <= float(value) < MAX_EPOCH):
        raise CaptureError(f"{key} {value!r} is not a time in epoch seconds (1970-2261)")
    return float(value)


def write_capture(
    run_dir: Path, record: RunRecord | None = None, files: dict[str, list[str]] | None = None
) -> Path:
    """Write raw files (each exactly once) and/or run.json.

    Every password in a URL is masked on the way (:mod:`proxylab.secrets`), so no
    capture, and nothing built from one, holds a credential.
    Raw files come first and run.json last, so a run.json on disk always means the
    raw evidence beside it is complete.

    A write that fails (a full disk) removes what it half wrote, leaves an
    ``INCOMPLETE`` marker naming the error where it can, and raises
    :class:`CaptureWriteError`: never a truncated or 0-byte file that looks like
    evidence.
    """
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        for name, lines in (files or {}).items():
            _write_once(run_dir / name, "".join(
                mask(line) if line.endswith("\n") else mask(line) + "\n" for line in lines))
        if record is not None:
            data = mask_any(record.to_dict())
            data["lab"]["endpoints"] = mask_policy_users(data["lab"].get("endpoints"))
            data["scenario"]["endpoints"] = mask_policy_users(data["scenario"].get("endpoints"))
            _write_once(run_dir / "run.json", json.dumps(data, indent=2, default=str) + "\n")
    except FileExistsError:
        raise  # evidence is never overwritten: a caller's bug, not a disk problem
    except OSError as exc:
        with contextlib.suppress(OSError):
            (run_dir / INCOMPLETE).write_text(f"{exc}\n")
        raise CaptureWriteError(f"could not write the capture {run_dir}: {exc.strerror or exc}. "
                                "The batch stops here; free space (or fix the directory) "
                                "and run again") from exc
    return run_dir


INCOMPLETE = "INCOMPLETE"  # marker: the capture's writing failed (its content: the error)


class CaptureWriteError(UserError):
    """Writing a capture failed; the message says which and what to do."""


def _write_once(path: Path, text: str) -> None:
    try:
        with open(path, "x", encoding="utf-8") as fh:  # "x": never overwrite evidence
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())  # a full disk shows up here, not after run.json
    except FileExistsError:
        raise
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.chmod(path, 0o444)


def checksums(run_dir: Path, names: Iterable[str]) -> dict[str, str]:
    """sha256 of each raw file, recorded in run.json so a reader can tell evidence that
    was changed after the capture (:meth:`Capture.modified`)."""
    return {n: hashlib.sha256((run_dir / n).read_bytes()).hexdigest() for n in names
            if (run_dir / n).exists()}


@dataclass
class Capture:
    """A capture read back from disk (analysis side; needs neither lab nor root)."""

    path: Path
    record: RunRecord

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def modified(self) -> list[str]:
        """Raw files whose content no longer matches the checksum run.json recorded
        (missing files included); empty for captures written before checksums."""
        now = checksums(self.path, self.record.checksums)
        return sorted(n for n, digest in self.record.checksums.items() if now.get(n) != digest)

    def lines(self, name: str) -> list[str]:
        """A raw file's lines; a line ends at "\n" only (see :mod:`proxylab.grammar.text`)."""
        return read_lines(self.path / name)


def read_capture(run_dir: Path) -> Capture:
    """One capture; :class:`CaptureError` when its run.json is missing or unreadable."""
    run_json = Path(run_dir) / "run.json"
    if not run_json.exists():
        raise CaptureError(f"{run_dir} is not a capture (no run.json)", SkipKind.NO_RUN_JSON, "")
    try:
        data = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CaptureError(f"{run_dir}: run.json is not readable JSON ({exc})",
                           SkipKind.UNREADABLE_JSON, str(exc)) from None
    try:
        return Capture(path=Path(run_dir), record=RunRecord.from_dict(data))
    except CaptureError as exc:
        raise CaptureError(f"{run_dir}: {exc}", exc.kind, exc.detail) from None


def find_captures(*paths: Path, skipped: list[str] | None = None) -> list[Capture]:
    """Captures under the given run directories or their parents, oldest first.

    A capture that cannot be read is skipped with a warning naming it (and, when
    ``skipped`` is given, its reason appended there), so one bad capture never hides
    fifty good ones."""
    found: list[Capture] = []
    dirs: list[Path] = []
    for p in paths or (default_runs_dir(),):
        p = Path(p)
        if (p / "run.json").exists():
            dirs.append(p)
        elif p.is_dir():
            dirs.extend(d for d in sorted(p.iterdir()) if (d / "run.json").exists())
    for p in paths or (default_runs_dir(),):
        p = Path(p)
        tops = [p] if RUN_ID_RE.match(p.name) else (sorted(p.iterdir()) if p.is_dir() else [])
        for d in tops:
            if d.is_dir() and RUN_ID_RE.match(d.name) and not (d / "run.json").exists():
                why = (d / INCOMPLETE).read_text(errors="replace").strip() if (
                    d / INCOMPLETE).exists() else "the run was interrupted or is still running"
                msg = f"{d}: incomplete capture, no run.json ({why})"
                warnings.warn(f"skipping capture: {msg}", stacklevel=2)
                if skipped is not None:
                    marked = (d / INCOMPLETE).exists()
                    skipped.append(Skipped(msg, d, SkipKind.INCOMPLETE if marked
                                           else SkipKind.INTERRUPTED, why if marked else ""))
    for d in dirs:
        try:
            found.append(read_capture(d))
        except CaptureError as exc:
            warnings.warn(f"skipping capture: {exc}", stacklevel=2)
            if skipped is not None:
                skipped.append(Skipped(str(exc), d, exc.kind, exc.detail))
    return sorted(found, key=lambda c: (c.record.started_at, c.run_id))
