"""Run scenarios on a lab and write one capture per run.

The runner talks to labs only through the :class:`~proxylab.labs.base.Lab`
protocol, so the local lab and AWS go through the same steps:

    resolve env -> lab.apply(endpoints) -> mark -> invoke -> collect -> write capture

Everything that can be checked without a lab (the catalogue, the scenario ids,
the ``${...}`` references) is checked before any lab starts. A lab failure in
the middle of a run does not stop the batch: that run is recorded as ``failed``
with whatever evidence exists, and the next one starts. Raw files are written
before run.json and never rewritten (:func:`proxylab.capture.write_capture`).
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from proxylab.analysis.expectations import check_run, describe, observed_run
from proxylab.capture import (
    RunRecord,
    ScenarioRecord,
    checksums,
    default_runs_dir,
    new_run_id,
    write_capture,
)
from proxylab.errors import UserError
from proxylab.labs.base import Evidence, Invocation, Lab, LabDescription
from proxylab.labs.lock import lab_lock
from proxylab.logs.tables import load_tables
from proxylab.scenarios.loader import load_catalog
from proxylab.scenarios.model import Catalog, Problem, Scenario, ScenarioError
from proxylab.vocab import InvocationStatus, RunStatus, Verdict, parse_enum


@dataclass
class RunSummary:
    """One run in brief: what the progress line and ``--json`` show."""

    run_id: str
    path: str
    catalog: str
    scenario: str
    repeat_index: int
    status: RunStatus
    error: str | None
    duration_s: float
    proxy_hosts: list[str] = field(default_factory=list)
    steps: dict[str, str | None] = field(default_factory=dict)
    services: dict[str, list[str]] = field(default_factory=dict)
    expected: bool | None = None  # None: the scenario states no expectation
    mismatches: list[str] = field(default_factory=list)  # describe() of each FAILED item
    unchecked: list[str] = field(default_factory=list)  # label of each UNCHECKED item

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Progress:
    """One line per run on stderr (rich), or nothing."""

    def __init__(self, enabled: bool):
        self.console = None
        if enabled:
            from rich.console import Console

            self.console = Console(stderr=True, highlight=False)

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False)

    def status(self, text: str):  # context manager: a spinner while a run goes on
        import contextlib

        if self.console is None or not self.console.is_terminal:
            return contextlib.nullcontext()
        return self.console.status(text)

    def run(self, index: int, total: int, s: RunSummary) -> None:
        if self.console is None:
            return
        from rich.text import Text

        colour = {RunStatus.OK: "green", RunStatus.FUNCTION_ERROR: "yellow",
                  RunStatus.FAILED: "red"}.get(s.status, "")
        line = Text(f"[{index}/{total}] ")
        line.append(s.scenario, style="bold")
        if s.repeat_index:
            line.append(f" #{s.repeat_index + 1}")
        line.append(f"  {s.status}", style=colour)
        line.append(f"  {s.duration_s:.1f}s")
        if s.steps:
            line.append("  steps: " + " ".join(f"{k}={v}" for k, v in s.steps.items()))
        line.append("  proxy: " + (", ".join(s.proxy_hosts) or "-"))
        if s.status == RunStatus.FAILED:
            line.append(f"\n    {s.error}", style="red")
        elif s.expected is True:
            line.append("  as expected", style="green")
        elif s.expected is False:
            line.append("  NOT as expected:", style="red")
            for m in s.mismatches:
                line.append(f"\n    - {m}", style="red")
        if s.expected is not None and s.unchecked:
            line.append(f"\n    not checked here: {', '.join(s.unchecked)}", style="dim")
        line.append(f"\n    {s.path}", style="dim")
        self.console.print(line)


def _select(catalog: Catalog, scenario_ids: list[str] | tuple[str, ...] | None) -> list[Scenario]:
    return catalog.select(list(scenario_ids) if scenario_ids else None)


def plan(
    catalog: str | Path | Catalog, scenario_ids: list[str] | tuple[str, ...] | None = None
) -> tuple[Catalog, list[Scenario]]:
    """Load and check everything that needs no lab; raises :class:`ScenarioError`."""
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    return cat, _select(cat, scenario_ids)


def run_catalog(
    catalog: str | Path | Catalog,
    scenario_ids: list[str] | tuple[str, ...] | None = None,
    repeat: int = 1,
    backend: str = "local",
    lab_options: dict[str, Any] | None = None,
    keep_lab: bool = False,
    runs_dir: str | Path | None = None,
    progress: bool = True,
    *,
    lab: Lab | None = None,
    on_run: Callable[[RunSummary], None] | None = None,
    wait: bool = False,
) -> list[Path]:
    """Run the catalogue's scenarios (``repeat`` times each) and return the capture
    directories, in run order.

    ``catalog``: ``"seed"``, ``"examples"`` or a YAML path. ``lab`` overrides
    ``backend``/``lab_options`` with a lab object you already have. The lab is
    brought up if it is down, and brought down afterwards unless ``keep_lab``
    (a lab that was already up is left up). ``on_run`` receives each run's
    :class:`RunSummary` as soon as its capture is written. The lab is locked for
    the batch (:mod:`proxylab.labs.lock`): a second batch on it refuses, or with
    ``wait`` queues behind this one.
    """
    if repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {repeat}")
    cat, scenarios = plan(catalog, scenario_ids)
    runs_root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    show = _Progress(progress)

    groups = region_groups(scenarios, backend, lab_options or {}, lab)
    desc = groups[0][0].describe()
    # References the lab cannot resolve are reported before it starts.
    problems = []
    for s in scenarios:
        try:
            s.resolve_env(desc.resources)
            s.invocation_event(desc.resources)
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)

    first = groups[0][0]
    paths: list[Path] = []
    with lab_lock(first.backend, first.name, wait=wait, say=show.say):
        for group_lab, group in groups:
            desc = group_lab.describe()  # another batch may have changed it while we waited
            paths += _run_batch(group_lab, cat, group, desc, repeat, runs_root, show, keep_lab,
                                on_run)
    return paths


def region_groups(scenarios: list[Scenario], backend: str, lab_options: dict[str, Any],
                  lab: Lab | None) -> list[tuple[Lab, list[Scenario]]]:
    """The lab each run of scenarios needs, in run order: a scenario's ``region:`` is
    honoured (the lab is built for it, as ``--region`` does) or refused before anything
    runs, never ignored. Refused: a region other than ``--region``'s or than the region of
    a lab object the caller handed in; a region the backend cannot model (its error)."""
    asked = lab_options.get("region")
    have = asked if lab is None else lab.describe().region
    problems = []
    for s in scenarios:
        if s.region is not None and have is not None and s.region != have:
            problems.append(Problem(
                file=s.source, line=s.line, scenario=s.id, field="region",
                message=f"the scenario runs in {s.region}, but the lab is "
                        f"{'asked for' if lab is None else 'built for'} {have}: drop "
                        "--region, or run the scenario where its region is"))
    if problems:
        raise ScenarioError(problems)
    if lab is not None:
        return [(lab, list(scenarios))]
    from proxylab.labs.registry import get_lab

    groups: list[tuple[Lab, list[Scenario]]] = []
    built: dict[str | None, Lab] = {}
    for s in scenarios:
        key = s.region or asked
        if key not in built:
            options = {**lab_options, **({"region": key} if key else {})}
            built[key] = get_lab(backend, **options)  # refuses a region it cannot model
        if groups and groups[-1][0] is built[key]:
            groups[-1][1].append(s)
        else:
            groups.append((built[key], [s]))
    return groups


def _run_batch(lab: Lab, cat: Catalog, scenarios: list[Scenario], desc: LabDescription,
               repeat: int, runs_root: Path, show: _Progress, keep_lab: bool,
               on_run: Callable[[RunSummary], None] | None) -> list[Path]:
    started_here = False
    paths: list[Path] = []
    total = len(scenarios) * repeat
    try:
        if not desc.up:
            started_here = True
            show.say(f"bringing lab {lab.name!r} ({lab.backend}) up ...")
            t0 = time.monotonic()
            with show.status("lab up"):
                desc = lab.up(scenarios[0].endpoints, progress=show.say)
            show.say(f"lab up in {time.monotonic() - t0:.1f}s")
        index = 0
        for scenario in scenarios:
            for r in range(repeat):
                index += 1
                with show.status(f"[{index}/{total}] {scenario.id}"):
                    path = run_one(lab, cat, scenario, desc, r, runs_root)
                paths.append(path)
                summary = summarize(path, cat.id, scenario, r)
                show.run(index, total, summary)
                if on_run is not None:
                    on_run(summary)
    except BaseException:
        if started_here and not keep_lab:
            _down(lab, show, quiet_errors=True)  # never hide the error that stopped us
        raise
    if started_here and not keep_lab:
        _down(lab, show, quiet_errors=False)
    return paths


def _down(lab: Lab, show: _Progress, quiet_errors: bool) -> None:
    show.say(f"bringing lab {lab.name!r} down ...")
    try:
        left = lab.down()
    except Exception as exc:
        if not quiet_errors:
            raise
        show.say(f"lab down failed too: {exc}")
        return
    if left:
        show.say("left behind: " + ", ".join(left))


def run_one(
    lab: Lab,
    catalog: Catalog,
    scenario: Scenario,
    desc: LabDescription,
    repeat_index: int,
    runs_root: Path,
) -> Path:
    """Run one scenario once and write its capture. Never raises for a lab
    failure: that is recorded as a ``failed`` run (Ctrl-C is recorded, then raised)."""
    run_id = new_run_id(scenario.id)
    run_dir = runs_root / run_id
    while run_dir.exists():  # same second, same random suffix: pick another id
        run_id = new_run_id(scenario.id)
        run_dir = runs_root / run_id
    timings: dict[str, float] = {}
    started = time.time()
    inv: Invocation | None = None
    evidence: Evidence | None = None
    mark = None
    error: str | None = None
    interrupted: BaseException | None = None
    env = scenario.resolve_env(desc.resources)
    event = scenario.invocation_event(desc.resources)
    stage = "apply"

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.monotonic()
        try:
            return fn()
        finally:
            timings[f"{name}_s"] = round(time.monotonic() - t0, 4)

    try:
        timed("apply", lambda: lab.apply(scenario.endpoints))
        stage = "describe"
        desc = timed("describe", lab.describe)
        stage = "mark"
        mark = timed("mark", lab.mark)
        stage = "invoke"
        code = scenario.function_code()
        extra = {"code": code} if code is not None else {}
        inv = timed(
            "invoke",
            lambda: lab.invoke(scenario.function, env, event, scenario.timeout_s, **extra),
        )
        stage = "collect"
        evidence = timed("collect", lambda: lab.collect(mark, inv))
    except KeyboardInterrupt as exc:
        error, interrupted = f"interrupted during {stage}", exc
    except Exception as exc:  # noqa: BLE001 - any lab failure becomes a failed run
        error = f"{stage}: {type(exc).__name__}: {exc}"
        if not isinstance(exc, UserError):
            error += _where(exc)
    if evidence is None and mark is not None and interrupted is None:
        # The run broke after the mark: keep whatever the lab's logs show.
        placeholder = inv or Invocation(status=InvocationStatus.LAB_ERROR, request_id="",
                                        started_at=started)
        try:
            evidence = timed("collect", lambda: lab.collect(mark, placeholder))
        except Exception as exc:  # noqa: BLE001
            error = f"{error}; collecting evidence also failed: {type(exc).__name__}: {exc}"

    inv_status = parse_enum(InvocationStatus, inv.status) if inv is not None else None
    status = RunStatus.FAILED if error or inv_status is None else inv_status.run_status
    if inv_status is InvocationStatus.LAB_ERROR and not error:
        error = _invocation_error(inv) or "the lab could not run the function"

    t0 = time.monotonic()
    files: dict[str, list[str]] = {}
    missing: list[str] = []
    if inv is not None:
        files["function.log"] = list(inv.function_log)
    else:
        missing.append("function.log: the function was not invoked")
    if evidence is not None:
        for name, lines in evidence.files.items():
            if name in files or name == "run.json" or "/" in name or name.startswith("."):
                missing.append(f"{name}: not a capture file name, ignored")
                continue
            files[name] = list(lines)
        missing.extend(evidence.missing)
    else:
        missing.append("evidence: not collected")
    write_capture(run_dir, files=files)
    timings["write_s"] = round(time.monotonic() - t0, 4)
    finished = time.time()
    timings["total_s"] = round(finished - started, 4)

    if inv is not None:
        inv = replace(inv, function_log=[])
    lab_desc, lab_note = _lab_record(desc, scenario)
    record = RunRecord(
        run_id=run_id,
        scenario=ScenarioRecord.from_scenario(scenario, env, event),
        lab=lab_desc,
        lab_note=lab_note,
        status=status,
        started_at=started,
        finished_at=finished,
        catalog=catalog.id,
        repeat_index=repeat_index,
        invocation=inv,
        timings=timings,
        error=error,
        missing_evidence=tuple(missing),
        checksums=checksums(run_dir, files),
    )
    write_capture(run_dir, record=record)
    if interrupted is not None:
        raise interrupted
    return run_dir


def _where(exc: BaseException) -> str:
    """' (at file.py:N in func)': where an unexpected lab exception came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {Path(f.filename).name}:{f.lineno} in {f.name})"


def _invocation_error(inv: Invocation) -> str | None:
    if not inv.error:
        return None
    e = inv.error
    return ": ".join(
        str(x) for x in (e.get("errorType"), e.get("errorMessage")) if x
    ) or json.dumps(e)


def _lab_record(desc: LabDescription, scenario: Scenario) -> tuple[LabDescription, str | None]:
    """The lab as described during the run. If describing failed, the earlier
    description is kept, marked so, rather than pretending to know the layout."""
    desc = replace(desc, resources={**provenance(desc.backend, str(scenario.runtime)),
                                    **desc.resources})
    if desc.endpoints != scenario.endpoints:
        return desc, ("endpoint layout of the last successful describe(); the run may not "
                      "have applied")
    return desc, None


def provenance(backend: str, runtime: str | None = None) -> dict[str, str]:
    """Versions a report's provenance block names. The local lab's function runs on this
    Python with this botocore and awslambdaric (a Node runtime: on the cached Node and
    aws-lambda-ric, whose ``node_version`` the Node clients' prediction depends on); on
    AWS those are Lambda's own, which this machine cannot know, so only proxylab's is
    recorded there."""
    import platform
    from importlib import metadata

    from proxylab import __version__

    out = {"proxylab_version": __version__}
    if backend == "local":
        out["python_version"] = platform.python_version()
        for dist in ("botocore", "awslambdaric"):
            try:
                out[f"{dist}_version"] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                pass
        out.update(_node_provenance(runtime))
    return out


def _node_provenance(runtime: str | None) -> dict[str, str]:
    from proxylab.labs.local import node
    from proxylab.vocab import Runtime

    rt = parse_enum(Runtime, runtime) if runtime else None
    if rt is None or rt.node_major is None:
        return {}
    try:
        found = node.resolve(rt)
    except node.NodeMissing:
        return {}  # the run itself fails, saying how to install it
    return {"node_version": found.version.lstrip("v"),
            "aws_lambda_ric_version": node.RIC_VERSION}


def summarize(run_dir: Path, catalog_id: str, scenario: Scenario, repeat_index: int) -> RunSummary:
    """Read a capture just written back and check it against the ``expect`` it recorded,
    with the same checker and tables the report uses (so both give the same verdicts)."""
    tables = load_tables([run_dir])
    if len(tables.records) != 1:  # the runner just wrote it: unreadable means a bug
        raise RuntimeError(f"{run_dir}: capture not readable: {'; '.join(tables.skipped)}")
    (record,) = tables.records.values()
    seen = observed_run(tables, record.run_id)
    items = check_run(record, seen)
    return RunSummary(
        run_id=record.run_id,
        path=str(run_dir),
        catalog=catalog_id,
        scenario=scenario.id,
        repeat_index=repeat_index,
        status=record.status,
        error=record.error,
        duration_s=round(record.finished_at - record.started_at, 3),
        proxy_hosts=list(seen.hosts),
        steps=dict(seen.steps),
        services={s: list(v) for s, v in seen.vias.items()},
        expected=None if record.scenario.expect is None
        else not any(i.verdict is Verdict.FAILED for i in items),
        mismatches=[describe(i) for i in items if i.verdict is Verdict.FAILED],
        unchecked=[i.label for i in items if i.verdict is Verdict.UNCHECKED],
    )


__all__ = ["RunSummary", "plan", "run_catalog", "run_one", "summarize"]
