"""The client matrix for people: a plain-text table for the terminal and Markdown.

Rows are cases and columns clients (a case id is longer than a route, and there
are more cases than clients, so this way the table stays narrow enough for a
terminal). The JSON beside them (:meth:`Matrix.to_dict`) keeps every cell's
evidence, error and timing.
"""

from __future__ import annotations

from typing import Any

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


def markdown(matrix: Matrix) -> str:
    header, rows = _grid(matrix)
    versions = ["*version*"] + [c["version"] or "not installed" for c in matrix.clients]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"

    meta = matrix.meta
    lab = meta.get("lab", {})
    out = [
        "# Client matrix: which way each client's request went",
        "",
        f"Lab `{lab.get('name', '?')}` ({lab.get('backend', '?')}, Squid "
        f"{lab.get('squid_version', '?')}), {meta.get('timeout_s', '?')} s per request, "
        f"{meta.get('wall_s', '?')} s in all; endpoints: {_layout(lab.get('endpoints'))}. "
        "`proxy`: Squid or a front saw the request come "
        "through the proxy; `direct`: a VPC endpoint served it, or it timed out with no "
        "proxy evidence (the subnet has no NAT); `failed`: neither (see the JSON for the "
        "client's error).",
        "",
        line(header),
        line(["---"] * len(header)),
        line(versions),
        *map(line, rows),
        "",
        "## Cases",
        "",
        line(["case", "target", "environment", "what it asks"]),
        line(["---"] * 4),
    ]
    for case in matrix.cases:
        env = " ".join(f"`{k}={v}`" for k, v in case["env"].items())
        out.append(line([case["id"], case["target"], env, case["summary"]]))
    notes = _footnotes(matrix)
    if notes:
        out += ["", "## Notes", "", *(f"- {n.strip()}" for n in notes if n.strip())]
    return "\n".join(out) + "\n"


def _layout(endpoints: dict[str, Any] | None) -> str:
    """The lab's endpoint layout in words: what ``direct`` could reach depends on it
    (S3 through the gateway endpoint, the API through the interface endpoint)."""
    if not endpoints:
        return "unknown"
    on = {True: "on", False: "off"}
    return (f"S3 gateway {on[bool(endpoints.get('s3_gateway'))]}, execute-api interface "
            f"{on[bool(endpoints.get('execute_api_interface'))]} (private DNS "
            f"{on[bool(endpoints.get('execute_api_private_dns'))]})")


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
