"""The notebooks: stored clean, and executed through papermill on fixture captures
(via `proxylab report --from`, as a user would) without any error output."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from proxylab.report.render import NOTEBOOKS, notebooks_dir

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "captures"
SEED = [FIX / n for n in ("20261124T153210Z-seed-1-a1b2", "20261124T153230Z-seed-2-c3d4",
                          "20261124T153250Z-seed-3-e5f6", "20261124T153310Z-seed-4-a7b8")]


def _stored(name: str) -> str:
    """The notebook as git stores it (the index: what the next commit holds). The file
    on disk may hold the outputs JupyterLab saved; the clean filter keeps them out of
    git (tests/unit/test_jupyterlab.py shows that end to end)."""
    if (ROOT / ".git").exists():
        return subprocess.run(["git", "-C", str(ROOT), "show", f":notebooks/{name}"],
                              check=True, capture_output=True, text=True, timeout=30).stdout
    return (ROOT / "notebooks" / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [*NOTEBOOKS, "05-audit.ipynb", "06-clients.ipynb"])
def test_stored_without_outputs_and_with_parameters(name):
    nb = nbformat.reads(_stored(name), as_version=4)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one papermill parameters cell"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name} has outputs"


def test_notebooks_dir_is_found():
    assert notebooks_dir() == ROOT / "notebooks"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from proxylab.cli import main

    out = tmp_path_factory.mktemp("reports") / "seed"
    code = main(["report", "--from", *map(str, SEED), "--out", str(out), "--quiet"])
    assert code == 0
    return out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_executed_notebook_has_no_errors(rendered, name):
    nb = nbformat.read(str(rendered / "notebooks" / name), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs, f"{name} produced nothing"
    errors = [o for o in outputs if o.output_type == "error"
              or (o.output_type == "stream" and o.name == "stderr" and "Traceback" in o.text)]
    assert errors == []


def test_html_is_self_contained(rendered):
    html = (rendered / "index.html").read_text()
    assert not re.search(r"<script[^>]+src=\"https?://", html)
    assert not re.search(r"<link[^>]+href=\"https?://", html)
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(images) >= 6  # topology, matrix, one timeline per run
    assert base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert "papermill" not in html and "import " not in html  # inputs hidden


def test_markdown_has_conclusion_table_and_image_files(rendered):
    md = (rendered / "report.md").read_text()
    assert ("S3 and the private API bypassed the proxy only when NO_PROXY matched them "
            "(S3: seed-2, seed-4; the private API: seed-4)") in md
    assert "| api | p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com | failed-at-proxy |" in md
    assert "TCP_TUNNEL/503 0 CONNECT p4v9t3n6zd" in md
    imgs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(imgs) >= 6
    for rel in imgs:
        assert (rendered / rel).read_bytes().startswith(b"\x89PNG")
