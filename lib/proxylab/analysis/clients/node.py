"""The Node clients' rule as far as the matrix models it.

The AWS SDK for JavaScript v3 (its ``NodeHttpHandler``) reads no proxy variable in
any version; Node's own fetch (undici) and ``http(s).request`` read none unless
``NODE_USE_ENV_PROXY=1`` on a Node that has that switch (22.21+, 24.5+). With the
switch on, the matching itself (lowercase or uppercase first, NO_PROXY's entries by
undici's or http.request's rule and Node version) is the one in
:mod:`proxylab.analysis.node_clients`, which the runtime analysis uses too: one home
for Node's rules.
"""

from __future__ import annotations

from proxylab.analysis import node_clients
from proxylab.analysis.clients.base import Decision, Request, version_tuple
from proxylab.vocab import Client, MatrixClient

# The matrix's env-proxy clients and the Node client whose rule decides for them.
_ENV_CLIENT = {MatrixClient.NODE_FETCH_ENV: Client.NODE_FETCH,
               MatrixClient.NODE_HTTP_ENV: Client.NODE_HTTP}


def has_env_proxy_switch(version: str | None) -> bool:
    v = version_tuple(version)
    return bool(v) and (v >= (24, 5) or (22, 21) <= v < (23,))


def _never(client: MatrixClient):
    def rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
        return Decision(client, None, reads_env=False, compared=req.host)
    return rule


def _switched(client: MatrixClient, switch_on: bool):
    def rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
        if switch_on and has_env_proxy_switch(version):
            # The cell runs with NODE_USE_ENV_PROXY=1 (clients/registry.py sets it).
            nd = node_clients.decide(_ENV_CLIENT[client], req.url,
                                     {**env, "NODE_USE_ENV_PROXY": "1"},
                                     node_clients.parse_version(version))
            return Decision(client, nd.proxy, proxy_variable=nd.proxy_variable,
                            no_proxy_variable=nd.no_proxy_variable,
                            matched=nd.match[0] if nd.match else None, compared=nd.compared,
                            note=str(nd.rule) if nd.rule else "")
        note = "NODE_USE_ENV_PROXY not set" if not switch_on else \
            "this Node has no NODE_USE_ENV_PROXY"
        return Decision(client, None, reads_env=False, compared=req.host, note=note)
    return rule


RULES = {MatrixClient.NODE_SDK_V3: _never(MatrixClient.NODE_SDK_V3),
         MatrixClient.NODE_FETCH: _switched(MatrixClient.NODE_FETCH, False),
         MatrixClient.NODE_HTTP: _switched(MatrixClient.NODE_HTTP, False),
         MatrixClient.NODE_FETCH_ENV: _switched(MatrixClient.NODE_FETCH_ENV, True),
         MatrixClient.NODE_HTTP_ENV: _switched(MatrixClient.NODE_HTTP_ENV, True)}
