"""Every backend implements the whole Lab protocol, refuses what it cannot do with a
LabError, and refuses options it does not take (naming the ones it does).

Nothing here brings a lab up: the local lab is only constructed (no root needed),
and the AWS lab refuses its options before any boto3 session exists.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from proxylab import cli
from proxylab.labs import LabError, get_lab
from proxylab.labs.aws.lab import AwsLab
from proxylab.labs.base import LAB_METHODS, Lab
from proxylab.labs.local import topology as t
from proxylab.labs.local.lab import LocalLab
from proxylab.labs.registry import available_backends, backend_options

BACKENDS = {"local": LocalLab, "aws": AwsLab}


def test_the_protocol_methods_are_read_from_the_protocol() -> None:
    # An independent oracle: the names the protocol class defines as functions.
    defined = {n for n, v in inspect.getmembers(Lab, inspect.isfunction) if not n.startswith("_")}
    assert set(LAB_METHODS) == defined
    assert {"attach", "function_configuration"} <= defined


def test_every_registered_backend_is_one_of_the_checked_ones() -> None:
    assert set(available_backends()) == set(BACKENDS)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("method", LAB_METHODS)
def test_each_backend_implements_each_protocol_method(backend: str, method: str) -> None:
    impl = getattr(BACKENDS[backend], method, None)
    assert callable(impl), f"{backend} lacks {method}"
    wanted = [p for p in inspect.signature(getattr(Lab, method)).parameters if p != "self"]
    have = [p for p in inspect.signature(impl).parameters if p != "self"]
    # The protocol's parameters, by name and in order; a backend may add optional ones.
    assert have[: len(wanted)] == wanted
    extra = list(inspect.signature(impl).parameters.values())[len(wanted) + 1 :]
    assert all(p.default is not inspect.Parameter.empty for p in extra)


@pytest.mark.parametrize(
    ("backend", "option", "hint"),
    [
        ("local", "regoin", "did you mean 'region'?"),
        ("local", "profile", ""),  # an AWS option means nothing locally
        ("aws", "web_host", ""),  # the local lab's web-site name
        ("aws", "profil", "did you mean 'profile'?"),
    ],
)
def test_a_backend_refuses_an_option_it_does_not_take(backend: str, option: str, hint: str) -> None:
    with pytest.raises(LabError) as exc:
        get_lab(backend, name="optcheck", **{option: "x"})
    msg = str(exc.value)
    assert f"the {backend} backend has no option {option!r}" in msg
    assert hint in msg
    known = backend_options(backend)
    assert known and "name" in known and option not in known
    assert f"(it takes: {', '.join(known)})" in msg


def test_the_options_the_commands_pass_are_known_where_they_apply() -> None:
    # commands/lab.py and commands/run.py pass name, region and assume_yes to any
    # backend, web_host to the local one only.
    for backend in BACKENDS:
        assert {"name", "region", "assume_yes"} <= set(backend_options(backend) or ())
    assert "web_host" in (backend_options("local") or ())


def test_local_takes_any_commercial_region_and_refuses_others() -> None:
    assert get_lab("local", name="regions", region="us-east-1").region == "us-east-1"
    assert get_lab("local", name="regions", region="eu-west-1").region == "eu-west-1"
    assert get_lab("local", name="regions").region == t.REGION  # no lab up: the default
    with pytest.raises(LabError) as exc:
        get_lab("local", name="regions", region="us-east-9")
    assert "unknown region 'us-east-9'" in str(exc.value)
    assert "did you mean 'us-east-2'?" in str(exc.value)
    with pytest.raises(LabError, match="partition 'aws-cn'.*--backend aws"):
        get_lab("local", name="regions", region="cn-north-1")
    with pytest.raises(LabError, match="unknown region 'aws-global'"):
        get_lab("local", name="regions", region="aws-global")  # a pseudo-region


def test_a_lab_built_for_another_region_is_not_up_for_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lab up in us-east-1 is what `LocalLab()` adopts, but never what a run asked
    for eu-west-1 gets: for that region it is not up, and says why."""
    monkeypatch.setenv("PROXYLAB_STATE", str(tmp_path))
    (tmp_path / "built").mkdir()
    (tmp_path / "built" / "lab.json").write_text('{"region": "us-east-1", "up_seconds": 1}')
    assert LocalLab(name="built").region == "us-east-1"
    other = LocalLab(name="built", region="eu-west-1")
    assert not other._is_up()
    assert any("region eu-west-1 (it is built for us-east-1" in m for m in other.missing_parts())
    assert not any("region" in m for m in LocalLab(name="built").missing_parts())


def test_local_refuses_attach() -> None:
    with pytest.raises(LabError, match="nothing to attach to"):
        LocalLab(name="noattach").attach()


def test_cli_run_with_a_region_the_local_lab_cannot_model_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before any lab starts or any capture is written: the run never
    happens in a region it was not asked for."""
    runs = tmp_path / "runs"
    argv = ["run", "--region", "us-gov-west-1", "--name", "regioncli", "--runs-dir", str(runs),
            "-q"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "partition 'aws-us-gov'" in err and "--backend aws" in err
    assert not runs.exists() or not any(runs.iterdir())


def test_cli_lab_up_with_a_bogus_region_creates_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lab = LocalLab(name="regionup")
    assert cli.main(["lab", "up", "--name", "regionup", "--region", "eu-wset-1"]) == 1
    err = capsys.readouterr().err
    assert "unknown region 'eu-wset-1'" in err and "did you mean 'eu-west-1'?" in err
    assert not lab.state.exists()


def test_cli_lab_attach_on_the_local_backend_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["lab", "attach", "--name", "noattach"]) == 1
    assert "nothing to attach to" in capsys.readouterr().err
