"""The rendered report as a reader gets it: index.html in headless Chromium at a blog
column (760 px) and a desktop window (1280 px), in English and Japanese; the Markdown
exports of every flavour; the PDF.

Rendered once per language from the combined local + AWS fixture captures (the set
where seed-3's S3 cell holds two bucket hosts). The page is measured by a script put
into a copy of it (the numbers come back in the DOM Chromium dumps), and a picture is
taken at each width; set ``PROXYLAB_SCREENSHOTS=DIR`` to keep the pictures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from proxylab.report import browser, charts, publish, render

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
WIDTHS = (760, 1280)

needs_chromium = pytest.mark.skipif(browser.chromium() is None,
                                    reason="no Chromium (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = {}
    for lang in ("en", "ja"):
        d = tmp_path_factory.mktemp(f"report-{lang}")
        out[lang] = render.execute([str(FIX)], d, lang=lang, flavors=publish.FLAVORS,
                                   pdf=None, name="fixture-report")
    return out


# Runs once the page has loaded: what a reader would see clipped or too wide.
MEASURE_JS = """
window.addEventListener('load', function () {
  var main = document.querySelector('main.report');
  var cs = getComputedStyle(main);
  var column = main.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  var imgs = Array.prototype.map.call(document.querySelectorAll('figure.chart img'),
    function (i) { return {id: i.parentElement.id, width: i.getBoundingClientRect().width,
                           natural: i.naturalWidth, alt: i.alt}; });
  var clipped = [];
  document.querySelectorAll('h1,h2,h3,summary,p,li,th,td,a,figure').forEach(function (e) {
    var s = getComputedStyle(e);
    var hides = s.overflowX === 'hidden' || s.overflowX === 'clip' ||
      s.textOverflow === 'ellipsis';
    if (hides && e.scrollWidth > e.clientWidth + 1)
      clipped.push(e.tagName + ': ' + e.textContent.slice(0, 60));
  });
  var wide = [];
  document.querySelectorAll('main.report > *').forEach(function (e) {
    if (e.getBoundingClientRect().right > main.getBoundingClientRect().right + 1)
      wide.push(e.tagName + '#' + e.id);
  });
  document.body.setAttribute('data-measure', JSON.stringify({
    inner: window.innerWidth, page: document.documentElement.scrollWidth, column: column,
    imgs: imgs, clipped: clipped, wide: wide, text: document.body.innerText.length,
    glyph: document.body.innerText.indexOf('Glyph') >= 0,
    details: document.querySelectorAll('details.scenario').length,
    toc: document.querySelectorAll('nav.toc a').length, lang: document.documentElement.lang}));
});
"""


def measure(page: Path, width: int, tmp: Path) -> dict:
    probe = tmp / f"measure-{width}.html"
    probe.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", f"<script>{MEASURE_JS}</script></body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        cmd = browser.chromium_args(browser.chromium(), Path(profile)) + [
            f"--window-size={width},1600", "--virtual-time-budget=5000", "--dump-dom",
            probe.as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    m = re.search(r'data-measure="([^"]*)"', done.stdout)
    assert m, "the measuring script did not run"
    import html

    return json.loads(html.unescape(m.group(1)))


@needs_chromium
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("width", WIDTHS)
def test_index_html_in_chromium(rendered, lang, width, tmp_path):
    done = rendered[lang]
    m = measure(done.html, width, tmp_path)
    assert m["inner"] == width and m["lang"] == lang
    # nothing makes the page scroll sideways; no block is wider than the column
    assert m["page"] <= width, m
    assert m["wide"] == [], m["wide"]
    # every chart is inside the column, never scaled up past its design width
    by_id = {i["id"]: i for i in m["imgs"]}
    assert {"fig-route-matrix", "fig-lab-topology"} <= set(by_id)
    for img in m["imgs"]:
        assert 0 < img["width"] <= m["column"] + 0.5, img
        assert img["width"] <= img["natural"] / charts.SCALE + 0.5, img
        assert img["alt"] and img["alt"] != "png", img
    assert by_id["fig-route-matrix"]["width"] <= m["column"] + 0.5
    # no text cut off by a hidden overflow or an ellipsis
    assert m["clipped"] == [], m["clipped"]
    assert not m["glyph"] and m["text"] > 2000
    # one folded section per run, all in the contents
    assert m["details"] == _runs(done) and m["toc"] >= m["details"] + 5
    shot = browser.screenshot(done.html, tmp_path / f"{lang}-{width}.png", width, 2400)
    _looks_like_a_page(shot, width)
    keep = os.environ.get("PROXYLAB_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def _runs(done: render.Rendered) -> int:
    """Runs in the report: one folded section each (the oracle: the fixture's run.json
    files, not the report)."""
    return len(list(FIX.glob("*/run.json")))


def _looks_like_a_page(png: Path, width: int) -> None:
    from PIL import Image

    with Image.open(png) as im:
        assert im.size[0] == width
        colours = im.convert("RGB").resize((width // 8, 300)).getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50  # text and charts, not a blank page


def test_japanese_text_has_a_cjk_font():
    """Both places Japanese is drawn resolve to a CJK font: matplotlib's fallback (the
    charts) and fontconfig's answer for Japanese sans-serif (what Chromium asks)."""
    from matplotlib import font_manager

    families = charts.configure_fonts()
    assert families[-1] in charts.CJK_FAMILIES, families
    path = font_manager.findfont(font_manager.FontProperties(family=families[-1]),
                                 fallback_to_default=False)
    assert charts._CJK_FILE.search(path), path
    if shutil.which("fc-match"):
        fc = subprocess.run(["fc-match", "-f", "%{family}|%{file}", "sans-serif:lang=ja"],
                            capture_output=True, text=True, timeout=30, check=True).stdout
        fam, _, file = fc.partition("|")
        assert charts._CJK_FILE.search(file) or any(f in fam for f in charts.CJK_FAMILIES), fc


def test_pages_hold_no_warning_and_name_their_images(rendered):
    for lang, done in rendered.items():
        md = done.markdown.read_text(encoding="utf-8")
        page = done.html.read_text(encoding="utf-8")
        for text in (md, page):
            assert "Glyph" not in text and "UserWarning" not in text
        assert f'<html lang="{lang}">' in page
        links = publish.image_links(md)
        assert links and not [a for a, _ in links if a in ("", "png")]
        names = {Path(t).name for _, t in links}
        assert {"route-matrix.png", "lab-topology.png"} <= names
        assert not [n for n in names if n.startswith("output_")]


@pytest.mark.parametrize("flavor", publish.FLAVORS)
def test_every_flavour_references_only_images_it_wrote(rendered, flavor):
    done = rendered["ja"]
    out = done.out_dir
    written = {"github": out / "report.md",
               "zenn": out / "zenn" / "articles" / "fixture-report.md",
               "qiita": out / "qiita" / "public" / "fixture-report.md",
               "devto": out / "devto" / "fixture-report.md"}[flavor]
    assert written.is_file()
    text = written.read_text(encoding="utf-8")
    links = publish.image_links(text)
    folder = {"github": out / "report_files", "zenn": out / "zenn" / "images" / "fixture-report",
              "qiita": out / "qiita" / "images", "devto": out / "devto" / "images"}[flavor]
    files = sorted(p.name for p in folder.iterdir())
    # every image is referenced once and every reference is a file written
    assert sorted(Path(t).name for _, t in links) == files
    assert publish.missing_images(publish.Written(written, []), flavor) == []
    if flavor != "github":
        assert text.startswith("---\n") and "\n---\n" in text[4:]
        assert not [ln for ln in text.splitlines() if ln.startswith("|") and "<br>" in ln]
    if flavor == "zenn":
        assert text.count(":::details ") == _runs(done) and "<details>" not in text
        assert all(t.startswith("/images/fixture-report/") for _, t in links)
    if flavor == "devto":
        assert text.count("{% details ") == text.count("{% enddetails %}") == _runs(done)


@needs_chromium
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="no pdftoppm (poppler-utils)")
def test_pdf_renders_every_page(rendered, tmp_path):
    for lang, done in rendered.items():
        assert done.pdf is not None and done.pdf.is_file()
        info = subprocess.run(["pdfinfo", str(done.pdf)], capture_output=True, text=True,
                              timeout=60, check=True).stdout
        pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
        assert pages > _runs(done)  # every run starts a page of its own
        subprocess.run(["pdftoppm", "-r", "20", "-png", str(done.pdf), str(tmp_path / lang)],
                       check=True, timeout=120, capture_output=True)
        assert len(list(tmp_path.glob(f"{lang}-*.png"))) == pages


@needs_chromium
def test_printer_started_ahead_prints_and_is_reaped(tmp_path):
    """The report starts Chromium before the page exists and prints over the DevTools
    pipe: the PDF is written, and closing kills and reaps every process it started,
    printed or not (an error in the notebooks)."""
    import psutil

    def children() -> set[psutil.Process]:  # (a session's lab may be running beside)
        return set(psutil.Process().children(recursive=True))

    for prints in (True, False):
        before = children()
        with browser.Printer() as printer:
            started = children() - before
            assert started
            if prints:
                pdf = printer.print_pdf("<p>x</p>", tmp_path / "x.pdf")
                assert pdf.read_bytes().startswith(b"%PDF")
        assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert browser.write_pdf("<p>x</p>", tmp_path / "y.pdf").stat().st_size > 0


# ----------------------------------------------------------------- charts as drawn
def _combined():
    from proxylab.analysis import analyse
    from proxylab.logs.tables import load_tables

    return analyse(load_tables([FIX]))


def _pixels_at_column(fig) -> float:
    """Screen pixels per figure pixel once the PNG is shown in a 760 px column."""
    shown = min(760, fig.get_figwidth() * charts.LOGICAL_DPI)
    return shown / (fig.get_figwidth() * fig.dpi)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_matrix_cell_texts_never_overlap_in_the_combined_set(lang):
    """seed-3's S3 cell holds both bucket hosts (local and AWS): its row grows, so the
    host lines stay below the outcome lines and inside the cell."""
    import matplotlib.pyplot as plt

    a = _combined()
    fig = charts.route_matrix(a.routes, a.tables.runs, lang=lang)
    fig.canvas.draw()
    rend = fig.canvas.get_renderer()
    ax = fig.axes[0]
    by_cell: dict[tuple[int, int], list] = {}
    tops = sorted({round(p.get_y(), 6) for p in ax.patches})
    for t in ax.texts:
        x, y = t.get_position()
        row = max(i for i, top in enumerate(tops) if top <= y + 1e-9)
        by_cell.setdefault((int(x), row), []).append(t)
    assert any("\n" in t.get_text() and t.get_text().count("amazonaws") == 2 for t in ax.texts)
    for (col, row), texts in by_cell.items():
        boxes = [t.get_window_extent(rend) for t in texts]
        assert not [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                    if boxes[i].overlaps(boxes[j])], [t.get_text() for t in texts]
        patch = next(p for p in ax.patches if int(p.get_x()) == col
                     and round(p.get_y(), 6) == tops[row])
        cell = patch.get_window_extent(rend)
        for b in boxes:  # inside its cell (2 px of slack for the white cell borders)
            assert cell.x0 - 2 <= b.x0 and b.x1 <= cell.x1 + 2, (col, row)
            assert cell.y0 - 2 <= b.y0 and b.y1 <= cell.y1 + 2, (col, row)
    plt.close(fig)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_topology_is_readable_at_column_width_and_in_the_reports_language(lang):
    import matplotlib.pyplot as plt

    from proxylab.report import i18n

    a = _combined()
    rec = next(r for r in a.tables.records.values() if r.lab.backend == "local")
    fig = charts.topology(rec.lab.to_dict(), endpoints=rec.layout.to_dict(), lang=lang)
    fig.canvas.draw()
    rend = fig.canvas.get_renderer()
    scale = _pixels_at_column(fig)
    texts = [t for t in fig.axes[0].texts if t.get_text().strip()]
    # the smallest text is at least 10 px tall in the column (it was about 5 px)
    assert min(t.get_fontsize() for t in texts) * fig.dpi / 72 * scale >= 10
    words = i18n.chart(lang)
    said = " ".join(t.get_text() for t in texts).replace("\n", "")
    for key in ("place_proxy", "topo_peering", "topo_no_nat", "topo_s3_gateway"):
        assert words[key].replace(" ", "") in said.replace(" ", ""), key
    if lang == "ja":
        assert "VPC peering" not in said and "no NAT" not in said
    # a place's words stay inside its box (the Japanese description ran out of it)
    from matplotlib.patches import FancyBboxPatch

    ax = fig.axes[0]
    for box in (p for p in ax.patches if isinstance(p, FancyBboxPatch)):
        x0, y0 = box.get_x(), box.get_y()
        x1, y1 = x0 + box.get_width(), y0 + box.get_height()
        ext = box.get_window_extent(rend)
        inside = [t for t in texts if t.get_bbox_patch() is None
                  and x0 <= t.get_position()[0] <= x1 and y0 <= t.get_position()[1] <= y1]
        assert inside
        for t in inside:
            b = t.get_window_extent(rend)
            assert ext.x0 - 2 <= b.x0 and b.x1 <= ext.x1 + 2, t.get_text()
    # every text stays inside the figure
    fw, fh = fig.bbox.width, fig.bbox.height
    for t in texts:
        b = t.get_window_extent(rend)
        assert b.x0 >= -1 and b.x1 <= fw + 1 and b.y0 >= -1 and b.y1 <= fh + 1, t.get_text()
    plt.close(fig)


ZENN_MD = Path("/var/cache/proxylab/zenn/node_modules/zenn-markdown-html/dist/index.js")
# Zenn's renderer, as the Zenn CLI runs it: the article body without its front matter.
ZENN_JS = """
import { readFileSync } from "node:fs";
const mod = await import(process.argv[1]);
const toHtml = mod.default ?? mod.markdownToHtml;
const src = readFileSync(process.argv[2], "utf8").replace(/^---\\n[\\s\\S]*?\\n---\\n/, "");
process.stdout.write(String(await toHtml(src)));
"""


@pytest.mark.skipif(not ZENN_MD.is_file() or shutil.which("node") is None,
                    reason="zenn-markdown-html not installed (make zenn)")
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_zenn_export_renders_with_zenns_renderer(rendered, lang):
    import html

    done = rendered[lang]
    root = done.out_dir / "zenn"
    article = root / "articles" / "fixture-report.md"
    out = subprocess.run(["node", "--input-type=module", "-e", ZENN_JS, ZENN_MD.as_uri(),
                          str(article)], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    imgs = re.findall(r'<img src="([^"]+)" alt="([^"]*)"', out)
    # every image Zenn shows is a file of the tree, with its alt text; all of them shown
    assert sorted(src for src, _ in imgs) == sorted(
        f"/images/fixture-report/{p.name}" for p in (root / "images" / "fixture-report").iterdir())
    assert all(alt and (root / src.lstrip("/")).is_file() for src, alt in imgs)
    # folds became Zenn's details, tables tables; nothing left as raw syntax
    assert out.count("<details") == _runs(done)
    assert out.count("<table") >= 5
    text = html.unescape(re.sub(r"<[^>]+>", " ", out))
    assert ":::" not in text and "<br>" not in text and "{%" not in text


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("flavor", publish.FLAVORS)
def test_front_matter_is_yaml_and_image_url_links_uploaded_images(tmp_path, flavor):
    import yaml

    title = 'A "quoted": title — 経路'
    items = [publish.Block("title", f"# {title}\n\nsub"),
             publish.Block("answer", "## Answer\n\n**The headline.**"),
             publish.Block("setup", png=_tiny_png(), name="lab-topology", alt="a [diagram]"),
             publish.Block("run", "### seed-1: t\n\n| a | b |\n|---|---|\n| x<br>y | z |",
                           run="r1"),
             publish.Block("run", png=_tiny_png(), name="timeline-seed-1-local", alt="t",
                           run="r1")]
    w = publish.write_markdown(items, tmp_path, flavor, title, "my-blog-post", "ja",
                               image_url="https://example.invalid/img/")
    text = w.markdown.read_text(encoding="utf-8")
    assert [t for _, t in publish.image_links(text)] == [
        "https://example.invalid/img/lab-topology.png",
        "https://example.invalid/img/timeline-seed-1-local.png"]
    assert "![a (diagram)]" in text  # brackets in alt text would end the link
    if flavor == "github":
        assert "<summary>seed-1: t</summary>" in text and "x<br>y" in text
        return
    head = yaml.safe_load(text.split("---\n")[1])
    assert head["title"] == title and "| x y | z |" in text and "# " + title not in text
    if flavor == "zenn":
        assert head["type"] == "tech" and head["published"] is False and head["topics"]
        assert 12 <= len(w.markdown.stem) <= 50
    if flavor == "devto":
        assert head["description"] == "The headline."


def test_writing_the_pages_imports_no_pandas_or_matplotlib(tmp_path):
    """`proxylab report` writes index.html, the Markdown and the PDF's page in its own
    process after the kernel is gone: importing pandas and matplotlib there for a
    constant or a language list cost about half a second on every render."""
    code = f"""
import struct, sys, zlib
from pathlib import Path
from proxylab.report import browser, i18n, kernel, publish, render

def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))

png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 2, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"\\x00" * 10)) + chunk(b"IEND", b""))
items = [publish.Block("title", markdown="# t"),
         publish.Block("setup", png=png, name="x", alt="x")]
render.write_pages(items, Path({str(tmp_path)!r}), flavors=publish.FLAVORS)
render._page(items, "ja", None, expand=True)
print(sorted(m for m in ("pandas", "matplotlib", "numpy") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
    assert 'width="2"' in (tmp_path / "index.html").read_text(encoding="utf-8")
