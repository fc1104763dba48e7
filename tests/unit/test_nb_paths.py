"""Notebook paths mean the same thing wherever the kernel starts, and an empty
selection says what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from proxylab.report import nb, render

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "captures"


@pytest.fixture
def shown(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(nb, "_display", lambda md=None, png=None: seen.append(md or ""))
    return seen


def test_relative_paths_are_from_the_project_root_not_the_kernel_dir(monkeypatch, shown):
    monkeypatch.delenv("PROXYLAB_ROOT", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")  # where JupyterLab starts the kernel
    assert render.project_root() == ROOT
    got = nb.select("tests/fixtures/captures")
    assert len(got) == len([p for p in FIX.iterdir() if (p / "run.json").exists()])
    assert all(Path(p).is_absolute() for p in got) and shown == []


def test_root_from_environment_and_from_any_working_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("PROXYLAB_ROOT", str(tmp_path))
    assert nb.resolve("data/runs") == tmp_path / "data/runs"
    monkeypatch.delenv("PROXYLAB_ROOT")
    monkeypatch.chdir(tmp_path)  # outside any checkout: the installed package's checkout
    assert render.project_root() == ROOT
    assert nb.resolve("/abs/x") == Path("/abs/x")


def test_latest_is_the_newest_run_per_scenario_of_the_newest_catalogue_and_backend(shown):
    got = [Path(p).name for p in nb.select(str(FIX), latest=True)]
    # the newest capture is an aws seed-3 run: the aws seed set, newest seed-3 only
    assert got == ["aws-seed-2", "aws-seed-4", "20261124T161000Z-seed-3-aws-cw01"]


def test_latest_keeps_local_runs_when_they_are_newest(tmp_path, shown):
    for d in ("20261124T153210Z-seed-1-a1b2", "20261124T153230Z-seed-2-c3d4", "aws-seed-2"):
        shutil.copytree(FIX / d, tmp_path / d)
    assert [Path(p).name for p in nb.select(str(tmp_path), latest=True)] == ["aws-seed-2"]
    shutil.rmtree(tmp_path / "aws-seed-2")
    assert len(nb.select(str(tmp_path), latest=True)) == 2


def test_empty_selection_says_which_command_makes_captures(tmp_path, shown):
    assert nb.select(str(tmp_path)) == []
    assert "No captures found" in shown[0] and "make report" in shown[0]
    shown.clear()
    assert nb.select(str(tmp_path / "nope")) == []
    assert "no such directory" in shown[0] and "proxylab run --catalog seed" in shown[0]


def test_no_captures_given_means_none_not_the_default_runs_dir(shown):
    assert nb.lab_from_captures([]) is None
    assert len(nb.show_runs([])) == 0


def test_executed_notebooks_record_paths_from_the_root(tmp_path):
    inside = FIX / "aws-seed-2"
    params = render.parameters_for("04-report.ipynb", [str(inside), str(tmp_path)], "en",
                                   False, "", None)
    assert params["captures"] == ["tests/fixtures/captures/aws-seed-2", str(tmp_path)]
    assert params["latest"] is False
