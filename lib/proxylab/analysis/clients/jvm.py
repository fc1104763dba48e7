"""The JDK's rule (``sun.net.spi.DefaultProxySelector``): proxies come from system
properties (``https.proxyHost``/``https.proxyPort``, ``http.nonProxyHosts`` with ``|``
and ``*``) or, with ``java.net.useSystemProxies``, the desktop's settings; never from
environment variables. The matrix starts java with no such property, so both JDK
clients connect directly whatever the case sets."""

from __future__ import annotations

from proxylab.analysis.clients.base import Decision, Request
from proxylab.vocab import MatrixClient


def _ignores(client: MatrixClient):
    def rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
        return Decision(client, None, reads_env=False, compared=req.host)
    return rule


RULES = {c: _ignores(c) for c in (MatrixClient.JAVA_HTTPCLIENT,
                                  MatrixClient.JAVA_URLCONNECTION)}
