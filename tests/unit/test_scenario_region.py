"""A scenario's or catalogue's ``region:`` (issue 10, item 1): checked against
botocore's regions when the file loads, recorded in the capture, and honoured by the
runner (the lab is built for it) or refused before anything runs, never ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_runner import RESOURCES, FakeLab

from proxylab.labs.base import LabDescription, LabError
from proxylab.labs.registry import register_backend
from proxylab.runner import run_catalog
from proxylab.scenarios import ScenarioError
from proxylab.scenarios.loader import parse_catalog

CATALOG = """\
catalog: regions
title: regions
region: us-east-1
defaults: {function: regional}
scenarios:
  - id: east
    env: {FAKE_ID: east}
  - id: west
    region: eu-west-1
    env: {FAKE_ID: west}
  - id: east-again
    env: {FAKE_ID: east-again}
"""


class RegionalFake(FakeLab):
    """The runner's fake lab, built for one region (as get_lab(region=...) builds)."""

    made: list[RegionalFake] = []

    def __init__(self, region: str = "ap-northeast-1", **kw) -> None:
        super().__init__(**kw)
        self.region = region
        RegionalFake.made.append(self)

    def describe(self) -> LabDescription:
        desc = super().describe()
        desc.region = self.region
        desc.resources = {**RESOURCES, "region": self.region}
        return desc


@pytest.fixture
def regional_backend():
    RegionalFake.made = []
    register_backend("fake-regional", RegionalFake)
    return RegionalFake.made


def _cat(tmp_path: Path, text: str = CATALOG) -> Path:
    p = tmp_path / "regions.yaml"
    p.write_text(text)
    return p


def test_catalogue_region_is_every_scenarios_default_and_a_scenario_overrides_it(tmp_path):
    cat, problems = parse_catalog(CATALOG, tmp_path / "c.yaml")
    assert problems == [] and cat is not None
    assert cat.region == "us-east-1"
    assert [s.region for s in cat.scenarios] == ["us-east-1", "eu-west-1", "us-east-1"]
    assert cat.regions == ["us-east-1", "eu-west-1"]


def test_no_region_means_the_labs_region(tmp_path):
    cat, _ = parse_catalog("catalog: c\ntitle: t\nscenarios:\n  - {id: a, function: regional}\n",
                           tmp_path / "c.yaml")
    assert cat is not None and cat.scenarios[0].region is None


@pytest.mark.parametrize("where", ["top", "scenario"])
def test_a_region_botocore_does_not_know_is_a_located_problem(tmp_path, where):
    head = "catalog: c\ntitle: t\n"
    text = (head + "region: us-east-7\nscenarios:\n  - {id: a, function: regional}\n"
            if where == "top" else
            head + "scenarios:\n  - {id: a, function: regional, region: eu-wset-1}\n")
    _, problems = parse_catalog(text, tmp_path / "c.yaml")
    assert len(problems) == 1
    assert problems[0].field == "region"
    assert "not a region in botocore's data" in problems[0].message
    if where == "scenario":
        assert "eu-west-1" in problems[0].message  # did you mean


def test_other_partitions_load_the_backend_decides(tmp_path):
    """cn-north-1 is a real region: the file is fine; whether a lab can build it is the
    backend's call (the local one refuses it at run time, tests/integration)."""
    cat, problems = parse_catalog(
        "catalog: c\ntitle: t\nregion: cn-north-1\nscenarios:\n  - {id: a, function: regional}\n",
        tmp_path / "c.yaml")
    assert problems == [] and cat.scenarios[0].region == "cn-north-1"


def test_runner_builds_one_lab_per_region_in_run_order_and_records_it(tmp_path, regional_backend):
    paths = run_catalog(_cat(tmp_path), backend="fake-regional", runs_dir=tmp_path / "runs",
                        progress=False)
    assert [lab.region for lab in regional_backend] == ["us-east-1", "eu-west-1"]
    records = [json.loads((p / "run.json").read_text()) for p in paths]
    assert [(r["scenario"]["id"], r["scenario"]["region"], r["lab"]["region"]) for r in records] \
        == [("east", "us-east-1", "us-east-1"), ("west", "eu-west-1", "eu-west-1"),
            ("east-again", "us-east-1", "us-east-1")]
    # Each group's lab is brought up for its runs and down after them.
    east, west = regional_backend
    assert east.calls.count("up") == 2 and west.calls.count("up") == 1


def test_a_region_other_than_the_one_asked_for_is_refused_before_any_run(tmp_path,
                                                                          regional_backend):
    with pytest.raises(ScenarioError, match=r"scenario 'west': field 'region': the scenario runs "
                                            r"in eu-west-1, but the lab is asked for us-east-1"):
        run_catalog(_cat(tmp_path), backend="fake-regional", lab_options={"region": "us-east-1"},
                    runs_dir=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()


def test_a_lab_handed_in_is_never_rebuilt_for_another_region(tmp_path):
    lab = RegionalFake(region="ap-northeast-1")
    with pytest.raises(ScenarioError, match="but the lab is built for ap-northeast-1"):
        run_catalog(_cat(tmp_path), lab=lab, runs_dir=tmp_path / "runs", progress=False)
    assert lab.calls == []


def test_a_backend_refusing_a_region_stops_the_batch_before_any_run(tmp_path):
    def refusing(region: str = "ap-northeast-1", **kw):
        if region == "eu-west-1":
            raise LabError("region 'eu-west-1' is not modelled here")
        return RegionalFake(region=region, **kw)

    register_backend("fake-refusing", refusing)
    with pytest.raises(LabError, match="not modelled here"):
        run_catalog(_cat(tmp_path), backend="fake-refusing", runs_dir=tmp_path / "runs",
                    progress=False)
    assert not (tmp_path / "runs").exists()


def test_the_local_backend_refuses_a_partition_it_does_not_model(tmp_path):
    """Refused by the lab's constructor, before any namespace exists."""
    cat = _cat(tmp_path, CATALOG.replace("region: eu-west-1", "region: cn-north-1"))
    with pytest.raises(LabError, match=r"region 'cn-north-1' is in AWS partition 'aws-cn'"):
        run_catalog(cat, backend="local", lab_options={"name": "cnrefuse"},
                    runs_dir=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()


def test_lab_exec_refuses_a_scenario_of_another_region(tmp_path, monkeypatch, capsys):
    """`lab exec --scenario` never runs a scenario's command in the wrong region."""
    from proxylab import cli

    monkeypatch.setenv("PROXYLAB_STATE", str(tmp_path / "state"))
    rc = cli.main(["lab", "exec", "--name", "nolab", "--catalog", str(_cat(tmp_path)),
                   "--scenario", "east", "--", "true"])
    assert rc == 2
    assert "runs in us-east-1, the lab is in ap-northeast-1" in capsys.readouterr().err
