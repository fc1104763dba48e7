"""The client matrix report: one document, Markdown and HTML, in any language of
:mod:`proxylab.clients.words`.

The document is built once as blocks (heading, paragraph, list, table) from the
facts (:mod:`proxylab.clients.facts`) and the words of one language, then written as
Markdown or as a self-contained HTML page (no scripts, no external files), so the
two formats cannot say different things.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from types import ModuleType

from proxylab.clients import facts
from proxylab.clients import words as w
from proxylab.clients.matrix import Cell, Matrix
from proxylab.vocab import Agreement


@dataclass
class Block:
    kind: str  # h1 | h2 | p | ul | table
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # table: header first
    classes: list[list[str]] = field(default_factory=list)  # table: per cell CSS class


def _mark(cell: Cell) -> str:
    mark = {Agreement.DIFFERS: " ✗", Agreement.NO_RULE: " ?"}.get(cell.agreement, "") \
        if cell.agreement else ""
    return mark + (" ↻" if cell.rechecked else "")


def _cell_label(cell: Cell, words: ModuleType) -> str:
    if cell.route is not None:
        return words.route(cell.route) + _mark(cell)
    return words.NOT_INSTALLED if cell.note.startswith("not installed") else "-"


def blocks(matrix: Matrix, lang: str = "en", previous: Matrix | None = None) -> list[Block]:
    words = w.lang(lang)
    out = [Block("h1", words.TITLE), Block("p", words.lab_line(matrix.meta)),
           Block("h2", words.HEAD["summary"]),
           Block("p", w.summary(facts.summary(matrix), lang).text),
           Block("p", words.LEGEND)]
    names = [c["name"] for c in matrix.clients]
    header = [words.COLUMNS["case"], *names]
    versions = [words.COLUMNS["version"],
                *[c["version"] or words.NOT_INSTALLED for c in matrix.clients]]
    rows, classes = [header, versions], [[""] * len(header), [""] * len(header)]
    for case in matrix.cases:
        cells = [matrix.cell(n, case["id"]) for n in names]
        rows.append([case["id"], *[_cell_label(c, words) for c in cells]])
        classes.append(["", *[(str(c.route) if c.route else "none")
                              + (" differs" if c.agreement == Agreement.DIFFERS else "")
                              for c in cells]])
    out += [Block("h2", words.HEAD["matrix"]), Block("table", rows=rows, classes=classes)]
    by_client: dict[str, list[str]] = {}
    for fact in facts.behaviours(matrix):
        by_client.setdefault(fact.client, []).append(w.behaviour(fact, lang).text)
    out.append(Block("h2", words.HEAD["behaviour"]))
    out.append(Block("ul", items=[t for items in by_client.values() for t in items]))
    out.append(Block("h2", words.HEAD["changes"]))
    if previous is None:
        out.append(Block("p", words.NO_PREVIOUS))
    else:
        changed = facts.changes(previous, matrix)
        out.append(Block("ul", items=[w.change(c, lang).text for c in changed]) if changed
                   else Block("p", words.NO_CHANGES))
    cols = words.COLUMNS
    case_rows = [[cols["case"], cols["target"], cols["environment"], cols["asks"]]]
    for case in matrix.cases:
        env = " ".join(f"{k}={v}" for k, v in case["env"].items())
        asks = getattr(words, "CASES", {}).get(case["id"], case["summary"])
        case_rows.append([case["id"], case["target"], env, asks])
    out += [Block("h2", words.HEAD["cases"]), Block("table", rows=case_rows)]
    notes = [words.unmatched(a, n)
             for a, n in sorted(matrix.meta.get("unmatched_connects", {}).items())]
    if notes:
        out += [Block("h2", words.HEAD["notes"]), Block("ul", items=notes)]
    return out


def markdown(matrix: Matrix, lang: str = "en", previous: Matrix | None = None) -> str:
    lines: list[str] = []

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    for b in blocks(matrix, lang, previous):
        if b.kind == "h1":
            lines += [f"# {b.text}", ""]
        elif b.kind == "h2":
            lines += [f"## {b.text}", ""]
        elif b.kind == "p":
            lines += [b.text, ""]
        elif b.kind == "ul":
            lines += [*(f"- {i}" for i in b.items), ""]
        elif b.kind == "table":
            lines += [row(b.rows[0]), row(["---"] * len(b.rows[0])), *map(row, b.rows[1:]), ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """body{font-family:system-ui,'Noto Sans CJK JP',sans-serif;margin:2em;max-width:100em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .4em}
td.proxy{background:#fde2c8}td.direct{background:#d6f0d6}td.failed{background:#f6c6c6}
td.differs{outline:3px solid #c00}td.none{color:#999}code{background:#f4f4f4}"""


def _inline(text: str) -> str:
    """Markdown's `code` spans as <code>, everything else escaped."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def html_page(matrix: Matrix, lang: str = "en", previous: Matrix | None = None) -> str:
    body: list[str] = []
    title = ""
    for b in blocks(matrix, lang, previous):
        if b.kind in ("h1", "h2"):
            title = title or b.text
            body.append(f"<{b.kind}>{_inline(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{_inline(b.text)}</p>")
        elif b.kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            classes = b.classes or [[""] * len(r) for r in b.rows]
            head = "".join(f"<th>{_inline(c)}</th>" for c in b.rows[0])
            rows = "".join(
                "<tr>" + "".join(f'<td class="{k}">{_inline(c)}</td>' if k else
                                 f"<td>{_inline(c)}</td>" for c, k in zip(r, ks, strict=True))
                + "</tr>" for r, ks in zip(b.rows[1:], classes[1:], strict=True))
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
