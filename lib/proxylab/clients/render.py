"""The client matrix for the terminal: a plain-text table (the report, Markdown and
HTML in two languages, is :mod:`proxylab.clients.document`).

Rows are cases and columns clients (a case id is longer than a route, and there
are more cases than clients, so this way the table stays narrow enough for a
terminal). The JSON beside them (:meth:`Matrix.to_dict`) keeps every cell's
evidence, error and timing.
"""

from __future__ import annotations

from proxylab.clients.matrix import Matrix


def _grid(matrix: Matrix) -> tuple[list[str], list[list[str]]]:
    header = ["case"] + [c["name"] for c in matrix.clients]
    rows = [[case["id"]] + [matrix.cell(c["name"], case["id"]).label for c in matrix.clients]
            for case in matrix.cases]
    return header, rows


def text(matrix: Matrix) -> str:
    header, rows = _grid(matrix)
    versions = ["version"] + [c["version"] or "-" for c in matrix.clients]
    table = [header, versions, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

    out = [line(header), line(versions), line(["-" * w for w in widths]), *map(line, rows)]
    out += _footnotes(matrix)
    return "\n".join(out) + "\n"


def _footnotes(matrix: Matrix) -> list[str]:
    notes = [""]
    for c in matrix.clients:
        if c["version"] is None:
            notes.append(f"{c['name']}: not installed ({c['install']})")
    details = sorted({(cell.client, cell.detail) for cell in matrix.cells if cell.detail})
    for client, detail in details:
        notes.append(f"{client}: {detail}")
    for authority, n in sorted(matrix.meta.get("unmatched_connects", {}).items()):
        notes.append(f"Squid logged {n} CONNECT {authority} that no front saw arrive")
    return notes if len(notes) > 1 else []
