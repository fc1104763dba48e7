"""The report's pages, from the executed report notebook: ``index.html`` (a table of
contents, each scenario's evidence collapsible), ``report.md`` in the Markdown each
blog platform needs; report/browser.py prints the PDF from the same page.

nbconvert's exporters know nothing of the report's structure: images come out as
``output_5_2.png`` with the alt text "png" and nothing can be folded. Notebook 04's
outputs carry it instead (:func:`proxylab.report.document.display` puts a ``proxylab``
entry in each output's metadata: the section, the run, an image's file name and alt
text), so one list of :class:`Block` renders every page.

Flavours (``FLAVORS``), what each platform's Markdown needs:

- ``github``: ``report.md`` and ``report_files/``; ``<details>`` folds.
- ``zenn``: a Zenn CLI tree, ``zenn/articles/<slug>.md`` and ``zenn/images/<slug>/``
  referenced as ``/images/<slug>/...`` (Zenn serves images from there); front matter
  (title, emoji, type, topics, published); ``:::details`` folds; no raw HTML, so no
  ``<br>`` in tables.
- ``qiita``: a Qiita CLI tree, ``qiita/public/<slug>.md`` (front matter: title, tags,
  private, ...), images in ``qiita/images/``; ``<details>`` folds.
- ``devto``: ``devto/<slug>.md`` (front matter: title, published, description, tags),
  images in ``devto/images/``; ``{% details %}`` folds.

Qiita and dev.to take images only as URLs of uploaded files: with ``image_url`` the
links point there (upload the image folder to it), else they are relative to the file.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLAVORS = ("github", "zenn", "qiita", "devto")
META = "proxylab"  # the key of the report's own entry in an output's metadata
RUN_SECTION = "run"
# Charts are drawn at SCALE times the pixels they are shown at (sharp on high-density
# screens); report/charts.py draws at it, the pages show each PNG at 1/SCALE. Here, not
# in charts, so writing a page imports no matplotlib or pandas.
SCALE = 2


@dataclass(frozen=True)
class Block:
    """One displayed output: Markdown text, or a PNG with its file name and alt text."""

    section: str
    markdown: str = ""
    png: bytes | None = None
    name: str = ""
    alt: str = ""
    run: str | None = None


def blocks(notebook: Path) -> list[Block]:
    """The report's outputs in order (parameters cells and stream output excluded:
    what a kernel printed is in its log, never in the report)."""
    import base64

    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    out: list[Block] = []
    n_fig = 0
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type != "code" or {"parameters", "injected-parameters"} & tags:
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") not in ("display_data", "execute_result"):
                continue
            meta = dict(o.get("metadata", {}).get(META, {}))
            data = o.get("data", {})
            section, run = str(meta.get("section", "")), meta.get("run")
            if "image/png" in data:
                n_fig += 1
                out.append(Block(section, png=base64.b64decode(data["image/png"]),
                                 name=_slug(str(meta.get("name") or f"figure-{n_fig}")),
                                 alt=str(meta.get("alt") or ""), run=run))
            elif "text/markdown" in data:
                out.append(Block(section, markdown=str(data["text/markdown"]), run=run))
    return _unique_names(out)


def _unique_names(items: list[Block]) -> list[Block]:
    seen: dict[str, int] = {}
    fixed = []
    for b in items:
        if b.png is not None:
            k = seen[b.name] = seen.get(b.name, 0) + 1
            if k > 1:
                b = Block(b.section, b.markdown, b.png, f"{b.name}-{k}", b.alt, b.run)
        fixed.append(b)
    return fixed


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "figure"


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's pixel size from its IHDR chunk (bytes 16-24)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


# ------------------------------------------------------------------------ grouping
@dataclass(frozen=True)
class Part:
    """Blocks outside any scenario, or one scenario's blocks (``run`` set)."""

    blocks: tuple[Block, ...]
    run: str | None = None

    @property
    def summary(self) -> str:
        """A scenario's heading line ("### seed-1: title") without the hashes."""
        first = self.blocks[0].markdown.lstrip().splitlines()[0] if self.blocks else ""
        return first.lstrip("#").strip()

    def body(self) -> tuple[Block, ...]:
        """The scenario's blocks without the heading line the summary shows."""
        if not self.blocks:
            return ()
        head, *rest = self.blocks
        text = "\n".join(head.markdown.lstrip().splitlines()[1:]).strip("\n")
        return (Block(head.section, text, run=head.run), *rest)


def parts(items: Iterable[Block]) -> list[Part]:
    out: list[Part] = []
    for b in items:
        if b.section == RUN_SECTION and b.run:
            if out and out[-1].run == b.run:
                out[-1] = Part((*out[-1].blocks, b), b.run)
            else:
                out.append(Part((b,), b.run))
        elif out and out[-1].run is None:
            out[-1] = Part((*out[-1].blocks, b))
        else:
            out.append(Part((b,)))
    return out


# ---------------------------------------------------------------------------- HTML
def _md() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table")


_HEADING = re.compile(r"<h([23])>(.*?)</h\1>", re.S)
_PRE = re.compile(r"(<pre><code[^>]*>)(.*?)(</code></pre>)", re.S)


def _keep_tokens(m: re.Match[str]) -> str:
    """Log lines wrap at their spaces only: each token in a no-wrap span, since browsers
    also break after a hyphen ("ap-northeast-" / "1.amazonaws.com"), which reads like
    two tokens. Copied text is unchanged (spans add no characters)."""
    body = re.sub(r"[^\s<>]+", lambda t: f'<span class="tok">{t.group(0)}</span>', m.group(2))
    return m.group(1) + body + m.group(3)


def _anchor(text: str, used: set[str]) -> str:
    plain = re.sub(r"<[^>]+>", "", html_lib.unescape(text))
    base = _slug(plain)[:48] or "section"
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}-{k}"
    used.add(name)
    return name


def html_page(items: list[Block], title: str, lang: str, contents: str,
              expand: bool = False) -> str:
    """A self-contained page (images as data URIs, no script or style from elsewhere):
    a table of contents after the title, and each scenario in a ``<details>`` (open
    with ``expand``, as the PDF prints it)."""
    import base64

    md = _md()
    used: set[str] = set()
    toc: list[tuple[int, str, str]] = []

    def render_md(text: str) -> str:
        out = _PRE.sub(_keep_tokens, md.render(text))

        def add_id(m: re.Match[str]) -> str:
            level, inner = int(m.group(1)), m.group(2)
            anchor = _anchor(inner, used)
            toc.append((level, anchor, re.sub(r"<[^>]+>", "", inner)))
            return f'<h{level} id="{anchor}">{inner}</h{level}>'
        return _HEADING.sub(add_id, out)

    def render_block(b: Block) -> str:
        if b.png is None:
            return render_md(b.markdown)
        w, _ = png_size(b.png)
        data = base64.b64encode(b.png).decode("ascii")
        return (f'<figure class="chart" id="fig-{b.name}"><img src="data:image/png;base64,'
                f'{data}" width="{max(1, w // SCALE)}" alt="{html_lib.escape(b.alt)}">'
                "</figure>")

    body: list[str] = []
    for part in parts(items):
        if part.run is None:
            body += [render_block(b) for b in part.blocks]
            continue
        anchor = _anchor(part.summary, used)
        toc.append((3, anchor, part.summary))
        summary = md.renderInline(part.summary)
        inner = "\n".join(render_block(b) for b in part.body())
        body.append(f'<details id="{anchor}" class="scenario"{" open" if expand else ""}>'
                    f'<summary><h3 class="summary">{summary}</h3></summary>\n{inner}\n'
                    "</details>")
    # the contents go after the page's first block (the title)
    nav = _toc_html(toc, contents)
    first, rest = (body[0], body[1:]) if body else ("", [])
    doc_title = html_lib.escape(title)
    return (f'<!DOCTYPE html>\n<html lang="{html_lib.escape(lang)}">\n<head>\n'
            '<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{doc_title}</title>\n<style>{PAGE_CSS}</style>\n</head>\n<body>\n"
            f'<main class="report">\n{first}\n{nav}\n' + "\n".join(rest)
            + f"\n</main>\n<script>{OPEN_TARGET_JS}</script>\n</body>\n</html>\n")


def _toc_html(entries: list[tuple[int, str, str]], label: str) -> str:
    if not entries:
        return ""
    items, open_sub = [], False
    for level, anchor, text in entries:
        link = f'<a href="#{anchor}">{html_lib.escape(html_lib.unescape(text))}</a>'
        if level == 3 and not open_sub:
            items.append("<ul>")
            open_sub = True
        elif level == 2 and open_sub:
            items.append("</ul></li>")
            open_sub = False
        elif level == 2 and items:
            items.append("</li>")
        items.append(f"<li>{link}" + ("</li>" if level == 3 else ""))
    items.append("</ul></li>" if open_sub else "</li>")
    return (f'<nav class="toc" aria-label="{html_lib.escape(label)}"><h2 class="toc-h">'
            f"{html_lib.escape(label)}</h2><ul>{''.join(items)}</ul></nav>")


# A link to a folded scenario opens it (browsers scroll to a closed <details> but do
# not open it); inline, so the page still needs nothing from the network.
OPEN_TARGET_JS = (
    "function openTarget(){var id=decodeURIComponent(location.hash.slice(1));"
    "var el=id&&document.getElementById(id);if(el&&el.tagName==='DETAILS'){el.open=true;"
    "el.scrollIntoView();}}window.addEventListener('hashchange',openTarget);openTarget();")

# One column of readable width; charts no wider than it (they are PNGs at twice their
# design width, shown at their design width or narrower); wide tables scroll rather
# than push the page wider; code never breaks inside a token (a copied value is whole).
# Print: every scenario starts a page, figures and table rows are not split.
PAGE_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --code-bg: #f6f8fa; }
html { font-size: 16px; }
body { margin: 0; color: var(--fg); background: #fff;
  font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Noto Sans",
    "IPAPGothic", "IPAGothic", "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", sans-serif;
  line-height: 1.6; }
:lang(ja) body, body:lang(ja) { line-break: strict; }
main.report { max-width: 760px; margin: 0 auto; padding: 24px 16px 64px;
  box-sizing: border-box; overflow-wrap: break-word; }
h1 { font-size: 1.9rem; line-height: 1.25; }
h2 { font-size: 1.45rem; margin-top: 2.2em; border-bottom: 1px solid var(--line);
  padding-bottom: .2em; }
h3 { font-size: 1.15rem; }
a { color: #0969da; }
img { max-width: 100%; height: auto; }
figure.chart { margin: 1em 0; }
table { display: block; max-width: 100%; overflow-x: auto; border-collapse: collapse;
  margin: 1em 0; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--code-bg); white-space: nowrap; }
td:first-child { white-space: nowrap; }
code { font-family: ui-monospace, "DejaVu Sans Mono", "Noto Sans Mono", monospace;
  font-size: .85em; background: var(--code-bg); padding: .1em .3em; border-radius: 4px; }
td code { white-space: nowrap; }
pre { background: var(--code-bg); padding: 10px 12px; border-radius: 6px;
  overflow-x: auto; white-space: pre-wrap; word-break: normal; overflow-wrap: normal; }
pre code { background: none; padding: 0; font-size: .8rem; white-space: inherit; }
pre .tok { white-space: nowrap; }
nav.toc { border: 1px solid var(--line); border-radius: 6px; padding: 4px 16px;
  margin: 1.5em 0; background: #fbfcfd; }
nav.toc h2.toc-h { font-size: 1rem; border: 0; margin: .6em 0 .2em; }
nav.toc ul { margin: .2em 0 .6em; padding-left: 1.2em; }
details.scenario { border: 1px solid var(--line); border-radius: 6px; margin: .8em 0;
  padding: 0 12px; }
details.scenario > summary { cursor: pointer; list-style-position: outside;
  margin-left: 1em; padding: .55em 0; }
details.scenario > summary h3 { display: inline; margin: 0; line-height: 1.4; }
details.scenario[open] > summary { border-bottom: 1px solid var(--line);
  margin-bottom: .6em; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  html { font-size: 11pt; }
  main.report { max-width: none; padding: 0; }
  nav.toc { break-after: page; }
  details.scenario { break-before: page; border: 0; padding: 0; }
  details.scenario > summary { list-style: none; margin-left: 0; }
  h2, h3 { break-after: avoid; }
  figure, tr, img { break-inside: avoid; }
  pre { break-inside: auto; }
  /* paper cannot scroll: long values wrap anywhere rather than run off the page */
  pre, td code, pre .tok { white-space: pre-wrap; overflow-wrap: anywhere; }
  table { display: table; width: 100%; }
  a { color: inherit; text-decoration: none; }
}
"""


# ------------------------------------------------------------------------ Markdown
@dataclass(frozen=True)
class Written:
    """A Markdown export: the file and the images it references."""

    markdown: Path
    images: list[Path]


def article_slug(name: str) -> str:
    """The export's file name from the report's name, as Zenn accepts it (12 to 50 of
    a-z, 0-9, - and _): a short name gets a ``proxylab-`` prefix."""
    base = _slug(name)
    if len(base) < 12:
        base = f"proxylab-{base}"
    return (base + "-report")[:50] if len(base) < 12 else base[:50]


def front_matter(flavor: str, title: str, description: str, lang: str) -> str:
    """What each platform reads from the top of the file (YAML; values quoted as JSON,
    which YAML reads unchanged)."""
    q = json.dumps
    if flavor == "zenn":
        return "\n".join(["---", f"title: {q(title[:70], ensure_ascii=False)}",
                          'emoji: "🧭"', 'type: "tech"',
                          'topics: ["aws", "lambda", "proxy", "vpc", "squid"]',
                          "published: false", "---", ""])
    if flavor == "qiita":
        return "\n".join(["---", f"title: {q(title, ensure_ascii=False)}",
                          "tags:", "  - AWS", "  - lambda", "  - proxy", "  - VPC",
                          "  - Squid", "private: true", "updated_at: ''", "id: null",
                          "organization_url_name: null", "slide: false",
                          "ignorePublish: false", "---", ""])
    if flavor == "devto":
        return "\n".join(["---", f"title: {q(title, ensure_ascii=False)}", "published: false",
                          f"description: {q(description[:150], ensure_ascii=False)}",
                          "tags: aws, lambda, proxy, vpc", "---", ""])
    return ""


def _fold(flavor: str, summary: str, body: str) -> str:
    if flavor == "zenn":
        return f":::details {summary}\n\n{body}\n\n:::"
    if flavor == "devto":
        return f"{{% details {summary} %}}\n\n{body}\n\n{{% enddetails %}}"
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def _no_br_in_tables(text: str) -> str:
    """Zenn and dev.to show ``<br>`` in a table cell as text: a space instead."""
    return "\n".join(line.replace("<br>", " ") if line.lstrip().startswith("|") else line
                     for line in text.splitlines())


def _alt(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("[", "(").replace("]", ")")).strip()


def write_markdown(items: list[Block], out_dir: Path, flavor: str, title: str, name: str,
                   lang: str, image_url: str | None = None) -> Written:
    """One flavour's Markdown file and its image folder under ``out_dir``."""
    if flavor not in FLAVORS:
        raise ValueError(f"flavor must be one of {', '.join(FLAVORS)}, not {flavor!r}")
    slug = article_slug(name)
    if flavor == "github":
        md_path, img_dir, link = out_dir / "report.md", out_dir / "report_files", "report_files"
    elif flavor == "zenn":
        root = out_dir / "zenn"
        md_path, img_dir = root / "articles" / f"{slug}.md", root / "images" / slug
        link = f"/images/{slug}"
    elif flavor == "qiita":
        root = out_dir / "qiita"
        md_path, img_dir, link = root / "public" / f"{slug}.md", root / "images", "../images"
    else:
        root = out_dir / "devto"
        md_path, img_dir, link = root / f"{slug}.md", root / "images", "images"
    if image_url:
        link = image_url.rstrip("/")
    if img_dir.exists():
        shutil.rmtree(img_dir)
    img_dir.mkdir(parents=True)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    images: list[Path] = []

    def render(b: Block) -> str:
        if b.png is None:
            return b.markdown if flavor == "github" else _no_br_in_tables(b.markdown)
        path = img_dir / f"{b.name}.png"
        path.write_bytes(b.png)
        images.append(path)
        return f"![{_alt(b.alt)}]({link}/{path.name})"

    chunks: list[str] = []
    for part in parts(items):
        if part.run is None:
            chunks += [render(b) for b in part.blocks]
        else:
            body = "\n\n".join(render(b) for b in part.body())
            chunks.append(_fold(flavor, part.summary, body))
    text = "\n\n".join(c.strip("\n") for c in chunks if c.strip())
    if flavor != "github":  # the platform shows the title from the front matter
        text = re.sub(r"\A# [^\n]*\n+", "", text)
    description = _description(items)
    md_path.write_text(front_matter(flavor, title, description, lang) + text + "\n",
                       encoding="utf-8")
    return Written(md_path, images)


def _description(items: list[Block]) -> str:
    """The answer's headline (the first bold line after the title), for dev.to."""
    for b in items:
        m = re.search(r"^\*\*(.+?)\*\*\s*$", b.markdown, re.M)
        if m:
            return m.group(1)
    return ""


_IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def image_links(markdown: str) -> list[tuple[str, str]]:
    """(alt, target) of every Markdown image in the text."""
    return _IMAGE_LINK.findall(markdown)


def missing_images(written: Written, flavor: str) -> list[str]:
    """Image links of an export that do not resolve to a file it wrote (Zenn's
    ``/images/...`` from the Zenn tree's root)."""
    text = written.markdown.read_text(encoding="utf-8")
    root = written.markdown.parent.parent if flavor == "zenn" else written.markdown.parent
    bad = []
    for _, target in image_links(text):
        path = (root / target.lstrip("/")) if target.startswith("/") else \
            (written.markdown.parent / target)
        if not path.resolve().is_file():
            bad.append(target)
    return bad
