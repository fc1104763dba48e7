"""The AWS CRT's proxy rule (aws-c-http ``proxy_connection.c`` and ``no_proxy.c``), as
botocore's CRT path (s3transfer's ``CRTTransferManager``) uses it: read per
connection, against the request's own host (the bucket's virtual host).

- ``https_proxy`` then ``HTTPS_PROXY`` for TLS connections (the first non-empty, so
  an empty lowercase variable does not cancel); ``http_proxy`` / ``HTTP_PROXY``
  otherwise.
- ``no_proxy`` then ``NO_PROXY``: ``*`` alone; entries trimmed, dots stripped from
  both ends, a name matches itself and its subdomains; an IP-literal host by address
  or CIDR. Before aws-c-http 0.10.3 (awscrt 0.27.5) NO_PROXY was not read at all.
"""

from __future__ import annotations

import ipaddress

from proxylab.analysis.clients.base import Decision, Request, first_set, version_tuple, with_scheme
from proxylab.vocab import MatrixClient

NO_PROXY_SINCE = (0, 27, 5)  # awscrt release carrying aws-c-http 0.10.3


def no_proxy_entry(no: str, host: str) -> str | None:
    if no == "*":
        return "*"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    host = host.rstrip(".")
    for raw in no.split(","):
        entry = raw.strip()
        if not entry:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return entry
            except ValueError:
                continue
            continue
        name = entry.strip(".").lower()
        if name and (host == name or host.endswith("." + name)):
            return entry
    return None


def rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    names = ("https_proxy", "HTTPS_PROXY") if req.scheme == "https" else (
        "http_proxy", "HTTP_PROXY")
    variable, proxy = first_set(env, *names)
    reads_no = not version or version_tuple(version) >= NO_PROXY_SINCE
    no_var, no = first_set(env, "no_proxy", "NO_PROXY") if reads_no else (None, None)
    entry = no_proxy_entry(no, req.host) if no and proxy else None
    if entry is not None:
        proxy = None
    return Decision(MatrixClient.BOTOCORE_CRT, with_scheme(proxy) if proxy else None,
                    proxy_variable=variable, no_proxy_variable=no_var, matched=entry,
                    compared=req.host, note="" if reads_no else "NO_PROXY not read")


RULES = {MatrixClient.BOTOCORE_CRT: rule}
