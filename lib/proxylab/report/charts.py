"""Charts drawn only from captured data: route matrix, request timeline, topology.

Every function returns a matplotlib Figure and takes an optional ``redact``
callable (text -> text) so identifiers are replaced the same way in chart labels
as in the report's text and tables. Labels are ASCII on purpose: the charts are
shared by the English and Japanese reports and need no CJK font.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

ROUTE_COLORS = {
    "proxy": "#4C78A8",
    "endpoint": "#54A24B",
    "direct": "#B279A2",
    "failed-at-proxy": "#E45756",
    "failed-direct": "#F58518",
    "inconsistent": "#9D9D9D",
}
OUTCOME_MARKS = {"ok": "ok", "http_error": "HTTP err", "tunnel_error": "tunnel err",
                 "timeout": "timeout", "dns_error": "DNS err", "tls_error": "TLS err",
                 "other": "error"}
STEP_SHORT = {"s3_get": "get", "s3_put": "put", "web": "web", "api": "api"}
Redact = Callable[[str], str]


def png(fig: plt.Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes, then closed: notebooks display these bytes, so the
    HTML embeds them and the Markdown export writes them as files."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _identity(text: str) -> str:
    return text


def wrap_host(host: str, width: int = 22) -> str:
    """Break a long hostname at dots so column labels never overlap."""
    parts = host.split(".")
    lines, cur = [], ""
    for i, p in enumerate(parts):
        piece = p if i == 0 else "." + p
        if cur and len(cur) + len(piece) > width:
            lines.append(cur)
            cur = piece
        else:
            cur += piece
    lines.append(cur)
    return "\n".join(lines)


def route_matrix(routes: pd.DataFrame, runs: pd.DataFrame | None = None,
                 redact: Redact | None = None) -> plt.Figure:
    """Scenarios (rows) x hostnames (columns), each cell coloured by route, with
    each step's outcome written in it. Several runs of one scenario that disagree
    are shown as 'mixed' with the counts."""
    redact = redact or _identity
    if routes.empty:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "no probe steps captured", ha="center", va="center")
        return fig
    r = routes.copy()
    r["scenario"] = r["scenario"].astype(str)
    r["host"] = r["host"].astype(str)
    scen_order = list(dict.fromkeys(r["scenario"]))
    host_order = _host_order(r)
    titles = {}
    if runs is not None and len(runs):
        titles = dict(zip(runs["scenario"].astype(str), runs["title"].astype(str), strict=False))
    ncol, nrow = len(host_order), len(scen_order)
    cell_w, label_w = 1.9, 3.2
    fig_w = max(7.0, label_w + cell_w * ncol)
    fig_h = 1.7 + 0.62 * nrow
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    for i, scen in enumerate(scen_order):
        for j, host in enumerate(host_order):
            cell = r[(r["scenario"] == scen) & (r["host"] == host)]
            if cell.empty:
                ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor="#F4F4F4", edgecolor="white",
                                           lw=2))
                continue
            routes_here = list(dict.fromkeys(cell["route"].astype(str)))
            color = ROUTE_COLORS.get(routes_here[0], "#CCCCCC") if len(routes_here) == 1 \
                else "#DDDDDD"
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=color, edgecolor="white", lw=2,
                                       hatch="//" if len(routes_here) > 1 else None))
            ax.text(j + 0.5, i + 0.5, _cell_text(cell, routes_here), ha="center", va="center",
                    fontsize=8, color="white" if len(routes_here) == 1 else "black",
                    fontweight="bold")
    ax.set_xlim(0, ncol)
    ax.set_ylim(nrow, 0)
    ax.set_xticks([j + 0.5 for j in range(ncol)])
    ax.set_xticklabels([wrap_host(redact(h)) for h in host_order], fontsize=7.5)
    ax.xaxis.tick_top()
    ax.set_yticks([i + 0.5 for i in range(nrow)])
    ylabels = [f"{s}\n{textwrap.shorten(redact(titles.get(s, '')), 44, placeholder='...')}"
               if titles.get(s) else s for s in scen_order]
    ax.set_yticklabels(ylabels, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    present = [k for k in ROUTE_COLORS if k in set(r["route"].astype(str))]
    handles = [Patch(facecolor=ROUTE_COLORS[k], label=k) for k in present]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02),
              ncol=min(len(handles), 6), frameon=False, fontsize=8)
    fig.suptitle("Route taken by each request (cell text: step and its outcome)", fontsize=10,
                 y=0.995)
    fig.tight_layout()
    return fig


def _host_order(r: pd.DataFrame) -> list[str]:
    step_rank = {"s3_get": 0, "s3_put": 0, "web": 1, "api": 2}
    first = r.groupby("host", observed=True)["step"].first().astype(str)
    return sorted(first.index, key=lambda h: (step_rank.get(first[h], 9), h))


def _cell_text(cell: pd.DataFrame, routes_here: list[str]) -> str:
    lines = []
    for step, grp in cell.groupby(cell["step"].astype(str), sort=False):
        outs = grp["outcome"].astype(str).value_counts()
        text = ", ".join(f"{OUTCOME_MARKS.get(o, o)}" + (f" x{n}" if len(grp) > 1 else "")
                         for o, n in outs.items())
        lines.append(f"{STEP_SHORT.get(step, step)}: {text}")
    if len(routes_here) > 1:
        counts = cell["route"].astype(str).value_counts()
        lines.append("mixed: " + ", ".join(f"{k} x{v}" for k, v in counts.items()))
    return "\n".join(lines)


def timeline(tables: Any, run_id: str, redact: Redact | None = None) -> plt.Figure:
    """One run's requests over time: Squid tunnels as bars (start = logged time -
    elapsed) and service-front hits as markers, one row per host. dnsmasq logs
    whole seconds only, so DNS answers are written under each host's name rather
    than placed on a millisecond axis they cannot honestly be placed on."""
    redact = redact or _identity
    pr = tables.proxy_requests[tables.proxy_requests["run_id"] == run_id]
    sh = tables.service_hits[tables.service_hits["run_id"] == run_id]
    dq = tables.dns_queries[tables.dns_queries["run_id"] == run_id]
    # Only lookups of names the run talked to (not Squid's reverse lookups of its clients).
    hosts = list(dict.fromkeys([*sh["host"].dropna().astype(str),
                                *pr["host"].dropna().astype(str)]))
    dq = dq[dq["name"].isin(hosts)]
    stamps = [s for s in (*pr["ts"], *sh["ts"]) if not pd.isna(s)]
    fig, ax = plt.subplots(figsize=(10, 2.2 + 0.45 * max(len(hosts), 1)))
    if not stamps:
        ax.axis("off")
        ax.text(0.5, 0.5, "no timed evidence in this run", ha="center", va="center")
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
    ax.set_yticklabels([redact(h) + ("\nDNS " + ", ".join(answers[h][:2]) if h in answers else "")
                        for h in hosts], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first evidence of this run")
    ax.grid(axis="x", alpha=0.3)
    legend = [
        Patch(color=ROUTE_COLORS["proxy"], label="Squid tunnel (ok)"),
        Patch(color=ROUTE_COLORS["failed-at-proxy"], label="Squid request (failed)"),
        plt.Line2D([], [], marker="o", color=ROUTE_COLORS["proxy"], linestyle="none",
                   markeredgecolor="black", label="front hit via internet"),
        plt.Line2D([], [], marker="s", color=ROUTE_COLORS["endpoint"], linestyle="none",
                   markeredgecolor="black", label="via gateway endpoint"),
        plt.Line2D([], [], marker="D", color=ROUTE_COLORS["endpoint"], linestyle="none",
                   markeredgecolor="black", label="via interface endpoint"),
    ]
    ax.set_title(redact(f"Requests of run {run_id}"), fontsize=10)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.legend(handles=legend, loc="lower center", ncol=3, frameon=False, fontsize=8)
    return fig


def topology(lab: dict[str, Any], redact: Redact | None = None,
             endpoints: dict[str, Any] | None = None) -> plt.Figure:
    """The lab as a diagram: the four places, the peering link, the proxy's way
    out, and the VPC endpoints the layout switches on."""
    redact = redact or _identity
    endpoints = endpoints or lab.get("endpoints") or {}
    places = {p["name"]: p for p in lab.get("places", [])}
    res = lab.get("resources", {})
    boxes = {  # name: (x, y, w, h)
        "lambda": (0.3, 0.4, 3.6, 2.6),
        "proxy": (0.3, 3.7, 3.6, 2.0),
        "internet": (6.3, 3.7, 3.4, 2.0),
        "aws": (6.3, 0.4, 3.4, 2.6),
    }
    colors = {"lambda": "#FFF4E0", "proxy": "#E8F0FA", "internet": "#F1F1F1", "aws": "#EAF6E8"}
    fig, ax = plt.subplots(figsize=(10, 6.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6.1)
    ax.axis("off")
    for name, (x, y, w, h) in boxes.items():
        place = places.get(name, {"name": name, "stands_for": name, "addresses": []})
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05",
                                    facecolor=colors[name], edgecolor="#555555"))
        ax.text(x + 0.12, y + h - 0.12, name, fontsize=11, fontweight="bold", va="top")
        ax.text(x + 0.12, y + h - 0.45, textwrap.fill(redact(place.get("stands_for", "")), 46),
                fontsize=7.5, va="top", color="#333333")
        # "lo 10.1.143.211/32" (interface, address) -> the address only
        addrs = ", ".join(dict.fromkeys(redact(str(a).split()[-1])
                                        for a in place.get("addresses", [])[:6] if str(a).strip()))
        ax.text(x + 0.12, y + 0.12, textwrap.fill(addrs, 40), fontsize=7, va="bottom",
                color="#555555", family="monospace")
    squid = next((s for s in lab.get("services", []) if s.get("name") == "squid"), None)
    if squid or res.get("proxy_url"):
        where = res.get("proxy_url") or (squid or {}).get("address", "")
        ax.text(0.45, 4.55, redact(f"Squid {where}"), fontsize=8.5,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#4C78A8"})
    ax.text(0.45, 1.95, "Lambda function (probe)", fontsize=8.5,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#F58518"})

    def arrow(a, b, text, color, style="-|>", ls="-", off=(0, 0)):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=14, color=color,
                                     lw=1.8, linestyle=ls))
        ax.text((a[0] + b[0]) / 2 + off[0], (a[1] + b[1]) / 2 + off[1], text, fontsize=7.5,
                ha="center", va="center", color=color,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})

    arrow((2.1, 3.0), (2.1, 3.7), "VPC peering", "#4C78A8", style="<|-|>", off=(0.9, 0))
    arrow((3.9, 4.7), (6.3, 4.7), "internet", "#4C78A8", off=(0, 0.18))
    arrow((3.9, 4.1), (6.3, 2.7), "public S3 / API fronts", "#4C78A8", off=(0.1, 0.25))
    on = endpoints
    if on.get("s3_gateway"):
        vpce = res.get("s3_gateway_vpce_id", "")
        arrow((3.9, 2.1), (6.3, 2.1), redact(f"S3 gateway endpoint {vpce}"), "#54A24B",
              off=(0, 0.18))
    if on.get("execute_api_interface"):
        vpce = res.get("execute_api_vpce_id", "")
        dns = "private DNS on" if on.get("execute_api_private_dns") else "private DNS off"
        arrow((3.9, 1.2), (6.3, 1.2), redact(f"execute-api interface endpoint {vpce}\n({dns})"),
              "#54A24B", off=(0, 0.3))
    ax.text(2.1, 0.2, "no NAT: no direct route to the internet", fontsize=7.5, ha="center",
            color="#B03030")
    pdns = on.get("private_api_public_dns", "nxdomain")
    ax.text(8.0, 3.45, f"public DNS for private API names: {pdns}", fontsize=7.5, ha="center",
            color="#555555")
    ax.set_title(redact(f"Lab topology ({lab.get('backend', '?')} backend, region "
                        f"{lab.get('region', '?')})"), fontsize=10)
    fig.tight_layout()
    return fig
