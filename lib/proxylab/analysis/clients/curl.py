"""curl's proxy rule (lib/url.c ``detect_proxy``, lib/noproxy.c ``Curl_check_noproxy``).

- The scheme's variable in lowercase (``https_proxy``), then uppercase, except that
  ``HTTP_PROXY`` is never read (a CGI header could set it); then ``all_proxy`` /
  ``ALL_PROXY``. ``curl_getenv`` treats an empty value as unset, so an empty
  lowercase variable does not cancel the uppercase one.
- ``no_proxy`` then ``NO_PROXY`` (non-empty); ``*`` only as the whole value; entries
  split on commas and blanks; a leading dot is dropped; a name matches itself and its
  subdomains; an IP-literal host matches an address or (7.86+) a CIDR; ports are not
  part of the test, so ``host:443`` matches nothing.
- An ``https://`` proxy is spoken TLS to; a value without scheme is plain HTTP.
"""

from __future__ import annotations

import ipaddress
import re

from proxylab.analysis.clients.base import Decision, Request, first_set, version_tuple, with_scheme
from proxylab.vocab import MatrixClient


def _ip_match(host: str, entry: str, cidr: bool) -> bool:
    try:
        address = ipaddress.ip_address(host)
        if "/" in entry:
            return cidr and address in ipaddress.ip_network(entry, strict=False)
        return address == ipaddress.ip_address(entry)
    except ValueError:
        return False


def no_proxy_entry(no: str, host: str, version: str | None = None) -> str | None:
    """The entry of ``no`` curl matches ``host`` with (``*`` for the lone star)."""
    if no.strip() == "*":
        return "*"
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    cidr = version_tuple(version) >= (7, 86) if version else True
    for token in (t for t in re.split(r"[,\s]+", no) if t):
        if is_ip:
            if _ip_match(host, token, cidr):
                return token
            continue
        name = token[1:] if token.startswith(".") else token
        name = name.lower()
        if name and (host == name or host.endswith("." + name)):
            return token
    return None


def rule(env: dict[str, str], req: Request, version: str | None) -> Decision:
    scheme = req.scheme
    names = [f"{scheme}_proxy"] + ([] if scheme == "http" else [f"{scheme.upper()}_PROXY"])
    variable, proxy = first_set(env, *names, "all_proxy", "ALL_PROXY")
    no_var, no = first_set(env, "no_proxy", "NO_PROXY")
    entry = no_proxy_entry(no, req.host, version) if no and proxy else None
    if entry is not None:
        proxy = None
    return Decision(MatrixClient.CURL, with_scheme(proxy) if proxy else None,
                    proxy_variable=variable, no_proxy_variable=no_var, matched=entry,
                    compared=req.host)


RULES = {MatrixClient.CURL: rule}
