"""Each matrix client's proxy rule, as a function of the environment and the request.

One module per client family, each rule read from that client's own source (named in
its docstring) and written as a pure function ``(env, request, version) ->
Decision``: which proxy URL the client would use (None: it connects directly), the
variable it came from, the NO_PROXY entry that sent it direct. ``os.environ`` is never
read or changed. :func:`expected_route` turns a decision into the route the lab must
show, and the client matrix (``proxylab clients``) checks every measured cell against
it: a test runs the matrix and requires them to be equal.

A client or version whose rule is not modelled has no rule (:func:`decide` returns
None), so its cells say so instead of claiming agreement.
"""

from __future__ import annotations

from proxylab.analysis.clients import crt, curl, go, jvm, node, python, wget
from proxylab.analysis.clients.base import (
    Decision,
    Request,
    Rule,
    expected_route,
    first_set,
    version_tuple,
    with_scheme,
)
from proxylab.vocab import MatrixClient

RULES: dict[MatrixClient, Rule] = {**python.RULES, **curl.RULES, **wget.RULES, **go.RULES,
                                   **crt.RULES, **jvm.RULES, **node.RULES}


def decide(client: str, env: dict[str, str], request: Request,
           version: str | None = None) -> Decision | None:
    """``client``'s decision for ``request`` under ``env`` (None: no rule modelled)."""
    try:
        key = MatrixClient(client)
    except ValueError:
        return None
    rule = RULES.get(key)
    return None if rule is None else rule(env, request, version)


__all__ = ["RULES", "Decision", "Request", "Rule", "decide", "expected_route", "first_set",
           "version_tuple", "with_scheme"]
