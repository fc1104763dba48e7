"""The Node clients' rule as far as the matrix models it.

The AWS SDK for JavaScript v3 (its ``NodeHttpHandler``) reads no proxy variable in
any version; Node's own fetch (undici) and ``http(s).request`` read none unless
``NODE_USE_ENV_PROXY=1`` on a Node that has that switch (22.21+, 24.5+). Node's
env-proxy matching itself (for the versions that have it) is modelled by the Node
runtime analysis (issue 11): here such cells have no rule rather than a guess.
"""

from __future__ import annotations

from proxylab.analysis.clients.base import Decision, Request, version_tuple
from proxylab.vocab import MatrixClient


def has_env_proxy_switch(version: str | None) -> bool:
    v = version_tuple(version)
    return bool(v) and (v >= (24, 5) or (22, 21) <= v < (23,))


def _never(client: MatrixClient):
    def rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
        return Decision(client, None, reads_env=False, compared=req.host)
    return rule


def _switched(client: MatrixClient, switch_on: bool):
    def rule(env: dict[str, str], req: Request, version: str | None) -> Decision | None:
        if switch_on and has_env_proxy_switch(version):
            return None  # env proxies on: see the module docstring
        note = "NODE_USE_ENV_PROXY not set" if not switch_on else \
            "this Node has no NODE_USE_ENV_PROXY"
        return Decision(client, None, reads_env=False, compared=req.host, note=note)
    return rule


RULES = {MatrixClient.NODE_SDK_V3: _never(MatrixClient.NODE_SDK_V3),
         MatrixClient.NODE_FETCH: _switched(MatrixClient.NODE_FETCH, False),
         MatrixClient.NODE_HTTP: _switched(MatrixClient.NODE_HTTP, False),
         MatrixClient.NODE_FETCH_ENV: _switched(MatrixClient.NODE_FETCH_ENV, True),
         MatrixClient.NODE_HTTP_ENV: _switched(MatrixClient.NODE_HTTP_ENV, True)}
