"""What notebooks/06-clients.ipynb calls: the matrix (measured now or read from a
matrix.json), its report in one language, and the NO_PROXY check, each one call."""

from __future__ import annotations

import json
from pathlib import Path

from proxylab.clients.matrix import Matrix


def matrix(path: str | Path | None = None, measure_now: bool = False,
           clients: list[str] | None = None, cases: list[str] | None = None) -> Matrix:
    """A measured matrix: run in the local lab (``measure_now``) or read from ``path``."""
    if measure_now:
        from proxylab.clients import cases as case_mod
        from proxylab.clients import registry
        from proxylab.clients.measure import measure
        from proxylab.labs.registry import get_lab

        return measure(get_lab("local"), registry.select(clients), case_mod.select(cases),
                       keep_lab=True)
    if path is None or not Path(path).is_file():
        from proxylab.errors import UserError

        raise UserError(f"no matrix at {path}: run `proxylab clients` first, or set "
                        "measure_now = True")
    return Matrix.from_dict(json.loads(Path(path).read_text()))


def show_report(m: Matrix, lang: str = "en", previous: str | Path | None = None) -> None:
    from IPython.display import Markdown, display

    from proxylab.clients import document

    before = matrix(previous) if previous and Path(previous).is_file() else None
    display(Markdown(document.markdown(m, lang, before)))


def show_check(env: dict[str, str], hosts: list[str], clients: list[str] | None = None) -> None:
    from IPython.display import Markdown, display

    from proxylab.clients import check

    display(Markdown(check.text(check.check(env, hosts, clients))))
