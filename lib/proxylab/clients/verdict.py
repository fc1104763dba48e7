"""Each measured cell against its client's rule: the predicted route, and whether the
lab showed it (:class:`proxylab.vocab.Agreement`).

The prediction is made from the same values the cell ran with (the case's
environment, the cell's URL, the lab's bucket and region) by the rules in
:mod:`proxylab.analysis.clients`; the proxy that answers is the lab's Squid
(``values["proxy"]``), any other address refuses.
"""

from __future__ import annotations

from proxylab.analysis.clients import Request, decide, expected_route
from proxylab.clients.matrix import Cell, Matrix
from proxylab.vocab import Agreement


def judge_cell(cell: Cell, env: dict[str, str], values: dict[str, str]) -> None:
    """Fill ``cell.predicted``, ``cell.agreement`` and ``cell.rule`` in place."""
    if cell.route is None:
        cell.agreement = Agreement.NOT_RUN
        return
    request = Request(cell.url, bucket=values.get("bucket", ""), region=values.get("region", ""))
    decision = decide(cell.client, env, request, cell.version)
    if decision is None:
        cell.agreement = Agreement.NO_RULE
        return
    cell.predicted = expected_route(decision, values["proxy"])
    cell.rule = {k: v for k, v in {
        "proxy": decision.proxy, "reads_env": decision.reads_env,
        "proxy_variable": decision.proxy_variable,
        "no_proxy_variable": decision.no_proxy_variable, "matched": decision.matched,
        "compared": decision.compared, "note": decision.note}.items() if v not in (None, "")}
    cell.agreement = Agreement.AGREES if cell.predicted == cell.route else Agreement.DIFFERS


def judge(matrix: Matrix) -> Matrix:
    """Judge every cell of ``matrix`` (in place; returned for chaining)."""
    envs = {c["id"]: c["env"] for c in matrix.cases}
    values = matrix.meta.get("values", {})
    for cell in matrix.cells:
        judge_cell(cell, envs.get(cell.case, {}), values)
    return matrix
