"""The one expectation checker: typed items, the unchecked rule, and the same verdict
from the runner's summary and from the report's table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from proxylab.analysis import analyse
from proxylab.analysis.expectations import CheckedItem, check, describe, evaluate
from proxylab.capture import RunRecord, ScenarioRecord, read_capture, write_capture
from proxylab.labs.base import LabDescription
from proxylab.logs.tables import load_tables
from proxylab.runner import summarize
from proxylab.scenarios.loader import load_catalog
from proxylab.scenarios.model import Expectation
from proxylab.vocab import CheckKind, RunStatus, UncheckedReason, Verdict

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
SEED = sorted(FIX.glob("2026*"))
AWS = sorted(FIX.glob("aws-*"))
PRIVATE = "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com"
GOOGLE = (
    "1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT www.google.com:443 - "
    "HIER_DIRECT/172.217.31.164 -"
)
REFUSED = (
    f"1748149506.101      0 10.1.143.211 TCP_TUNNEL/503 0 CONNECT {PRIVATE}:443 - HIER_NONE/- -"
)


def _step(step: str, outcome: str) -> str:
    return json.dumps({"proxylab": "step", "step": step, "outcome": outcome})


def _hit(service: str, via: str) -> str:
    return json.dumps({"ts": 1748149505.9, "service": service, "via": via, "status": 200})


def _capture(tmp_path: Path, expect: Expectation | None, proxy=(), function=(), services=(),
             status="ok", resources=None, missing=(), name="run") -> Path:
    d = tmp_path / name
    write_capture(d, files={"function.log": list(function), "proxy_access.log": list(proxy),
                            "services.log": list(services)})
    lab = LabDescription("local", "t", "ap-northeast-1", True, resources=dict(resources or {}))
    write_capture(d, record=RunRecord(
        run_id=f"20261124T000000Z-{name}", scenario=ScenarioRecord(id="s", expect=expect),
        lab=lab, status=RunStatus(status), started_at=1748149500, finished_at=1748149510,
        missing_evidence=tuple(missing)))
    return d


def _items(run: Path) -> list[CheckedItem]:
    return check(load_tables([run]))


def _verdicts(items) -> list[tuple[str, str | None, str, str | None]]:
    return [(str(i.kind), i.subject, str(i.verdict), None if i.reason is None else str(i.reason))
            for i in items]


def _summary(run: Path):
    rec = read_capture(run).record
    return summarize(run, rec.catalog, load_catalog("seed").get(rec.scenario.id), 0)


def test_the_seed_fixtures_hold_every_expectation() -> None:
    items = check(load_tables(SEED))
    assert len({i.run_id for i in items}) == len(SEED) == 5
    assert {i.verdict for i in items} == {Verdict.HELD}
    kinds = {i.kind for i in items}
    assert kinds == set(CheckKind)  # every kind is exercised by the seed
    for run in SEED:
        s = _summary(run)
        assert (s.expected, s.mismatches, s.unchecked) == (True, [], [])


@pytest.mark.parametrize("run", AWS, ids=lambda p: p.name)
def test_the_runner_and_the_report_agree_on_the_aws_fixtures(run: Path) -> None:
    report = analyse(load_tables([run]))
    items = report.checks
    s = _summary(run)
    failed = [describe(i) for i in items if i.verdict is Verdict.FAILED]
    unchecked = [i.label for i in items if i.verdict is Verdict.UNCHECKED]
    assert (s.mismatches, s.unchecked, s.expected) == (failed, unchecked, not failed)
    table = report.expectations
    assert list(table["verdict"].astype(str)) == [str(i.verdict) for i in items]
    # Nothing an AWS capture cannot see is reported as failed: S3 has no front log there.
    rows = table[table["kind"] == "service_via"]
    s3 = rows[rows["subject"] == "s3"]
    assert len(s3) == 1 and s3["verdict"].iloc[0] == "unchecked"
    assert s3["reason"].iloc[0] == "service-not-logged" and pd.isna(s3["ok"].iloc[0])
    assert unchecked == ["service s3"]


def test_expect_references_resolve_against_the_aws_labs_own_resources() -> None:
    # seed.yaml's expect names ${bucket}: on AWS that is the account's bucket.
    (item,) = [i for i in _items(FIX / "aws-seed-3") if i.kind is CheckKind.CROSSES_PROXY]
    assert item.verdict is Verdict.HELD, item
    assert "proxylab-123456789012-ap-northeast-1.s3.ap-northeast-1.amazonaws.com" in (
        item.expected)


def test_each_difference_is_one_failed_item(tmp_path: Path) -> None:
    run = _capture(
        tmp_path,
        Expectation(status="function-error", crosses_proxy=("www.google.com", "s3.x.com"),
                    bypasses_proxy=(PRIVATE,), steps={"api": "ok", "web": "ok"},
                    services={"s3": "gateway-endpoint", "execute-api": "interface-endpoint"}),
        proxy=[GOOGLE, REFUSED], function=[_step("api", "tunnel_error")],
        services=[_hit("s3", "internet")])
    items = _items(run)
    assert _verdicts(items) == [
        ("status", None, "failed", None), ("crosses_proxy", None, "failed", None),
        ("bypasses_proxy", PRIVATE, "failed", None), ("step", "api", "failed", None),
        ("step", "web", "failed", None), ("service_via", "s3", "failed", None),
        ("service_via", "execute-api", "failed", None)]
    assert [describe(i) for i in items] == [
        "status: expected function-error, got ok",
        f"proxy: expected but not seen: s3.x.com; seen but not expected: {PRIVATE}",
        f"proxy: should have bypassed it: {PRIVATE}",
        "step api: expected ok, got tunnel_error",
        "step web: expected ok, got no step line",
        "service s3: expected via gateway-endpoint, got internet",
        "service execute-api: expected via interface-endpoint, got no request",
    ]
    assert items[1].observed == (PRIVATE, "www.google.com")


def test_matching_items_hold_and_ports_may_be_named(tmp_path: Path) -> None:
    run = _capture(
        tmp_path,
        Expectation(status="ok", crosses_proxy=("www.google.com:443", "${api}"),
                    bypasses_proxy=("s3.x.com",), steps={"api": "tunnel_error"},
                    services={"s3": "internet"}),
        proxy=[GOOGLE, REFUSED], function=[_step("api", "tunnel_error")],
        services=[_hit("s3", "internet")], resources={"api": PRIVATE.upper()})
    assert {i.verdict for i in _items(run)} == {Verdict.HELD}
    table = evaluate(load_tables([run]))
    assert table["ok"].all() and (table["verdict"] == "held").all()
    assert list(table.columns[:6]) == ["run_id", "scenario", "check", "expected", "observed",
                                       "ok"]


def test_no_expectation_no_items(tmp_path: Path) -> None:
    run = _capture(tmp_path, None, proxy=[GOOGLE])
    assert _items(run) == [] and evaluate(load_tables([run])).empty
    assert _summary_of(run).expected is None


def _summary_of(run: Path):
    from proxylab.scenarios.model import Scenario

    return summarize(run, "t", Scenario(id="s", title="", function="regional"), 0)


def test_a_missing_squid_line_fails_honestly_and_a_noted_gap_is_unchecked(tmp_path) -> None:
    src = FIX / "aws-seed-2"
    api = "q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com"

    def copy(name: str, keep_squid: bool, note: str | None) -> Path:
        dst = tmp_path / name
        shutil.copytree(src, dst)
        for p in dst.iterdir():
            p.chmod(0o644)
        log = dst / "proxy_access.log"
        if keep_squid:
            log.write_text("".join(ln + "\n" for ln in log.read_text().splitlines()
                                   if api not in ln))
        else:
            log.unlink()
        rec = json.loads((dst / "run.json").read_text())
        rec["run_id"] = f"20261124T160000Z-{name}"
        rec["missing_evidence"] = [note] if note else []
        (dst / "run.json").write_text(json.dumps(rec))
        return dst

    def proxy_items(run: Path) -> list[tuple[str, str | None, str, str | None]]:
        return [v for v in _verdicts(_items(run)) if "proxy" in v[0]]

    # The line is simply not there: the expectation did not hold.
    lost = copy("lost", keep_squid=True, note=None)
    assert proxy_items(lost) == [
        ("crosses_proxy", None, "failed", None),
        ("bypasses_proxy", "s3.ap-northeast-1.amazonaws.com", "held", None)]
    (cross,) = [i for i in _items(lost) if i.kind is CheckKind.CROSSES_PROXY]
    assert cross.missing == (api,) and cross.unexpected == ()
    assert _summary(lost).mismatches == [f"proxy: expected but not seen: {api}"]
    # The lab noted a tunnel still open (Squid logs CONNECT on close): cannot tell.
    note = ("proxy_access.log: 1 tunnel(s) from the function still open 30 s after the run; "
            "Squid logs a CONNECT when it closes, so those requests are not in this capture")
    still_open = copy("open", keep_squid=True, note=note)
    assert proxy_items(still_open) == [
        ("crosses_proxy", None, "unchecked", "evidence-incomplete"),
        ("bypasses_proxy", "s3.ap-northeast-1.amazonaws.com", "unchecked",
         "evidence-incomplete")]
    s = _summary(still_open)
    assert s.expected is True and s.unchecked == [
        "proxy", "bypass s3.ap-northeast-1.amazonaws.com", "service s3"]
    # No Squid log at all (the function's ENI was unknown): no crash, unchecked.
    gone = copy("gone", keep_squid=False,
                note="proxy_access.log: the function's ENI address is unknown")
    assert [v[2] for v in proxy_items(gone)] == ["unchecked", "unchecked"]
    # A host seen in a partial log still contradicts the expectation.
    seen = _capture(tmp_path, Expectation(crosses_proxy=(), bypasses_proxy=(PRIVATE,)),
                    proxy=[REFUSED], missing=[note], name="seen")
    assert [v[2] for v in _verdicts(_items(seen))] == ["failed", "failed"]


def test_unknown_resources_and_unlogged_fronts_are_unchecked(tmp_path: Path) -> None:
    run = _capture(
        tmp_path,
        Expectation(crosses_proxy=("${nope}",), bypasses_proxy=("${nope}.x",),
                    services={"s3": "gateway-endpoint", "execute-api": "interface-endpoint"}),
        services=[_hit("s3", "gateway-endpoint")],
        resources={"observed_services": "execute-api"})
    assert _verdicts(_items(run)) == [
        ("crosses_proxy", None, "unchecked", "unknown-resource"),
        ("bypasses_proxy", "${nope}.x", "unchecked", "unknown-resource"),
        # The lab says it logs no S3 front: a stray line does not make it checkable.
        ("service_via", "s3", "unchecked", "service-not-logged"),
        ("service_via", "execute-api", "failed", None)]
    assert describe(_items(run)[2]) == (
        "service s3: not checked (the lab keeps no log of that service front)")
    gap = _capture(tmp_path, Expectation(services={"web": "internet"}, steps={"web": "ok"}),
                   missing=["services.log: API Gateway access logs are off in this lab",
                            "function.log: the function was not invoked"],
                   status="failed", name="gap")
    assert _verdicts(_items(gap)) == [
        ("step", "web", "unchecked", "evidence-incomplete"),
        ("service_via", "web", "unchecked", "evidence-incomplete")]


def _record(backend: str, resources: dict[str, str], missing=()) -> RunRecord:
    return RunRecord(run_id="r", scenario=ScenarioRecord(id="s"),
                     lab=LabDescription(backend, "t", "r", True, resources=resources),
                     status=RunStatus.OK, started_at=0, finished_at=1,
                     missing_evidence=tuple(missing))


def test_which_fronts_a_run_logs_is_one_rule() -> None:
    aws = _record("aws", {"observed_services": "execute-api, "})
    assert aws.observed_services == {"execute-api"}
    assert aws.logs_front("execute-api") and not aws.logs_front("s3")
    assert _record("aws", {"observed_services": ""}).observed_services == frozenset()
    assert _record("aws", {}).observed_services == {"execute-api"}  # older AWS captures
    local = _record("local", {"region": "x"})
    assert local.observed_services is None and local.logs_front("web")
    off = _record("local", {}, ["services.log: /x does not exist"])
    assert not off.logs_front("s3") and off.evidence_gaps("services.log")
    nothing = _record("local", {}, ["evidence: not collected"])
    assert nothing.evidence_gaps("proxy_access.log") and not nothing.evidence_gaps(
        "function.log")
    assert not _record("local", {}, ["services.logx: y"]).evidence_gaps("services.log")


def test_items_are_typed_not_sentences() -> None:
    (item, *_) = check(load_tables(SEED[:1]))
    assert isinstance(item.kind, CheckKind) and isinstance(item.verdict, Verdict)
    assert item.reason is None or isinstance(item.reason, UncheckedReason)
    table = evaluate(load_tables(SEED[:1]))
    assert set(table["verdict"].cat.categories) == {str(v) for v in Verdict}
    assert set(table["kind"].cat.categories) == {str(k) for k in CheckKind}
