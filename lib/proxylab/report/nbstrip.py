"""Git's clean filter for notebooks: what git stores is the notebook without outputs.

JupyterLab autosaves outputs into ``notebooks/*.ipynb``; with this filter the file on
disk keeps them (the user sees their work) while ``git add``/``git diff`` see the
notebook as stored: no outputs, no execution counts, no per-machine metadata.
``make setup`` installs it (``.gitattributes`` names it)::

    git config filter.proxylab-nbstrip.clean "python3 lib/proxylab/report/nbstrip.py"
    git config filter.proxylab-nbstrip.required true

Standard library only, and runnable as a script, so git can run it in any checkout
before (or without) the virtualenv. Reads a notebook on stdin, writes it to stdout in
nbformat's own layout (one-space indent, sorted keys, trailing newline), so a clean
notebook passes through byte for byte.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# Notebook-level metadata that only records where and how it last ran.
NOTEBOOK_META_DROP = ("widgets", "papermill", "execution", "toc", "varInspector")
# Cell-level metadata that only records a run; tags (papermill's "parameters",
# nbconvert's "remove-input") and the rest are the author's and stay.
CELL_META_DROP = ("execution", "papermill", "collapsed", "scrolled", "ExecuteTime")


def strip(nb: dict[str, Any]) -> dict[str, Any]:
    """The notebook as git stores it (the argument is changed and returned)."""
    meta = nb.get("metadata") or {}
    for key in NOTEBOOK_META_DROP:
        meta.pop(key, None)
    lang = meta.get("language_info")
    if isinstance(lang, dict):  # the kernel's version and lexer differ per machine
        meta["language_info"] = {"name": lang.get("name", "python")}
    cells = []
    for cell in nb.get("cells") or []:
        tags = (cell.get("metadata") or {}).get("tags") or []
        if "injected-parameters" in tags:  # papermill's, never the author's
            continue
        cmeta = cell.get("metadata") or {}
        for key in CELL_META_DROP:
            cmeta.pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    nb["cells"] = cells
    return nb


def dumps(nb: dict[str, Any]) -> str:
    """nbformat's writer layout, so unchanged notebooks stay byte-identical."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    text = sys.stdin.read()
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        # Not JSON (a half-written file, a merge conflict): store it as it is and say so,
        # rather than failing `git add` with no way to see what went wrong.
        print(f"nbstrip: not a notebook ({exc}); stored unchanged", file=sys.stderr)
        sys.stdout.write(text)
        return 0
    sys.stdout.write(dumps(strip(nb)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
