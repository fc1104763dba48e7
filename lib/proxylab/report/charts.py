"""Charts drawn only from captured data: route matrix, request timeline, topology.

Every function returns a matplotlib Figure and takes an optional ``redact``
callable (text -> text) so identifiers are replaced the same way in chart labels
as in the report's text and tables.

Readable where the report is read: the charts are drawn for a 760 px column
(``COLUMN_IN`` inches at ``LOGICAL_DPI``) and saved at twice that resolution; colours
are Okabe & Ito's colour-blind-safe set and every colour is also said in words.
Scenario titles may be Japanese: a CJK font is put behind DejaVu Sans in matplotlib's
per-glyph fallback list, and "Glyph ... missing" warnings are caught where drawing
happens (logged, never printed into a notebook and so never into a report).
"""

from __future__ import annotations

import functools
import io
import logging
import re
import textwrap
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import font_manager
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from proxylab.report import i18n
from proxylab.report.publish import SCALE  # PNGs at 2x, shown at 1x: the pages' rule
from proxylab.vocab import Route

log = logging.getLogger(__name__)

COLUMN_IN = 7.6  # a 760 px blog column at LOGICAL_DPI
LOGICAL_DPI = 100

# Okabe & Ito (2008), "Color Universal Design": distinguishable with any colour vision.
OKABE_ITO = {"orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999"}
ROUTE_COLORS = {
    Route.PROXY: OKABE_ITO["blue"],
    Route.ENDPOINT: OKABE_ITO["green"],
    Route.DIRECT: OKABE_ITO["purple"],
    Route.FAILED_AT_PROXY: OKABE_ITO["vermillion"],
    Route.FAILED_DIRECT: OKABE_ITO["orange"],
    Route.INCONSISTENT: OKABE_ITO["grey"],
}
# The words written in each cell (and the legend), so no colour has to be told apart;
# per language in i18n.CHART (English here for callers without a language).
ROUTE_WORDS = {k: i18n.CHART["en"][k] for k in Route}
NOT_CALLED_COLOR, MIXED_COLOR = "#F2F2F2", "#FFFFFF"
DARK_TEXT_ON = {Route.PROXY}  # white text only where black would be too dark to read
STEP_SHORT = {"s3_get": "get", "s3_put": "put", "web": "web", "api": "api"}
# One matrix column per service, its steps (and hosts) inside.
STEP_SERVICE = {"s3_get": "S3", "s3_put": "S3", "web": "web", "api": "API"}
SERVICE_ORDER = ("S3", "web", "API")
Redact = Callable[[str], str]

# Families with Japanese (and most Chinese) glyphs, lightest Debian package first:
# fonts-ipafont-gothic (the Makefile's), fonts-vlgothic, fonts-noto-cjk, ...
CJK_FAMILIES = ("IPAPGothic", "IPAGothic", "IPAexGothic", "VL PGothic", "VL Gothic",
                "Noto Sans CJK JP", "Noto Sans JP", "Source Han Sans JP", "TakaoPGothic",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC")
_CJK_FILE = re.compile(r"(ipa[a-z]*\.tt|vl-?gothic|notosanscjk|noto.*cjk|sourcehansans|takao|"
                       r"wqy)", re.IGNORECASE)
_GLYPH = re.compile(r"Glyph \d+ .*missing from")
missing_glyphs: list[str] = []  # what was caught (tests and curious readers look here)


def cjk_fonts() -> list[str]:
    """The CJK families matplotlib can use. Matplotlib caches its font list; a font
    installed after the cache was written (``make setup`` on a used machine) is added
    from the system font directories here."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    if not any(f in names for f in CJK_FAMILIES):
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(path):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # an unreadable font file
                    continue
        names = {f.name for f in font_manager.fontManager.ttflist}
        if any(f in names for f in CJK_FAMILIES):
            _save_font_cache()
    return [f for f in CJK_FAMILIES if f in names]


def _save_font_cache() -> None:
    """Write matplotlib's font list back (its own file and format, as on its first
    import), so the next kernel finds the CJK font without scanning the font folders."""
    import matplotlib

    path = f"{matplotlib.get_cachedir()}/fontlist-v{font_manager.FontManager.__version__}.json"
    try:
        font_manager.json_dump(font_manager.fontManager, path)
    except OSError:  # a read-only cache: scanning again next time is only slower
        pass


def configure_fonts() -> list[str]:
    """DejaVu Sans for Latin text, then the CJK families for the glyphs it lacks
    (matplotlib >= 3.6 falls back glyph by glyph through ``font.family``)."""
    families = ["DejaVu Sans", *cjk_fonts()[:1]]
    plt.rcParams["font.family"] = families
    # CJK fonts ship one weight; matplotlib says "Failed to find font weight bold ..."
    # on its logger for every bold label (on stderr, so into the report) and uses the
    # regular weight, which is what we want.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    return families


@contextmanager
def glyph_warnings_logged() -> Iterator[None]:
    """Catch "Glyph N missing from font(s)" where text is laid out and drawn: they are
    logged (and kept in :data:`missing_glyphs`) instead of reaching the notebook's
    stderr, which is how they used to land in ``index.html``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        text = str(w.message)
        if _GLYPH.search(text):
            missing_glyphs.append(text)
            log.info("chart text: %s", text)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with glyph_warnings_logged():
            return fn(*args, **kwargs)
    return wrapper


configure_fonts()


@_quiet
def png(fig: plt.Figure, dpi: int = LOGICAL_DPI * SCALE) -> bytes:
    """The figure as PNG bytes (2x resolution), then closed: notebooks display these
    bytes, so the HTML embeds them and the Markdown export writes them as files."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _identity(text: str) -> str:
    return text


def wrap_host(host: str, width: int = 22) -> str:
    """Break a long hostname at dots so column labels never overlap."""
    # Dots first; a label longer than the width breaks after its hyphens too
    # ("proxylab-123456789012-" / "ap-northeast-1"), so no line runs out of its cell.
    pieces = []
    for i, p in enumerate(host.split(".")):
        label = p if i == 0 else "." + p
        if len(label) <= width:
            pieces.append(label)
        else:
            pieces += re.findall(r"[^-]*-|[^-]+$", label)
    lines, cur = [], ""
    for piece in pieces:
        if cur and len(cur) + len(piece) > width:
            lines.append(cur)
            cur = piece
        else:
            cur += piece
    lines.append(cur)
    return "\n".join(lines)


@_quiet
def route_matrix(routes: pd.DataFrame, runs: pd.DataFrame | None = None,
                 redact: Redact | None = None, lang: str = "en") -> plt.Figure:
    """Scenarios (rows) x services (columns: S3, web, API), each cell coloured by the
    route and saying it in words, with each step's outcome and the host(s) it went
    to. Several runs (or steps) of one cell that disagree are shown as 'mixed', hatched,
    with the counts. Drawn for a 760 px column; row labels wrap, never truncate."""
    redact, w = redact or _identity, i18n.chart(lang)
    if routes.empty:
        fig, ax = plt.subplots(figsize=(COLUMN_IN, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, w["no_steps"], ha="center", va="center")
        return fig
    r = routes.copy()
    r["scenario"] = r["scenario"].astype(str)
    r["host"] = r["host"].astype(str)
    r["service"] = r["step"].astype(str).map(lambda st: STEP_SERVICE.get(st, st))
    scen_order = list(dict.fromkeys(r["scenario"]))
    services = [sv for sv in SERVICE_ORDER if sv in set(r["service"])]
    services += sorted(set(r["service"]) - set(services))
    titles = {}
    if runs is not None and len(runs):
        titles = dict(zip(runs["scenario"].astype(str), runs["title"].astype(str), strict=False))
    ncol, nrow = len(services), len(scen_order)
    label_in, cell_in = 2.1, (COLUMN_IN - 2.1) / 3
    fig_w = max(COLUMN_IN, label_in + cell_in * ncol)
    host_chars = max(18, int(cell_in * 16))  # about 16 characters per inch at 7.5 pt
    cells: dict[tuple[int, int], tuple[pd.DataFrame, list[str], str, str]] = {}
    heights = []
    for i, scen in enumerate(scen_order):
        need = 1.0
        for j, service in enumerate(services):
            cell = r[(r["scenario"] == scen) & (r["service"] == service)]
            if cell.empty:
                continue
            here = list(dict.fromkeys(cell["route"].astype(str)))
            outcome = _cell_text(cell, here, w)
            hosts = "\n".join(wrap_host(redact(h), host_chars)
                              for h in dict.fromkeys(cell["host"]))
            cells[i, j] = (cell, here, outcome, hosts)
            need = max(need, _cell_height(outcome, hosts))
        heights.append(need)
    tops = [sum(heights[:i]) for i in range(nrow)]
    total = sum(heights)
    fig_h = 1.3 + ROW_IN * total
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    for i in range(nrow):
        y0, h = tops[i], heights[i]
        for j in range(ncol):
            if (i, j) not in cells:
                ax.add_patch(plt.Rectangle((j, y0), 1, h, facecolor=NOT_CALLED_COLOR,
                                           edgecolor="white", lw=3))
                ax.text(j + 0.5, y0 + h / 2, w["not_called"], ha="center", va="center",
                        fontsize=9, color="#555555", style="italic")
                continue
            cell, routes_here, outcome, hosts = cells[i, j]
            mixed = len(routes_here) > 1
            color = MIXED_COLOR if mixed else ROUTE_COLORS.get(routes_here[0], "#CCCCCC")
            ink = "white" if not mixed and routes_here[0] in DARK_TEXT_ON else "black"
            ax.add_patch(plt.Rectangle((j, y0), 1, h, facecolor=color, edgecolor="white", lw=3,
                                       hatch="///" if mixed else None))
            ax.text(j + 0.5, y0 + 0.2, route_words(cell, routes_here, w), ha="center",
                    va="center", fontsize=9.5, color=ink, fontweight="bold")
            # The outcome lines hang from under the route; the hosts stand on the cell's
            # floor; the row is as tall as its fullest cell needs (never overlapping).
            ax.text(j + 0.5, y0 + 0.33, outcome, ha="center", va="top", fontsize=9, color=ink,
                    linespacing=1.2)
            ax.text(j + 0.5, y0 + h - 0.07, hosts, ha="center", va="bottom", fontsize=7.5,
                    color=ink, linespacing=1.0)
    ax.set_xlim(0, ncol)
    ax.set_ylim(total, 0)
    ax.set_xticks([j + 0.5 for j in range(ncol)])
    ax.set_xticklabels(services, fontsize=10, fontweight="bold")
    ax.xaxis.tick_top()
    ax.set_yticks([tops[i] + heights[i] / 2 for i in range(nrow)])
    ax.set_yticklabels([_row_label(s, redact(titles.get(s, ""))) for s in scen_order],
                       fontsize=9.5)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles = [Patch(facecolor=ROUTE_COLORS[k], edgecolor="#777777", label=w[k])
               for k in ROUTE_COLORS]
    handles.append(Patch(facecolor=MIXED_COLOR, edgecolor="#777777", hatch="///",
                         label=w["mixed_legend"]))
    handles.append(Patch(facecolor=NOT_CALLED_COLOR, edgecolor="#777777",
                         label=w["not_called"]))
    fig.suptitle(w["matrix_title"], fontsize=11, fontweight="bold", y=0.995)
    fig.text(0.5, 1 - 0.36 / fig_h, w["matrix_sub"], ha="center", fontsize=9, color="#444444")
    fig.tight_layout(rect=(0, 0.55 / fig_h, 1, 1 - 0.25 / fig_h))
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=9,
               handlelength=1.6, columnspacing=1.2)
    return fig


ROW_IN = 1.1  # inches of figure height per unit of row height


def _cell_height(outcome: str, hosts: str) -> float:
    """Row-height units a cell's text needs: the route line (9.5 pt), the outcome lines
    (9 pt, spacing 1.2), the host lines (7.5 pt, spacing 1.0), and margins."""
    pt = 1 / 72 / ROW_IN  # one point in row units
    n_out, n_host = outcome.count("\n") + 1, hosts.count("\n") + 1
    return 0.33 + n_out * 9 * 1.2 * pt + 0.08 + n_host * 7.5 * 1.15 * pt + 0.09


def _row_label(scenario: str, title: str, width: int = 24) -> str:
    """The scenario id and its whole title, wrapped (never shortened: the words that
    differ between scenarios are often the last ones)."""
    return f"{scenario}\n{textwrap.fill(title, width)}" if title else scenario


def route_words(cell: pd.DataFrame, routes_here: list[str], w: dict[str, str]) -> str:
    if len(routes_here) > 1:
        return w["mixed"]
    route = routes_here[0]
    words = w.get(route, route)
    kinds = cell["endpoint_kind"].dropna().astype(str).unique() if "endpoint_kind" in cell \
        else []
    if route == Route.ENDPOINT and len(kinds) == 1:
        words = w.get(kinds[0], f"{kinds[0]} endpoint")
    return words


def _cell_text(cell: pd.DataFrame, routes_here: list[str], w: dict[str, str]) -> str:
    lines = []
    for step, grp in cell.groupby(cell["step"].astype(str), sort=False):
        outs = grp["outcome"].astype(str).value_counts()
        text = ", ".join(f"{w.get(o, o)}" + (f" x{n}" if len(grp) > 1 else "")
                         for o, n in outs.items())
        lines.append(f"{STEP_SHORT.get(step, step)}: {text}")
    if len(routes_here) > 1:
        counts = cell["route"].astype(str).value_counts()
        lines.append(", ".join(f"{w.get(k, k)} x{v}" for k, v in counts.items()))
    return "\n".join(lines)


@_quiet
def timeline(tables: Any, run_id: str, redact: Redact | None = None,
             lang: str = "en") -> plt.Figure:
    """One run's requests over time: Squid tunnels as bars (start = logged time -
    elapsed) and service-front hits as markers, one row per host. dnsmasq logs
    whole seconds only, so DNS answers are written under each host's name rather
    than placed on a millisecond axis they cannot honestly be placed on."""
    redact, w = redact or _identity, i18n.chart(lang)
    pr = tables.proxy_requests[tables.proxy_requests["run_id"] == run_id]
    sh = tables.service_hits[tables.service_hits["run_id"] == run_id]
    dq = tables.dns_queries[tables.dns_queries["run_id"] == run_id]
    # Only lookups of names the run talked to (not Squid's reverse lookups of its clients).
    hosts = list(dict.fromkeys([*sh["host"].dropna().astype(str),
                                *pr["host"].dropna().astype(str)]))
    dq = dq[dq["name"].isin(hosts)]
    stamps = [s for s in (*pr["ts"], *sh["ts"]) if not pd.isna(s)]
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 2.6 + 0.6 * max(len(hosts), 1)))
    if not stamps:
        ax.axis("off")
        ax.text(0.5, 0.5, w["no_timed"], ha="center", va="center")
        return fig
    t0 = min(stamps)
    if len(pr):
        starts = pr["ts"] - pd.to_timedelta(pr["elapsed_ms"].fillna(0).astype("float64"), unit="ms")
        t0 = min(t0, starts.min())
    y = {h: i for i, h in enumerate(hosts)}

    def sec(ts: pd.Timestamp) -> float:
        return (ts - t0).total_seconds()

    for _, row in pr.iterrows():
        if pd.isna(row["host"]):
            continue
        end = sec(row["ts"])
        dur = 0 if pd.isna(row["elapsed_ms"]) else float(row["elapsed_ms"]) / 1000
        ok = 200 <= int(row["http_status"]) < 400
        ax.barh(y[row["host"]], max(dur, 0.01), left=end - dur, height=0.35,
                color=ROUTE_COLORS["proxy"] if ok else ROUTE_COLORS["failed-at-proxy"],
                alpha=0.8)
    via_marker = {"internet": ("o", ROUTE_COLORS["proxy"]),
                  "gateway-endpoint": ("s", ROUTE_COLORS["endpoint"]),
                  "interface-endpoint": ("D", ROUTE_COLORS["endpoint"])}
    for _, row in sh.iterrows():
        m, c = via_marker.get(str(row["via"]), ("x", "black"))
        ax.plot(sec(row["ts"]), y[row["host"]], marker=m, color=c, markersize=8,
                markeredgecolor="black", linestyle="none")
    answers: dict[str, list[str]] = {}
    for _, row in dq.iterrows():
        if str(row["qtype"]) not in ("A", "AAAA") or pd.isna(row["answer"]):
            continue
        text = f"{row['resolver']}: {row['answer']}"
        if text not in answers.setdefault(str(row["name"]), []):
            answers[str(row["name"])].append(text)
    ax.set_yticks(list(y.values()))
    ax.set_yticklabels([wrap_host(redact(h), 24)
                        + ("\nDNS " + ",\n".join(redact(a) for a in answers[h][:2])
                           if h in answers else "")
                        for h in hosts], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(w["seconds"])
    ax.grid(axis="x", alpha=0.3)
    legend = [
        Patch(color=ROUTE_COLORS["proxy"], label=w["tunnel_ok"]),
        Patch(color=ROUTE_COLORS["failed-at-proxy"], label=w["squid_failed"]),
        plt.Line2D([], [], marker="o", color=ROUTE_COLORS["proxy"], linestyle="none",
                   markeredgecolor="black", label=w["via_internet"]),
        plt.Line2D([], [], marker="s", color=ROUTE_COLORS["endpoint"], linestyle="none",
                   markeredgecolor="black", label=w["via_gateway"]),
        plt.Line2D([], [], marker="D", color=ROUTE_COLORS["endpoint"], linestyle="none",
                   markeredgecolor="black", label=w["via_interface"]),
    ]
    ax.set_title(redact(w["timeline_title"].format(run_id=run_id)), fontsize=10)
    fig.tight_layout(rect=(0, 0.75 / fig.get_figheight(), 1, 1))
    fig.legend(handles=legend, loc="lower center", ncol=3, frameon=False, fontsize=8,
               handlelength=1.2, columnspacing=1.0)
    return fig


# Charts drawn in this process, by what they were drawn from: notebooks 03 and 04 show
# the same route matrix and the same runs' timelines in one kernel (report/render.py),
# and drawing is most of what those sections cost. The source frame is held weakly,
# so a new capture set never finds an old set's picture.
_DRAWN: dict[tuple[Any, ...], tuple[weakref.ref, bytes]] = {}


def _redaction(redact: Any) -> tuple[bool, bytes]:
    """A :class:`~proxylab.report.redact.Redactor` by its key: its placeholders are a
    function of the key and the tables."""
    return (bool(getattr(redact, "enabled", redact is not None)),
            getattr(redact, "key", b"") if redact is not None else b"")


def _drawn(source: Any, key: tuple[Any, ...], draw: Callable[[], plt.Figure]) -> bytes:
    key = (id(source), *key)
    hit = _DRAWN.get(key)
    if hit is not None and hit[0]() is source:
        return hit[1]
    data = png(draw())
    for k in [k for k, (ref, _) in _DRAWN.items() if ref() is None]:
        del _DRAWN[k]
    _DRAWN[key] = (weakref.ref(source), data)
    return data


def timeline_png(tables: Any, run_id: str, redact: Any = None, lang: str = "en") -> bytes:
    """:func:`timeline` as PNG bytes, drawn once per tables, run, language and redaction."""
    return _drawn(tables, ("timeline", run_id, lang, *_redaction(redact)),
                  lambda: timeline(tables, run_id, redact=redact, lang=lang))


def route_matrix_png(routes: pd.DataFrame, runs: pd.DataFrame | None = None,
                     redact: Any = None, lang: str = "en") -> bytes:
    """:func:`route_matrix` as PNG bytes, drawn once per routes, runs, language and
    redaction."""
    return _drawn(routes, ("matrix", id(runs), lang, *_redaction(redact)),
                  lambda: route_matrix(routes, runs, redact=redact, lang=lang))


def text_width(text: str) -> int:
    """Columns a line takes: East Asian wide and full-width characters count two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


_WIDE = "\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_TOKEN = re.compile(rf"[{_WIDE}][、。，．）」』]?|[^\s{_WIDE}]+\s*|\s+")


def fill(text: str, width: int) -> str:
    """Wrap so no line is wider than ``width`` columns: Latin words stay whole, and
    Japanese (which has no spaces) breaks between any two characters (never before
    a closing mark)."""
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for tok in _TOKEN.findall(para):
            if cur.strip() and text_width((cur + tok).rstrip()) > width:
                lines.append(cur.rstrip())
                cur = tok.lstrip()
            else:
                cur += tok
        lines.append(cur.rstrip())
    return "\n".join(lines)


@_quiet
def topology(lab: dict[str, Any], redact: Redact | None = None,
             endpoints: dict[str, Any] | None = None, lang: str = "en") -> plt.Figure:
    """The lab as a diagram: the four places, the peering link, the proxy's way
    out, and the VPC endpoints the layout switches on. Drawn at the column's width, so
    its smallest text is about 11 px in a 760 px column; words in the report's language
    (a place the words do not know keeps the name and description the lab gave it)."""
    redact, w = redact or _identity, i18n.chart(lang)
    endpoints = endpoints or lab.get("endpoints") or {}
    places = {p["name"]: p for p in lab.get("places", [])}
    res = lab.get("resources", {})
    boxes = {  # name: (x, y, w, h)
        "lambda": (0.15, 0.45, 3.3, 2.55),
        "proxy": (0.15, 3.7, 3.3, 1.95),
        "internet": (6.55, 3.7, 3.3, 1.95),
        "aws": (6.55, 0.45, 3.3, 2.55),
    }
    colors = {"lambda": "#FFF4E0", "proxy": "#E8F0FA", "internet": "#F1F1F1", "aws": "#EAF6E8"}
    addr_lines: dict[str, int] = {}  # lines of addresses at the foot of each box
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 5.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6.1)
    ax.axis("off")
    for name, (x, y, bw, bh) in boxes.items():
        place = places.get(name, {"name": name, "stands_for": name, "addresses": []})
        known = f"place_{name}" in w
        ax.add_patch(FancyBboxPatch((x, y), bw, bh, boxstyle="round,pad=0.05",
                                    facecolor=colors[name], edgecolor="#555555"))
        ax.text(x + 0.12, y + bh - 0.12, w.get(f"place_{name}", name), fontsize=11,
                fontweight="bold", va="top")
        about = w[f"about_{name}"] if known else str(place.get("stands_for", ""))
        ax.text(x + 0.12, y + bh - 0.5, fill(redact(about), 34), fontsize=8.5, va="top",
                color="#333333", linespacing=1.15)
        # "lo 10.1.143.211/32" (interface, address) -> the address only
        addrs = ", ".join(dict.fromkeys(redact(str(a).split()[-1])
                                        for a in place.get("addresses", [])[:4] if str(a).strip()))
        addrs = fill(addrs, 30)
        addr_lines[name] = addrs.count("\n") + 1 if addrs else 0
        ax.text(x + 0.12, y + 0.1, addrs, fontsize=8, va="bottom",
                color="#555555", family="monospace")

    def above_addresses(name: str, lowest: float = 0.0) -> float:
        """A label's baseline just above the box's address lines (8 pt monospace is
        ~0.16 axis units a line here), so a long address list cannot run under it."""
        return max(lowest, boxes[name][1] + 0.1 + 0.16 * addr_lines.get(name, 0) + 0.2)

    squid = next((s for s in lab.get("services", []) if s.get("name") == "squid"), None)
    if squid or res.get("proxy_url"):
        where = res.get("proxy_url") or (squid or {}).get("address", "")
        ax.text(0.3, above_addresses("proxy"), redact(f"Squid {where}"), fontsize=9,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#0072B2"})
    ax.text(0.3, above_addresses("lambda", 1.55), w["topo_function"], fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#E69F00"})

    def arrow(a, b, text, color, style="-|>", ls="-", off=(0, 0)):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=14, color=color,
                                     lw=1.8, linestyle=ls))
        # 36 columns: what the 3.1 units between the boxes hold at 8.5 pt (a Japanese
        # character counts two), so "S3 ゲートウェイ型エンドポイント" stays whole
        text = "\n".join(fill(line, 36) for line in text.split("\n"))
        ax.text((a[0] + b[0]) / 2 + off[0], (a[1] + b[1]) / 2 + off[1], text, fontsize=8.5,
                ha="center", va="center", color=color, linespacing=1.1,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 1})

    blue, green = OKABE_ITO["blue"], "#00734F"  # Okabe-Ito green, darkened for text
    arrow((1.8, 3.0), (1.8, 3.7), w["topo_peering"], blue, style="<|-|>", off=(0.95, 0))
    arrow((3.45, 5.0), (6.55, 5.0), w["topo_internet"], blue, off=(0, 0.2))
    arrow((3.45, 4.0), (6.55, 2.75), fill(w["topo_public"], 30), blue, off=(0, 0.3))
    on = endpoints
    if on.get("s3_gateway"):
        vpce = res.get("s3_gateway_vpce_id", "")
        arrow((3.45, 2.05), (6.55, 2.05), redact(f"{w['topo_s3_gateway']}\n{vpce}".strip()),
              green, off=(0, 0.3))
    if on.get("execute_api_interface"):
        vpce = res.get("execute_api_vpce_id", "")
        dns = w["topo_dns_on"] if on.get("execute_api_private_dns") else w["topo_dns_off"]
        arrow((3.45, 0.95), (6.55, 0.95),
              redact(f"{w['topo_interface']}\n{vpce}\n({dns})".replace("\n\n", "\n")),
              green, off=(0, 0.42))
    ax.text(1.8, 0.12, w["topo_no_nat"], fontsize=8.5, ha="center", color="#B03030")
    pdns = on.get("private_api_public_dns", "nxdomain")
    ax.text(8.2, 3.42, fill(w["topo_public_dns"].format(answer=pdns), 40), fontsize=8,
            ha="center", va="center", color="#555555")
    ax.set_title(redact(w["topo_title"].format(backend=lab.get("backend", "?"),
                                               region=lab.get("region", "?"))), fontsize=10.5)
    fig.tight_layout()
    return fig
