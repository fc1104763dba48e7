"""run.json read back as types: round trip, older captures, and captures that cannot be read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from proxylab.capture import CaptureError, RunRecord, find_captures, read_capture
from proxylab.vocab import RunStatus

FIXTURES = Path(__file__).parents[1] / "fixtures"
ALL = sorted(p.parent for p in FIXTURES.glob("*/*/run.json"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_fixture_round_trips_unchanged(path: Path) -> None:
    raw = json.loads((path / "run.json").read_text())
    rec = RunRecord.from_dict(raw)
    assert isinstance(rec.status, RunStatus)
    again = rec.to_dict()
    # Everything the file holds comes back (key order aside), typed on the way; a field
    # newer than the fixture comes back with its documented default.
    for key in raw:
        expected = raw[key]
        if isinstance(expected, dict) and key in NEWER_FIELDS:
            expected = {**NEWER_FIELDS[key], **expected}
        assert json.loads(json.dumps(again[key], default=str)) == expected, key


# Fields added after some fixtures were written, and what reading an older file gives.
NEWER_FIELDS = {"scenario": {"runtime": "python3.x"}}


def test_env_is_a_read_only_mapping_of_resolved_values() -> None:
    rec = read_capture(ALL[0]).record
    assert "${" not in "".join(rec.env.values())
    with pytest.raises(TypeError):
        rec.env["X"] = "y"  # type: ignore[index]


def test_old_capture_without_env_template_is_resolved(tmp_path: Path) -> None:
    raw = json.loads((ALL[0] / "run.json").read_text())
    raw["scenario"]["env"] = {"HTTPS_PROXY": "${proxy_url}"}
    del raw["scenario"]["env_template"]
    rec = RunRecord.from_dict(raw)
    assert rec.env["HTTPS_PROXY"] == raw["lab"]["resources"]["proxy_url"]
    assert rec.scenario.env_template["HTTPS_PROXY"] == "${proxy_url}"


@pytest.mark.parametrize("damage, reason", [
    (lambda raw: "{ truncated", "not readable JSON"),
    (lambda raw: json.dumps({**raw, "schema": 99}), "format version 99"),
    (lambda raw: json.dumps({**raw, "status": "weird"}), "status 'weird'"),
    (lambda raw: json.dumps({**raw, "started_at": -5}), "started_at -5"),
    (lambda raw: json.dumps([1, 2]), "JSON object"),
])
def test_a_bad_capture_is_skipped_with_its_reason(tmp_path: Path, damage, reason) -> None:
    good = tmp_path / ALL[0].name
    bad = tmp_path / "20261124T000000Z-bad-0000"
    shutil.copytree(ALL[0], good)
    shutil.copytree(ALL[0], bad)
    run_json = bad / "run.json"
    run_json.chmod(0o644)
    run_json.write_text(damage(json.loads(run_json.read_text())))
    with pytest.raises(CaptureError, match=reason):
        read_capture(bad)
    skipped: list[str] = []
    with pytest.warns(UserWarning, match="skipping capture"):
        found = find_captures(tmp_path, skipped=skipped)
    assert [c.path for c in found] == [good]
    assert len(skipped) == 1 and reason in skipped[0] and str(bad) in skipped[0]


def test_checksums_tell_evidence_changed_after_the_capture(tmp_path: Path) -> None:
    from proxylab.capture import ScenarioRecord, checksums, write_capture
    from proxylab.labs.base import LabDescription

    run = tmp_path / "20261201T000000Z-x-0000"
    write_capture(run, files={"proxy_access.log": ["a line"], "function.log": ["START"]})
    rec = RunRecord(run_id=run.name, scenario=ScenarioRecord(id="x"),
                    lab=LabDescription("local", "t", "r", True), status=RunStatus.OK,
                    started_at=1.0, finished_at=2.0,
                    checksums=checksums(run, ["proxy_access.log", "function.log"]))
    write_capture(run, record=rec)
    assert read_capture(run).modified() == []
    log = run / "proxy_access.log"
    log.chmod(0o644)
    log.write_text("a line, edited\n")
    assert read_capture(run).modified() == ["proxy_access.log"]


def test_a_full_disk_stops_with_a_clear_error_and_no_half_written_evidence(tmp_path: Path):
    import subprocess

    from proxylab.capture import INCOMPLETE, CaptureWriteError, write_capture

    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                      capture_output=True, timeout=10).returncode:
        pytest.skip("needs root to mount a 64 KiB tmpfs (run the suite as root, as CI does)")
    try:
        run = mnt / "20261201T000000Z-full-0000"
        with pytest.raises(CaptureWriteError, match="No space left on device"):
            write_capture(run, files={"function.log": ["x" * 200] * 1000})
        assert not (run / "function.log").exists()  # no truncated file posing as evidence
        skipped: list[str] = []
        with pytest.warns(UserWarning, match="incomplete capture"):
            assert find_captures(mnt, skipped=skipped) == []
        assert "incomplete" in skipped[0]
        assert (run / INCOMPLETE).exists() or "interrupted" in skipped[0]
    finally:
        subprocess.run(["umount", str(mnt)], timeout=10)
