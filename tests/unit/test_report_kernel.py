"""The report's four notebooks share one kernel and one client (report/kernel.py), and
each still starts from an empty namespace: a notebook that used a name another one
left behind would work in the report and fail when opened alone."""

from __future__ import annotations

from pathlib import Path

import nbformat

from proxylab.report import kernel as kernels
from proxylab.report import render

pm = kernels.papermill()


def _nb(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


def _text(nb_path: Path) -> str:
    nb = nbformat.read(str(nb_path), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.outputs)


def test_one_kernel_each_notebook_from_an_empty_namespace(tmp_path):
    first = _nb(tmp_path / "a.ipynb", "import os\nleftover = 1\nprint('pid', os.getpid())")
    second = _nb(tmp_path / "b.ipynb",
                 "import os\nprint('pid', os.getpid())\nprint('leftover' in dir())")
    with kernels.shared_kernel(render.kernel_name(), cwd=tmp_path) as kernel:
        clients = []
        for src in (first, second):
            kernel.run(pm, src, src.with_suffix(".out.ipynb"), {}, progress_bar=False)
            clients.append(kernel.kc)
        km = kernel.km
    assert clients[0] is clients[1] is not None  # connected once
    a, b = _text(first.with_suffix(".out.ipynb")), _text(second.with_suffix(".out.ipynb"))
    assert a.split()[1] == b.split()[1]  # the same kernel process
    assert b.split()[2] == "False"  # the first notebook's variable is gone
    from jupyter_core.utils import run_sync

    assert not run_sync(km.is_alive)()  # shut down on leaving


def _names_and_module(tmp_path: Path, warm_up: tuple[str, ...]) -> list[str]:
    probe = _nb(tmp_path / f"probe{len(warm_up)}.ipynb",
                "import sys\nprint('colorsys' in sys.modules, "
                "sorted(n for n in dir() if not n.startswith('_') and n != 'sys'))")
    with kernels.shared_kernel(render.kernel_name(), cwd=tmp_path, warm_up=warm_up) as kernel:
        kernel.run(pm, probe, probe.with_suffix(".out.ipynb"), {}, progress_bar=False)
    return _text(probe.with_suffix(".out.ipynb")).split(" ", 1)


def test_warm_up_imports_modules_and_binds_no_name(tmp_path):
    """The kernel imports the notebooks' modules while papermill loads; the first
    notebook still sees an empty namespace, and a module that cannot be imported is
    the notebook's error to show, not the warm-up's."""
    cold_seen, cold_names = _names_and_module(tmp_path, ())
    warm_seen, warm_names = _names_and_module(tmp_path, ("colorsys", "proxylab_no_such_mod"))
    assert (cold_seen, warm_seen) == ("False", "True")
    assert warm_names == cold_names
