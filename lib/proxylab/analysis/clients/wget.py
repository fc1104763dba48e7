"""GNU Wget's proxy rule (src/retr.c ``getproxy``, src/host.c ``sufmatch``).

- Only the lowercase variables: ``https_proxy`` / ``http_proxy`` (empty = unset) and
  ``no_proxy``.
- A no_proxy entry matches a host that ends with it at a dot boundary, or anywhere
  when the entry starts with a dot; so ``.x`` never matches ``x`` itself; no ``*``,
  no CIDR, no ports.
- The proxy URL's scheme is not used for the connection: an ``https://`` value is
  sent a plain CONNECT, a value without scheme is plain HTTP.
"""

from __future__ import annotations

from proxylab.analysis.clients.base import Decision, Request, first_set, with_scheme
from proxylab.vocab import MatrixClient


def no_proxy_entry(no: str, host: str) -> str | None:
    for raw in no.split(","):
        entry = raw.strip().lower()
        if not entry or len(entry) > len(host) or not host.endswith(entry):
            continue
        before = len(host) - len(entry) - 1
        if before < 0 or host[before] == "." or entry.startswith("."):
            return raw.strip()
    return None


def rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    variable, proxy = first_set(env, f"{req.scheme}_proxy")
    no_var, no = first_set(env, "no_proxy")
    entry = no_proxy_entry(no, req.host) if no and proxy else None
    if entry is not None:
        proxy = None
    return Decision(MatrixClient.WGET, with_scheme(proxy) if proxy else None,
                    proxy_variable=variable, no_proxy_variable=no_var, matched=entry,
                    compared=req.host, tls_to_proxy=False)


RULES = {MatrixClient.WGET: rule}
