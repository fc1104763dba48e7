"""Helpers behind notebooks/05-audit.ipynb, so each cell stays one line.

The notebook is parameterised (papermill ``parameters`` cell) with log paths and the
same filters as the CLI; :func:`render` executes it and converts it with the report
package's nbconvert helpers (self-contained HTML + Markdown), like the main report.
"""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from proxylab.audit.report import AuditResult, human_bytes

NOTEBOOK = "05-audit.ipynb"


def audit(paths: Iterable[str] | str, since: float | str | None = None,
          until: float | str | None = None, client_cidr: Iterable[str] = (),
          bucket_seconds: int = 3600, check_botocore: bool = True,
          aggregates: str | None = None, engine: str | None = None) -> AuditResult:
    """Run the same pipeline as ``proxylab audit`` and return its tables.

    ``aggregates``: a file written by any engine (``--save-aggregates``; see
    :mod:`proxylab.audit.aggfile`) instead of ``paths``; ``engine``: which engine reads
    ``paths`` (:mod:`proxylab.audit.engines`; default in-process)."""
    from proxylab.audit import aggfile
    from proxylab.audit.engines import aggregate
    from proxylab.audit.options import IngestOptions, parse_time
    from proxylab.audit.report import build_result

    if aggregates:
        return build_result(aggfile.read(aggregates, bucket_seconds),
                            check_botocore=check_botocore)
    if isinstance(paths, str):
        paths = [paths]
    opts = IngestOptions(
        since=parse_time(str(since)) if since not in (None, "") else None,
        until=parse_time(str(until)) if until not in (None, "") else None,
        client_cidrs=tuple(ipaddress.ip_network(c, strict=False) for c in client_cidr),
        bucket_seconds=bucket_seconds,
    )
    return build_result(aggregate(engine, list(paths), opts), check_botocore=check_botocore)


def _md(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


def _table(df: pd.DataFrame) -> str:
    from proxylab.report.document import md_table

    return md_table(list(df.columns), df.astype(object).where(df.notna(), "").values.tolist())


def show_summary(res: AuditResult) -> None:
    s = res.summary
    _md(f"**{s['lines']:,}** lines ({s['parsed']:,} parsed, {s['malformed']:,} malformed, "
        f"{s['filtered_out']:,} filtered out), {s['first_seen']} to {s['last_seen']}.\n\n"
        f"Through the proxy: **{s['requests']:,}** requests, **{human_bytes(s['bytes'])}**; "
        f"AWS: **{s['aws_requests']:,}** requests, **{human_bytes(s['aws_bytes'])}** "
        f"to {s['aws_hosts']} hosts.")


def services_table(res: AuditResult, top: int = 15) -> pd.DataFrame:
    df = res.services.head(top).copy()
    df["bytes"] = [human_bytes(b) for b in df["bytes"]]
    return df


def show_services(res: AuditResult, top: int = 15) -> None:
    _md(_table(services_table(res, top)))


def _series(res: AuditResult, metric: str, by: str, top: int) -> pd.DataFrame:
    tl = res.timeline.copy()
    tl[by] = tl[by].astype(object).where(tl[by].notna(), "(none)")
    pivot = tl.pivot_table(index="time", columns=by, values=metric, aggfunc="sum", fill_value=0)
    order = pivot.sum().sort_values(ascending=False).index
    keep = list(order[:top])
    out = pivot[keep].copy()
    if len(order) > top:
        out["(other)"] = pivot[list(order[top:])].sum(axis=1)
    return out


# Colours by name, the same in every chart of one audit: Okabe & Ito's set first (the
# report's palette), then further distinct ones; "(other)" and "(none)" greys.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000", "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF")
REST_COLOURS = {"(other)": "#BBBBBB", "(none)": "#DDDDDD"}
BARS_UP_TO = 12  # buckets drawn as bars: an area between a few points invents a trend


def colours(res: AuditResult, by: str) -> dict[str, str]:
    """Each ``by`` value's colour, fixed for the whole audit: ranked by its requests over
    the whole timeline (not by the chart's metric), so a region keeps its colour in the
    bytes chart and the requests chart alike."""
    tl = res.timeline
    names = tl[by].astype(object).where(tl[by].notna(), "(none)")
    ranked = tl.groupby(names)["requests"].sum().sort_values(ascending=False, kind="stable")
    ordered = [n for n in ranked.index if n not in REST_COLOURS]
    out = {str(n): PALETTE[i % len(PALETTE)] for i, n in enumerate(ordered)}
    return {**out, **REST_COLOURS}


def timeline_png(res: AuditResult, metric: str = "bytes", by: str = "service",
                 top: int = 8) -> bytes:
    """:func:`timeline_figure` as PNG at twice its design width (sharp on dense screens)."""
    import matplotlib.pyplot as plt

    from proxylab.report.charts import LOGICAL_DPI, SCALE

    fig = timeline_figure(res, metric, by, top)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=LOGICAL_DPI * SCALE)
    plt.close(fig)
    return buf.getvalue()


def timeline_figure(res: AuditResult, metric: str = "bytes", by: str = "service",
                    top: int = 8):
    """``metric`` (bytes|requests) per ``by`` (service|region) over time, stacked. Up to
    ``BARS_UP_TO`` buckets as bars, one per bucket (two buckets are two bars, not a
    line between them); more as steps, flat across each bucket (what was counted), never
    a slope between bucket starts. The legend sits below the plot, hiding nothing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from proxylab.report.charts import COLUMN_IN, LOGICAL_DPI

    data = _series(res, metric, by, top)
    colour = colours(res, by)
    bucket = int(res.summary["bucket_seconds"])
    fig, ax = plt.subplots(figsize=(COLUMN_IN, 4.4), dpi=LOGICAL_DPI)
    handles = []
    if len(data):
        x = data.index.tz_localize(None) if getattr(data.index, "tz", None) else data.index
        cols = [str(c) for c in data.columns]
        if len(data) <= BARS_UP_TO:
            width = bucket / 86400 * 0.8  # matplotlib dates are days
            bottom = None
            for col, name in zip(data.columns, cols, strict=True):
                handles.append(ax.bar(x, data[col].values, bottom=bottom, width=width,
                                      align="edge", color=colour.get(name, "#999999"),
                                      label=name, edgecolor="white", linewidth=0.5))
                bottom = data[col].values if bottom is None else bottom + data[col].values
        else:
            import pandas as pd

            edges = list(x) + [x[-1] + pd.Timedelta(seconds=bucket)]
            ys = [list(data[c].values) + [data[c].values[-1]] for c in data.columns]
            handles = ax.stackplot(edges, ys, labels=cols, step="post",
                                   colors=[colour.get(n, "#999999") for n in cols])
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    unit = "bytes" if metric == "bytes" else "requests"
    ax.set_title(f"{unit} through the proxy per {by} ({bucket} s buckets, UTC)", fontsize=10)
    ax.set_ylabel(unit)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    if metric == "bytes":
        ax.yaxis.set_major_formatter(
            matplotlib.ticker.FuncFormatter(lambda v, _pos: human_bytes(v)))
    ax.spines[["top", "right"]].set_visible(False)
    rows = 0
    if handles:
        ncol = 3
        rows = -(-len(handles) // ncol)
        fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, (0.12 + 0.2 * rows) / fig.get_figheight(), 1, 1))
    return fig


def show_timeline(res: AuditResult, metric: str = "bytes", by: str = "service",
                  top: int = 8) -> None:
    from IPython.display import Image, display

    display(Image(data=timeline_png(res, metric, by, top), format="png"))


def show_recommendations(res: AuditResult) -> None:
    recs = res.recommendations
    parts = []
    for r in recs.regions:
        eps = pd.DataFrame([{
            "VPC endpoint": e.service_name, "kind": e.kind + (" + private DNS" if e.private_dns
                                                              else ""),
            "AWS_ENDPOINT_URL_*": e.endpoint_url_env or "-",
            "needed?": e.endpoint_url_required, "requests": f"{e.requests:,}",
            "bytes": human_bytes(e.bytes)} for e in r.endpoints])
        parts.append(f"### {r.region} ({r.partition})\n\nTakes **{r.requests:,}** requests / "
                     f"**{human_bytes(r.bytes)}** off the proxy.\n\n```\nNO_PROXY={r.no_proxy}\n"
                     f"```\n\n" + (_table(eps) if len(eps) else ""))
    if recs.stay_on_proxy:
        stay = pd.DataFrame([{"host": s.host, "requests": f"{s.requests:,}",
                              "bytes": human_bytes(s.bytes), "why": s.reason}
                             for s in recs.stay_on_proxy[:20]])
        parts.append("### Stays on the proxy\n\n" + _table(stay))
    _md("\n\n".join(parts) if parts else "No AWS traffic in the input.")


def notebook_path() -> Path:
    from proxylab.report.render import notebooks_dir

    return notebooks_dir() / NOTEBOOK


def render(paths: list[str], out_dir: Path, since: str | None = None,
           until: str | None = None, client_cidr: list[str] | None = None,
           bucket_seconds: int = 3600, kernel_name: str | None = None,
           aggregates: str | None = None) -> dict[str, Path]:
    """Execute the audit notebook with papermill and render HTML + Markdown next to it
    (on ``paths``, or on an ``aggregates`` file from any engine)."""
    import papermill as pm

    from proxylab.report.render import _child_stderr_to, _kernel, to_html, to_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / NOTEBOOK
    # The kernel's own chatter (its transport warnings, shutdown notes) goes to
    # kernel.log beside the notebook, never onto the user's terminal.
    with _child_stderr_to(out_dir / "kernel.log"):
        pm.execute_notebook(
            str(notebook_path()), str(executed),
            parameters={"paths": [str(p) for p in paths], "since": since, "until": until,
                        "client_cidr": list(client_cidr or []),
                        "bucket_seconds": bucket_seconds, "aggregates": aggregates},
            kernel_name=kernel_name or _kernel(), progress_bar=False, log_output=False,
            cwd=str(Path.cwd()),
        )
    html = to_html(executed, out_dir / "audit.html", hide_input=True, title="proxylab audit")
    md = to_markdown(executed, out_dir / "audit.md")
    return {"notebook": executed, "html": html, "markdown": md}
