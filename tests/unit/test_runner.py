"""The runner against a small in-memory lab that follows the Lab protocol.

The fake lab does not pretend to route anything: each invocation writes the
evidence lines the test asks for (``FAKE_CROSS`` hosts as Squid CONNECT lines,
``FAKE_STEPS`` as probe step lines), so the tests check what the runner does
with evidence, not what a lab would produce.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from proxylab import capture, cli
from proxylab.labs.base import (
    EndpointLayout,
    Evidence,
    EvidenceMark,
    FunctionCode,
    Invocation,
    Lab,
    LabDescription,
    LabError,
)
from proxylab.labs.registry import register_backend
from proxylab.runner import run_catalog
from proxylab.scenarios import ScenarioError

RESOURCES = {
    "region": "ap-northeast-1",
    "bucket": "proxylab-demo-bucket",
    "proxy_url": "http://10.0.0.72:3128",
    "regional_api_id": "q8rw2x7k1m",
}


class FakeLab:
    backend = "fake"

    def __init__(self, name: str = "fake", up: bool = False, fail: dict[str, str] | None = None):
        self.name = name
        self.is_up = up
        self.layout = EndpointLayout()
        self.logs: dict[str, list[str]] = {
            "proxy_access.log": [],
            "services.log": [],
            "dns.log": [],
        }
        self.fail = fail or {}  # FAKE_ID -> stage that raises ("apply", "invoke", "collect")
        self.calls: list[str] = []
        self.current = ""  # FAKE_ID of the run under way ("" before the first invoke)

    def up(self, endpoints=None, progress=None) -> LabDescription:
        self.calls.append("up")
        if progress:
            progress("fake lab: starting")
        self.is_up = True
        self.layout = endpoints or EndpointLayout()
        return self.describe()

    def down(self) -> list[str]:
        self.calls.append("down")
        self.is_up = False
        return []

    def describe(self) -> LabDescription:
        return LabDescription(
            backend="fake",
            name=self.name,
            region="ap-northeast-1",
            up=self.is_up,
            endpoints=self.layout,
            resources=dict(RESOURCES),
        )

    def apply(self, endpoints: EndpointLayout) -> None:
        self.calls.append("apply")
        if self.fail.get(self.current) == "apply":
            raise LabError("apply broke")
        self.layout = endpoints

    def mark(self) -> EvidenceMark:
        return EvidenceMark(time.time(), {k: len(v) for k, v in self.logs.items()})

    def invoke(
        self,
        function: str,
        env: dict[str, str],
        event: dict[str, Any],
        timeout_s: float,
        code: FunctionCode | None = None,
    ) -> Invocation:
        self.calls.append(f"invoke:{function}")
        self.last_env = dict(env)
        sid = self.current = env.get("FAKE_ID", "")
        for host in filter(None, env.get("FAKE_CROSS", "").split(",")):
            self.logs["proxy_access.log"].append(
                f"1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT {host}:443 - "
                "HIER_DIRECT/198.18.1.10 -"
            )
        self.logs["services.log"].append(json.dumps(
            {"ts": time.time(), "service": "s3", "via": "gateway-endpoint", "status": 200}))
        if self.fail.get(sid) == "invoke":
            raise LabError("the runtime died")
        if self.fail.get(sid) == "interrupt":
            raise KeyboardInterrupt
        log = ["START RequestId: r1 Version: $LATEST"]
        for pair in filter(None, env.get("FAKE_STEPS", "").split(",")):
            step, outcome = pair.split("=")
            log.append(json.dumps({"proxylab": "step", "step": step, "outcome": outcome}))
        log += ["END RequestId: r1", "REPORT RequestId: r1 Duration: 1.00 ms"]
        status = "error" if code is not None else env.get("FAKE_STATUS", "ok")
        error = {"errorType": "RuntimeError", "errorMessage": "boom"} if status != "ok" else None
        self.calls.append(f"code:{code.handler if code else None}")
        return Invocation(status=status, request_id="r1", error=error, function_log=log)

    def collect(self, mark: EvidenceMark, invocation: Invocation) -> Evidence:
        self.calls.append("collect")
        if self.fail.get(self.current) == "collect":
            raise LabError("collect broke")
        return Evidence(files={k: v[mark.positions.get(k, 0) :] for k, v in self.logs.items()})

    def exec(self, place, argv, env=None, timeout_s=None) -> int:
        return 0

    def attach(self, resources=None) -> LabDescription:
        raise LabError("the fake lab has nothing to attach to")

    def function_configuration(self, variant: str) -> dict[str, str]:
        return {}


CATALOG = """\
catalog: t
title: runner tests
defaults:
  function: regional
  env: {HTTPS_PROXY: "${proxy_url}"}
scenarios:
  - id: one
    env:
      FAKE_ID: one
      FAKE_CROSS: "www.google.com,${bucket}.s3.${region}.amazonaws.com"
      FAKE_STEPS: "s3_get=ok,web=ok"
    expect:
      crosses_proxy: [www.google.com, "${bucket}.s3.${region}.amazonaws.com"]
      steps: {s3_get: ok, web: ok}
      services: {s3: gateway-endpoint}
  - id: two
    function: private
    endpoints: {s3_gateway: false}
    env: {FAKE_ID: two, FAKE_CROSS: "www.google.com", FAKE_STEPS: "web=timeout"}
    expect:
      crosses_proxy: []
      steps: {web: ok}
  - id: three
    env: {FAKE_ID: three}
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    p = tmp_path / "cat.yaml"
    p.write_text(CATALOG)
    return p


def test_runs_write_captures_in_order_raw_files_before_run_json(tmp_path, catalog, monkeypatch):
    written: list[str] = []
    real = capture._write_once
    monkeypatch.setattr(
        capture, "_write_once", lambda path, text: (written.append(path.name), real(path, text))
    )
    lab = FakeLab()
    paths = run_catalog(catalog, lab=lab, runs_dir=tmp_path / "runs", progress=False)
    assert [capture.read_capture(p).record.scenario.id for p in paths] == [
        "one",
        "two",
        "three",
    ]
    # Per run: function.log, then the lab's evidence files, run.json last.
    per_run = ["function.log", "proxy_access.log", "services.log", "dns.log", "run.json"]
    assert written == per_run * 3
    rec = capture.read_capture(paths[0]).record
    assert rec.status == "ok" and rec.catalog == "t" and rec.error is None
    assert rec.env["HTTPS_PROXY"] == "http://10.0.0.72:3128"
    assert rec.scenario.env_template["HTTPS_PROXY"] == "${proxy_url}"
    assert rec.lab.endpoints.s3_gateway is True
    assert set(rec.timings) >= {"apply_s", "invoke_s", "collect_s", "total_s"}
    raw = json.loads((paths[0] / "run.json").read_text())
    assert "function_log" not in raw["invocation"]
    # Each capture holds only its own run's lines.
    assert len(capture.read_capture(paths[0]).lines("proxy_access.log")) == 2
    assert len(capture.read_capture(paths[1]).lines("proxy_access.log")) == 1
    assert capture.read_capture(paths[1]).record.lab.endpoints.s3_gateway is False
    # Brought up (it was down), each scenario applied, and down again.
    assert lab.calls[0] == "up" and lab.calls[-1] == "down"
    assert [c for c in lab.calls if c.startswith("invoke")] == [
        "invoke:regional",
        "invoke:private",
        "invoke:regional",
    ]


def test_raw_files_are_exactly_the_evidence_and_never_rewritten(tmp_path, catalog):
    lab = FakeLab(up=True)
    (path,) = run_catalog(catalog, ["one"], lab=lab, runs_dir=tmp_path, progress=False)
    assert capture.read_capture(path).lines("proxy_access.log") == lab.logs["proxy_access.log"]
    assert capture.read_capture(path).lines("function.log")[0].startswith("START RequestId: r1")
    for name in ("function.log", "proxy_access.log", "run.json"):
        assert (path / name).stat().st_mode & 0o222 == 0, f"{name} must be read-only"
        with pytest.raises(FileExistsError):
            capture.write_capture(path, files={name: ["changed"]})
    # The lab was up before: the runner leaves it up.
    assert "up" not in lab.calls and "down" not in lab.calls


@pytest.mark.parametrize("stage", ["invoke", "collect"])
def test_lab_failure_is_a_failed_run_with_evidence_and_the_batch_goes_on(tmp_path, catalog, stage):
    lab = FakeLab(fail={"one": stage})
    paths = run_catalog(catalog, ["one", "three"], lab=lab, runs_dir=tmp_path, progress=False)
    failed, ok = (capture.read_capture(p) for p in paths)
    assert failed.record.status == "failed"
    assert "LabError" in failed.record.error
    assert failed.record.error.startswith(stage)
    if stage == "invoke":
        # The proxy had already logged the run's lines: they are kept.
        assert len(failed.lines("proxy_access.log")) == 2
        assert not (failed.path / "function.log").exists()
        assert "function.log: the function was not invoked" in failed.record.missing_evidence
    else:
        assert failed.lines("function.log")[0].startswith("START")
        assert "evidence: not collected" in failed.record.missing_evidence
    assert ok.record.status == "ok"
    assert lab.calls[-1] == "down"


def test_failed_apply_records_the_run_without_evidence(tmp_path, catalog):
    lab = FakeLab(up=True, fail={"": "apply"})
    paths = run_catalog(catalog, ["two"], lab=lab, runs_dir=tmp_path, progress=False)
    rec = capture.read_capture(paths[0]).record
    assert rec.status == "failed" and rec.error.startswith("apply: LabError: apply broke")
    assert rec.lab_note.startswith("endpoint layout of the last successful describe()")
    assert sorted(os.listdir(paths[0])) == ["run.json"]


def test_function_errors_and_user_handlers(tmp_path):
    (tmp_path / "fail.py").write_text("def handler(event, context):\n    raise RuntimeError('x')\n")
    p = tmp_path / "c.yaml"
    p.write_text(
        textwrap.dedent(
            """\
            catalog: e
            title: errors
            scenarios:
              - {id: raises, function: private, code: fail.py, expect: {status: function-error}}
              - {id: lab-error, function: private, env: {FAKE_STATUS: lab-error}}
            """
        )
    )
    lab = FakeLab(up=True)
    runs = run_catalog(p, lab=lab, runs_dir=tmp_path / "runs", progress=False)
    raises, lab_error = (capture.read_capture(r).record for r in runs)
    assert raises.status == "function-error" and raises.error is None
    assert raises.invocation.error["errorType"] == "RuntimeError"
    assert raises.scenario.handler == "fail.handler"
    assert "code:fail.handler" in lab.calls
    assert lab_error.status == "failed"
    assert lab_error.error == "RuntimeError: boom"


def test_repeat_runs_each_scenario_n_times(tmp_path, catalog):
    summaries = []
    paths = run_catalog(
        catalog,
        ["two", "one"],
        repeat=3,
        lab=FakeLab(),
        runs_dir=tmp_path,
        progress=False,
        on_run=summaries.append,
    )
    recs = [capture.read_capture(p).record for p in paths]
    assert [(r.scenario.id, r.repeat_index) for r in recs] == [
        ("two", 0),
        ("two", 1),
        ("two", 2),
        ("one", 0),
        ("one", 1),
        ("one", 2),
    ]
    assert len({r.run_id for r in recs}) == 6
    assert [s.path for s in summaries] == [str(p) for p in paths]
    with pytest.raises(Exception, match="at least 1"):
        run_catalog(catalog, repeat=0, lab=FakeLab(), runs_dir=tmp_path, progress=False)


def test_summaries_compare_captures_with_expectations(tmp_path, catalog):
    summaries = []
    run_catalog(catalog, lab=FakeLab(), runs_dir=tmp_path, progress=False, on_run=summaries.append)
    one, two, three = summaries
    assert one.expected is True and one.mismatches == []
    assert one.proxy_hosts == [
        "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com",
        "www.google.com",
    ]
    assert one.steps == {"s3_get": "ok", "web": "ok"}
    assert two.expected is False
    assert two.mismatches == [
        "proxy: seen but not expected: www.google.com",
        "step web: expected ok, got timeout",
    ]
    assert three.expected is None


def test_progress_one_line_per_run_on_stderr(tmp_path, catalog, capsys):
    run_catalog(catalog, ["one", "two"], lab=FakeLab(), runs_dir=tmp_path, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "fake lab: starting" in err
    assert "[1/2] one  ok" in err and "as expected" in err
    assert "[2/2] two  ok" in err and "NOT as expected" in err
    run_catalog(catalog, ["one"], lab=FakeLab(), runs_dir=tmp_path, progress=False)
    assert capsys.readouterr() == ("", "")


def test_keep_lab_leaves_it_up(tmp_path, catalog):
    lab = FakeLab()
    run_catalog(catalog, ["one"], lab=lab, runs_dir=tmp_path, progress=False, keep_lab=True)
    assert lab.calls[0] == "up" and "down" not in lab.calls and lab.is_up


def test_interrupt_records_the_run_and_brings_the_lab_down(tmp_path, catalog):
    lab = FakeLab(fail={"one": "interrupt"})
    with pytest.raises(KeyboardInterrupt):
        run_catalog(catalog, lab=lab, runs_dir=tmp_path, progress=False)
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    rec = capture.read_capture(run_dir).record
    assert rec.status == "failed" and rec.error == "interrupted during invoke"
    assert lab.calls[-1] == "down"


def test_bad_catalogue_or_scenario_fails_before_any_lab_exists(tmp_path, catalog):
    made: list[FakeLab] = []
    register_backend("fake-unstarted", lambda **kw: made.append(FakeLab(**kw)) or made[-1])
    bad = tmp_path / "bad.yaml"
    bad.write_text("catalog: b\ntitle: t\nscenarios:\n  - {id: x, fucntion: regional}\n")
    with pytest.raises(ScenarioError, match="field 'fucntion': unknown field"):
        run_catalog(bad, backend="fake-unstarted", runs_dir=tmp_path)
    with pytest.raises(ScenarioError, match="no scenario 'four'"):
        run_catalog(catalog, ["four"], backend="fake-unstarted", runs_dir=tmp_path)
    assert made == []
    assert not any(p.is_dir() for p in tmp_path.iterdir())


def test_protocol_conformance_of_the_fake():
    assert isinstance(FakeLab(), Lab)


def test_cli_run_json_prints_one_summary_per_run(tmp_path, catalog, capsys):
    labs: list[FakeLab] = []
    register_backend("fake", lambda **kw: labs.append(FakeLab(**kw)) or labs[-1])
    rc = cli.main(
        [
            "run",
            "--catalog",
            str(catalog),
            "--backend",
            "fake",
            "--name",
            "scen",
            "--scenario",
            "one",
            "three",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--json",
            "--quiet",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["scenario"] for r in rows] == ["one", "three"]
    assert rows[0]["status"] == "ok" and rows[0]["expected"] is True
    assert Path(rows[0]["path"]).parent == tmp_path / "runs"
    assert labs[0].name == "scen"
    # A bad catalogue: one clear error, exit 2, no lab.
    bad = tmp_path / "bad.yaml"
    bad.write_text("catalog: b\ntitle: t\nscenarios:\n  - {id: x}\n")
    assert cli.main(["run", "--catalog", str(bad), "--backend", "fake"]) == 2
    assert (
        f"proxylab: error: {bad}:4: scenario 'x': field 'function': missing"
        in capsys.readouterr().err
    )
    assert len(labs) == 1


def test_cli_run_exit_codes_for_failed_and_unexpected(tmp_path, catalog, capsys):
    register_backend("fake-failing", lambda **kw: FakeLab(fail={"one": "invoke"}, **kw))
    args = ["run", "--catalog", str(catalog), "--backend", "fake-failing", "-q"]
    assert cli.main([*args, "--scenario", "one", "--runs-dir", str(tmp_path / "a")]) == 1
    assert cli.main([*args, "--scenario", "two", "--runs-dir", str(tmp_path / "b")]) == 0
    assert (
        cli.main([*args, "--scenario", "two", "--strict", "--runs-dir", str(tmp_path / "c")]) == 3
    )


def test_cli_scenarios_validate_list_show(tmp_path, catalog, capsys):
    assert cli.main(["scenarios", "validate"]) == 0
    assert "catalogue 'seed', 4 scenarios" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "catalog: b\ntitle: t\nscenarios:\n  - {id: x, function: regional, env: {A: [1]}}\n"
    )
    assert cli.main(["scenarios", "validate", str(bad), str(catalog)]) == 2
    out, err = capsys.readouterr()
    assert f"{bad}:4: scenario 'x': field 'env.A': expected a string, got list" in err
    assert "catalogue 't', 3 scenarios" in out
    assert cli.main(["scenarios", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {c["catalog"] for c in listed} >= {"seed", "examples"}
    assert cli.main(["scenarios", "show", "seed-4", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (
        shown["env"]["NO_PROXY"] == "s3.${region}.amazonaws.com,execute-api.${region}.amazonaws.com"
    )
    register_backend("fake-show", lambda **kw: FakeLab(**kw))
    assert (
        cli.main(["scenarios", "show", "seed-2", "--resolve", "--backend", "fake-show", "--json"])
        == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["env"]["NO_PROXY"] == "s3.ap-northeast-1.amazonaws.com"


def test_a_failed_bring_up_is_cleaned_up_and_reported(tmp_path, catalog):
    class BrokenUp(FakeLab):
        def up(self, endpoints=None, progress=None):
            self.calls.append("up")
            raise LabError("squid did not start")

    lab = BrokenUp()
    with pytest.raises(LabError, match="squid did not start"):
        run_catalog(catalog, lab=lab, runs_dir=tmp_path, progress=False)
    assert lab.calls == ["up", "down"]
    assert list(tmp_path.iterdir()) == [tmp_path / "cat.yaml"]


def test_expectations_a_lab_cannot_observe_are_listed_not_failed(
        tmp_path, catalog, monkeypatch, capsys):
    monkeypatch.setitem(RESOURCES, "observed_services", "execute-api")
    summaries = []
    lab = FakeLab()
    lab.logs["services.log"] = []
    run_catalog(
        catalog, ["one"], lab=lab, runs_dir=tmp_path, progress=True, on_run=summaries.append
    )
    (s,) = summaries
    assert s.unchecked == ["service s3"]
    assert s.expected is True, s.mismatches
    err = capsys.readouterr().err
    assert "not checked here: service s3" in err and "NOT as" not in err


def test_a_full_disk_ends_the_batch_with_a_clear_error(tmp_path, catalog):
    import subprocess

    from proxylab.capture import CaptureWriteError

    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)],
                      capture_output=True, timeout=10).returncode:
        pytest.skip("needs root to mount a 16 KiB tmpfs (run the suite as root, as CI does)")
    try:
        lab = FakeLab()
        lab.logs["function.log"] = ["x" * 100] * 400
        with pytest.raises(CaptureWriteError, match="The batch stops here"):
            run_catalog(catalog, lab=lab, runs_dir=mnt, progress=False)
        assert lab.calls[-1] == "down"
        done = list(mnt.glob("*/run.json"))
        assert len(done) < 3  # the batch stopped at the run that did not fit
        for run in mnt.iterdir():  # no file posing as evidence beside a missing run.json
            if not (run / "run.json").exists():
                # (the INCOMPLETE marker may itself be empty when not one byte fits)
                assert all(f.stat().st_size for f in run.iterdir() if f.name != "INCOMPLETE")
    finally:
        subprocess.run(["umount", str(mnt)], timeout=10)


def test_no_proxy_password_reaches_any_capture_file(tmp_path):
    from proxylab.secrets import mask, secrets_in

    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent("""\
        catalog: s
        title: secrets
        scenarios:
          - id: auth
            function: regional
            env:
              HTTPS_PROXY: "http://alice:S3cr%40t-pw@10.0.0.72:3128"
              https_proxy: "https://bob:hunter2@proxy.example:3129/"
        """))
    lab = FakeLab()
    (run,) = run_catalog(p, lab=lab, runs_dir=tmp_path / "runs", progress=False)
    assert lab.last_env["HTTPS_PROXY"] == "http://alice:S3cr%40t-pw@10.0.0.72:3128"  # the real one
    everything = "".join(f.read_text() for f in run.iterdir())
    for secret in ("S3cr%40t-pw", "hunter2"):
        assert secret not in everything
    assert "http://alice:***@10.0.0.72:3128" in everything
    assert mask("GET http://carol:pa55@x.example/ -") == "GET http://carol:***@x.example/ -"
    rec = capture.read_capture(run).record
    assert secrets_in(dict(rec.env)) == ["***", "***"]
    assert mask("no credentials: http://10.0.0.72:3128, mail a@b.c") == (
        "no credentials: http://10.0.0.72:3128, mail a@b.c")


def test_captures_record_the_versions_a_report_names(tmp_path, catalog):
    from importlib import metadata

    paths = run_catalog(catalog, ["one"], lab=FakeLab(), runs_dir=tmp_path, progress=False)
    res = capture.read_capture(paths[0]).record.resources
    assert res["proxylab_version"] and "python_version" not in res  # FakeLab is no local lab
    from proxylab.runner import provenance

    local = provenance("local")
    assert local["botocore_version"] == metadata.version("botocore")
