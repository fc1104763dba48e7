"""Run the client matrix in a lab: every (client, case) cell a real process in the
Lambda subnet, the evidence collected once around all of them.

Cells run in parallel (a thread per running cell, each waiting on its process):
the lab's Squid and fronts serve concurrent clients, and each request's token
keeps its evidence apart (:mod:`proxylab.clients.matrix`). Most of a direct
cell's time is its timeout, so parallelism is what keeps the default set short.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from proxylab.clients import DEFAULT_TIMEOUT_S, DEFAULT_WORKERS
from proxylab.clients import cell as cell_driver
from proxylab.clients.cases import Case, lab_values
from proxylab.clients.matrix import Cell, Matrix, attribute, unmatched_connects
from proxylab.clients.registry import ClientSpec, Result, Target
from proxylab.clients.verdict import judge, judge_cell
from proxylab.labs.base import EndpointLayout, Invocation, Lab, LabDescription, LabError
from proxylab.labs.lock import lab_lock
from proxylab.logs import services as services_log
from proxylab.logs import squid as squid_log
from proxylab.vocab import Agreement, Outcome

PLACE = "lambda"
PATH_PREFIX = "proxylab-clients"
# Beyond the client's own request timeout: interpreter start and SDK imports on a
# busy machine. The cell driver kills the client at this limit.
START_ALLOWANCE_S = 20.0
# The one lookup before any cell (an interpreter start and getent): generous, since a
# machine under heavy load can take seconds just to start Python.
RESOLVE_LIMIT_S = 60.0

Say = Callable[[str], None]


@contextlib.contextmanager
def lab_session(lab: Lab, keep_lab: bool, say: Say, wait: bool = False) -> Iterator[LabDescription]:
    """The lab, up, locked for the matrix; brought down after if this call brought
    it up and ``keep_lab`` is false (a lab that was already up stays up)."""
    with lab_lock(lab.backend, lab.name, wait=wait, say=say):
        desc = lab.describe()
        started_here = not desc.up
        if started_here:
            say(f"bringing lab {lab.name!r} ({lab.backend}) up ...")
            desc = lab.up(progress=say)
        try:
            yield desc
        finally:
            if started_here and not keep_lab:
                say(f"bringing lab {lab.name!r} down ...")
                left = lab.down()
                if left:
                    say("left behind: " + ", ".join(left))


@contextlib.contextmanager
def _layout(lab: Lab, desc: LabDescription, layout: EndpointLayout | None,
            say: Say) -> Iterator[LabDescription]:
    if layout is None or layout == desc.endpoints:
        yield desc
        return
    old = desc.endpoints
    lab.apply(layout)
    try:
        yield lab.describe()
    finally:
        say("putting the lab's endpoint layout back")
        lab.apply(old)


def _driver(out: Path, limit: float, argv: list[str]) -> list[str]:
    return [sys.executable, cell_driver.__file__, str(out), str(limit), "--", *argv]


def _run_cell(lab: Lab, workdir: Path, name: str, argv: list[str], env: dict[str, str],
              limit: float) -> dict[str, Any]:
    """One command in the Lambda subnet through the cell driver; its record."""
    out = workdir / f"{name}.json"
    try:
        lab.exec(PLACE, _driver(out, limit, argv), env=env, timeout_s=limit + 10)
        return json.loads(out.read_text())
    except (LabError, OSError, ValueError) as exc:
        return {"rc": None, "stdout": "", "stderr": f"the cell could not run: {exc}",
                "killed": False, "elapsed_s": None}


def resolve(lab: Lab, workdir: Path, host: str) -> str:
    """``host``'s IPv4 address as the Lambda subnet's resolver answers it."""
    record = _run_cell(lab, workdir, "resolve", ["getent", "ahostsv4", host], {}, RESOLVE_LIMIT_S)
    words = record.get("stdout", "").split()
    if record.get("rc") != 0 or not words:
        raise LabError(f"the Lambda subnet cannot resolve {host}: {record.get('stderr', '')}")
    return words[0]


def target_for(kind: str, token: str, desc: LabDescription, values: dict[str, str]) -> Target:
    """The cell's request: the lab's service ``kind``, with ``token`` in it."""
    res = desc.resources
    path = f"{PATH_PREFIX}/{token}"
    if kind == "web":
        return Target(kind, f"{res['web_url'].rstrip('/')}/{path}", token)
    if kind == "web-http":
        return Target(kind, f"http://{values['web_host']}/{path}", token)
    if kind == "web-ip-http":
        return Target(kind, f"http://{values['web_ip']}/{path}", token)
    if kind == "s3":
        return Target(kind, f"https://{values['bucket_host']}/{path}", token,
                      bucket=values["bucket"], key=path)
    if kind == "api":
        url = res["regional_api_url"]
        return Target(kind, f"{url}{'&' if '?' in url else '?'}proxylab-cell={token}", token)
    raise ValueError(f"unknown target kind {kind!r}")


def _run_all(run: Callable[[Any], dict[str, Any]], plans: list[Any],
             workers: int) -> list[dict[str, Any]]:
    """``run`` over ``plans``, ``workers`` at a time, results in plan order. On
    Ctrl-C / SIGTERM the cells not yet started are cancelled (the pool's own exit
    would start every queued one first); the running ones end within their limit."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [pool.submit(run, p) for p in plans]
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


Plan = tuple[Cell, ClientSpec, Target, dict[str, str]]


def _measure(lab: Lab, workdir: Path, plans: list[Plan], timeout_s: float, workers: int,
             ca: str) -> tuple[pd.DataFrame, pd.DataFrame, list[Any], list[str]]:
    """Run ``plans`` and fill each cell's outcome and route from the evidence collected
    around them; returns (squid, services, parsed logs, missing evidence)."""
    mark = lab.mark()
    limit = timeout_s + START_ALLOWANCE_S

    def run(plan: Plan) -> dict[str, Any]:
        cell, client, target, env = plan
        return _run_cell(lab, workdir, target.token, client.argv(target, timeout_s, ca),
                         env, limit)

    records = _run_all(run, plans, workers)
    evidence = lab.collect(mark, Invocation(status="ok", request_id="clients-matrix"))
    squid_parsed = squid_log.parse_lines(evidence.files.get("proxy_access.log", []))
    services_parsed = services_log.parse_lines(evidence.files.get("services.log", []))
    squid, services = squid_parsed.frame, services_parsed.frame
    for (cell, client, _target, _env), record in zip(plans, records, strict=True):
        result = (Result(Outcome.TIMEOUT, None, "killed after its time limit")
                  if record.get("killed") else
                  client.parse(record.get("rc"), record.get("stdout", ""),
                               record.get("stderr", "")))
        cell.outcome, cell.status, cell.error, cell.detail = (
            result.outcome, result.status, result.error, result.detail)
        cell.elapsed_s = record.get("elapsed_s")
        cell.route, cell.source, cell.evidence = attribute(cell.token, result, squid, services)
    return squid, services, [squid_parsed, services_parsed], list(evidence.missing)


def _doubtful(cell: Cell, env: dict[str, str], values: dict[str, str]) -> bool:
    """Read as direct only from a timeout, and its client's rule says otherwise."""
    if cell.source is not None or cell.outcome != Outcome.TIMEOUT:
        return False
    judge_cell(cell, env, values)
    return cell.agreement == Agreement.DIFFERS


def measure(lab: Lab, clients: list[ClientSpec], cases: list[Case], *,
            timeout_s: float = DEFAULT_TIMEOUT_S, workers: int = DEFAULT_WORKERS,
            keep_lab: bool = False, say: Say = lambda _: None, wait: bool = False,
            layout: EndpointLayout | None = None) -> Matrix:
    """Every client under every case, in the lab (brought up if needed); with
    ``layout``, under that endpoint layout (the lab's own is put back afterwards)."""
    if timeout_s <= 0:
        raise LabError(f"the request timeout must be positive, got {timeout_s}")
    started = time.monotonic()
    versions = {c.name: c.version() for c in clients}
    with lab_session(lab, keep_lab, say, wait=wait) as desc, \
            tempfile.TemporaryDirectory(prefix="proxylab-clients-") as tmp, \
            _layout(lab, desc, layout, say) as desc:
        workdir = Path(tmp)
        web_host = urlsplit(desc.resources.get("web_url", "")).hostname or ""
        values = lab_values(desc.resources, resolve(lab, workdir, web_host))
        ca = desc.plumbing_env.get("SSL_CERT_FILE", "")
        cells: list[Cell] = []
        plans: list[tuple[Cell, ClientSpec, Target, dict[str, str]]] = []
        for case in cases:
            env = case.environment(values)
            for client in clients:
                version = versions[client.name]
                cell = Cell(client.name, case.id, version)
                cells.append(cell)
                if version is None:
                    cell.note = f"not installed: {client.install}"
                elif case.target not in client.targets:
                    cell.note = f"n/a: {client.name} does not request {case.target}"
                else:
                    target = target_for(case.target, secrets.token_hex(6), desc, values)
                    cell.url, cell.token = target.url, target.token
                    plans.append((cell, client, target, {**env, **client.env(ca)}))
        say(f"{len(plans)} cell(s) on {len(clients)} client(s) x {len(cases)} case(s), "
            f"{workers} at a time, {timeout_s:g}s per request")
        squid, services, parsed, missing = _measure(lab, workdir, plans, timeout_s, workers, ca)
        case_env = {case.id: case.environment(values) for case in cases}
        again = [p for p in plans if _doubtful(p[0], case_env[p[0].case], values)]
        if again:
            # A timeout is the weakest evidence (no log line at all): on a loaded machine a
            # slow proxy times out like a direct connection. A cell read that way whose
            # rule says otherwise is measured once more with three times the limit; the
            # second measurement stands, and the cell says it was rechecked.
            say(f"rechecking {len(again)} cell(s) that timed out against their rule, "
                f"{3 * timeout_s:g}s per request")
            for cell, *_ in again:
                cell.rechecked = True
            squid2, services2, parsed2, missing2 = _measure(lab, workdir, again, 3 * timeout_s,
                                                            workers, ca)
            squid = pd.concat([squid, squid2], ignore_index=True)
            services = pd.concat([services, services2], ignore_index=True)
            parsed, missing = parsed + parsed2, missing + missing2
    meta = {
        "lab": {"backend": desc.backend, "name": desc.name,
                "squid_version": desc.resources.get("squid_version"),
                "endpoints": desc.endpoints.to_dict()},
        "values": values,
        "timeout_s": timeout_s,
        "workers": workers,
        "wall_s": round(time.monotonic() - started, 2),
        "squid_lines": len(squid),
        "service_lines": len(services),
        "unmatched_connects": unmatched_connects(cells, squid),
        "missing_evidence": missing,
        "rechecked": sum(1 for c in cells if c.rechecked),
        # Lines neither parser could read: counted, a few kept, never fatal.
        "malformed": {p.source: {"count": len(p.malformed),
                                 "sample": [f"{m.line_no}: {m.text} ({m.reason})"
                                            for m in p.malformed[:3]]}
                      for p in parsed if p.malformed},
    }
    clients_meta = [{"name": c.name, "summary": c.summary, "version": versions[c.name],
                     "install": c.install} for c in clients]
    cases_meta = [{"id": c.id, "summary": c.summary, "target": c.target,
                   "env": c.environment(values)} for c in cases]
    return judge(Matrix(clients_meta, cases_meta, cells, meta))
