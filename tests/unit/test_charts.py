"""Charts at blog width, colour-blind-safe, and Japanese without tofu or warnings."""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

from proxylab.analysis import analyse, load_tables
from proxylab.report import charts
from proxylab.vocab import Route

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "captures"
SEED = [FIX / n for n in ("20261124T153210Z-seed-1-a1b2", "20261124T153230Z-seed-2-c3d4",
                          "20261124T153250Z-seed-3-e5f6", "20261124T153310Z-seed-4-a7b8")]
JA_TITLES = ["リージョナル API、プロキシ変数のみ", "リージョナル API、S3 を NO_PROXY に入れる",
             "プライベート API、プロキシ変数のみ", "プライベート API、S3 と execute-api を除外"]


@pytest.fixture(scope="module")
def a():
    return analyse(load_tables(SEED))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG")
    return struct.unpack(">II", data[16:24])


def _pdf_fonts(fig) -> set[str]:
    """The fonts a PDF of the figure embeds: only those some glyph was drawn from."""
    import io

    buf = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig.savefig(buf, format="pdf")
    raw = buf.getvalue()
    # font names sit in (possibly compressed) objects: search both
    text = raw.decode("latin-1")
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", raw, re.S):
        try:
            text += zlib.decompress(m.group(1)).decode("latin-1")
        except zlib.error:
            pass
    return set(re.findall(r"/BaseFont\s*/(?:[A-Z]{6}\+)?([\w-]+)", text))


def test_japanese_titles_draw_from_a_cjk_font_without_glyph_warnings(a):
    if not charts.cjk_fonts():
        pytest.fail("no CJK font installed: `make setup` installs fonts-ipafont-gothic")
    runs = a.tables.runs.copy()
    runs["title"] = JA_TITLES
    charts.missing_glyphs.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = charts.route_matrix(a.routes, runs)
        with charts.glyph_warnings_logged():
            fonts = _pdf_fonts(fig)
        png = charts.png(fig)
    assert not [w for w in caught if "Glyph" in str(w.message)]
    assert charts.missing_glyphs == [], "some glyph had no font (tofu)"
    cjk = {f for f in fonts if re.search(r"IPA|CJK|Gothic|Hei|Han", f)}
    assert cjk, f"no CJK font used for the Japanese titles: {fonts}"
    assert "DejaVuSans" in "".join(fonts)  # Latin text stays in DejaVu Sans
    assert png.startswith(b"\x89PNG")


def test_missing_glyphs_are_logged_not_warned():
    charts.missing_glyphs.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title("\U0001F9EA")  # in no font here: the warning a report used to show
        charts.png(fig)
    assert not [w for w in caught if "Glyph" in str(w.message)]
    assert charts.missing_glyphs and "missing from" in charts.missing_glyphs[0]


def test_matrix_fits_a_760px_column_at_2x_and_keeps_whole_titles(a):
    fig = charts.route_matrix(a.routes, a.tables.runs)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    for title in a.tables.runs["title"]:
        assert any(" ".join(title.split()) in " ".join(lab.split()) for lab in labels), title
    w, _ = _png_size(charts.png(fig))
    assert 760 * 2 * 0.9 <= w <= 760 * 2, w  # ~760 CSS px at 2x


def test_matrix_has_one_column_per_service_and_says_routes_in_words(a):
    fig = charts.route_matrix(a.routes, a.tables.runs)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["S3", "web", "API"]
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("gateway endpoint") == 2 and "interface endpoint" in texts
    assert "FAILED at proxy" in texts and texts.count("via proxy") == 8
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"via proxy", "VPC endpoint", "FAILED at proxy", "not called",
            "mixed (runs disagree)"} <= set(legend)
    assert len(legend) == len(Route) + 2  # every route, mixed, not called
    plt.close(fig)


def test_not_called_and_mixed_cells_are_labelled(a):
    routes = a.routes[~((a.routes["scenario"] == "seed-1") & (a.routes["step"] == "web"))]
    extra = a.routes[(a.routes["scenario"] == "seed-2") & (a.routes["step"] == "api")].copy()
    extra["route"] = "failed-at-proxy"
    import pandas as pd

    fig = charts.route_matrix(pd.concat([routes, extra]), a.tables.runs)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "not called" in texts and "mixed" in texts
    assert any("via proxy x1" in t and "FAILED at proxy x1" in t for t in texts)
    plt.close(fig)


def test_palette_is_okabe_ito_and_separates_endpoint_from_failure():
    assert set(charts.ROUTE_COLORS.values()) <= set(charts.OKABE_ITO.values())
    assert charts.ROUTE_COLORS[Route.ENDPOINT] != charts.ROUTE_COLORS[Route.FAILED_AT_PROXY]
    assert set(charts.ROUTE_WORDS) == set(charts.ROUTE_COLORS) == set(Route)


def test_timeline_fits_the_column_at_2x(a):
    w, _ = _png_size(charts.png(charts.timeline(a.tables, SEED[2].name)))
    assert w <= 760 * 2, w


def test_chart_words_follow_the_report_language(a):
    from proxylab.report import i18n

    ja = i18n.CHART["ja"]
    assert set(i18n.CHART["en"]) == set(ja)  # every word has its Japanese
    charts.missing_glyphs.clear()
    fig = charts.route_matrix(a.routes, a.tables.runs, lang="ja")
    texts = [t.get_text() for t in fig.axes[0].texts]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [ja[k] for k in charts.ROUTE_COLORS] + [ja["mixed_legend"],
                                                             ja["not_called"]]
    assert texts.count(ja[Route.PROXY]) == 8 and texts.count(ja["gateway"]) == 2
    assert not any(w in " ".join(texts + legend) for w in ("via proxy", "not called"))
    assert any(t.startswith("get: " + ja["ok"]) for t in texts)
    assert fig._suptitle.get_text() == ja["matrix_title"]
    charts.png(fig)
    fig = charts.timeline(a.tables, SEED[2].name, lang="ja")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert ja["tunnel_ok"] in legend and fig.axes[0].get_xlabel() == ja["seconds"]
    charts.png(fig)
    assert charts.missing_glyphs == []
