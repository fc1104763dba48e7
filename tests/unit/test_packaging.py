"""The two ways to install proxylab (pip, conda) must agree, and CI must run the
README's test command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _name(req: str) -> str:
    return re.split(r"[\s<>=!\[;~]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        pip_deps += extra
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_deps = [d for d in conda_pip if not d.startswith("-e")]
    assert sorted(pip_deps) == sorted(conda_deps), (
        "pyproject.toml and environment.yml disagree: "
        f"only in pyproject: {sorted(set(pip_deps) - set(conda_deps))}, "
        f"only in environment.yml: {sorted(set(conda_deps) - set(pip_deps))}"
    )
    assert len({_name(d) for d in pip_deps}) == len(pip_deps), "a dependency is listed twice"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make report") < 400 and readme.index("make test") < 400
