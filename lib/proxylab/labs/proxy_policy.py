"""What the egress proxy allows: the part of a lab a scenario's ``proxy:`` block sets.

Corporate proxies are rarely open: they allow a list of destinations
(``dstdomain`` / ``dstdom_regex`` ACLs, as aws-samples' egress-proxy templates do),
a set of CONNECT ports, and may ask for credentials. A scenario can say so, and the
lab's Squid then answers ``TCP_DENIED/403`` for a host missing from the allowlist
and ``TCP_DENIED/407`` for a request without valid credentials. ``config`` instead
names the user's own ``squid.conf``. ``squid`` chooses the Squid major version
(the seed's proxy behaved like Squid 6; Debian 12's is 5, see docs/lab.md).

The record is backend-neutral and travels inside :class:`EndpointLayout`, so it is
applied with the endpoints and recorded in every capture's ``lab.endpoints.proxy``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

SQUID_VERSIONS = ("5", "6")
# The seed's proxy answered like Squid >= 6.3; the lab builds Squid 6 from Debian
# 13's package (`proxylab lab setup --squid 6`), Squid 5 is Debian 12's own.
DEFAULT_SQUID = "6"
POLICY_FIELDS = ("squid", "allow_domains", "allow_regex", "allow_ports", "users", "config")

_DOMAIN_RE = re.compile(r"^\.?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_USER_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


@dataclass(frozen=True)
class ProxyPolicy:
    """``allow_*`` empty = no allowlist (every destination allowed, as in the seed);
    ``users`` empty = no authentication. ``allow_ports`` are the CONNECT ports
    (Squid's ``SSL_ports``; default 443). ``users`` holds (name, password) pairs
    of lab-only accounts; the lab writes them to a ``basic_ncsa_auth`` file."""

    squid: str = DEFAULT_SQUID
    allow_domains: tuple[str, ...] = ()
    allow_regex: tuple[str, ...] = ()
    allow_ports: tuple[int, ...] = ()
    users: tuple[tuple[str, str], ...] = ()
    config: str | None = None

    @property
    def allowlist(self) -> bool:
        return bool(self.allow_domains or self.allow_regex)

    def to_dict(self) -> dict[str, Any]:
        return {
            "squid": self.squid,
            "allow_domains": list(self.allow_domains),
            "allow_regex": list(self.allow_regex),
            "allow_ports": list(self.allow_ports),
            "users": dict(self.users),
            "config": self.config,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ProxyPolicy:
        d = dict(data or {})
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown proxy setting(s): {', '.join(sorted(unknown))}")
        users = d.get("users") or {}
        return cls(
            squid=str(d.get("squid", DEFAULT_SQUID)),
            allow_domains=tuple(d.get("allow_domains") or ()),
            allow_regex=tuple(d.get("allow_regex") or ()),
            allow_ports=tuple(int(p) for p in d.get("allow_ports") or ()),
            users=tuple(sorted(users.items())) if isinstance(users, dict) else tuple(users),
            config=d.get("config"),
        )


def problems(key: str, value: Any) -> list[str]:
    """What is wrong with one ``proxy:`` setting as written (empty: fine). One
    checker for the catalogue loader and the CLI's ``--squid``."""
    if key == "squid":
        v = str(value)
        return (
            [] if v in SQUID_VERSIONS else [f"{value!r}: choose one of {', '.join(SQUID_VERSIONS)}"]
        )
    if key in ("allow_domains", "allow_regex", "allow_ports"):
        if not isinstance(value, list):
            return ["expected a list"]
        out = []
        for item in value:
            if key == "allow_domains" and not (
                isinstance(item, str) and _DOMAIN_RE.match(item.lower())
            ):
                out.append(
                    f"{item!r} is not a domain (www.example.com, or .example.com for it "
                    "and its subdomains)"
                )
            elif key == "allow_regex":
                try:
                    re.compile(str(item))
                    if not isinstance(item, str) or not item:
                        raise re.error("empty")
                except re.error as exc:
                    out.append(f"{item!r} is not a regular expression ({exc})")
            elif key == "allow_ports" and not (
                isinstance(item, int) and not isinstance(item, bool) and 0 < item < 65536
            ):
                out.append(f"{item!r} is not a TCP port (1-65535)")
        return out
    if key == "users":
        if not isinstance(value, dict) or not value:
            return ["expected a mapping of user names to passwords"]
        out = []
        for name, password in value.items():
            if not isinstance(name, str) or not _USER_RE.match(name):
                out.append(f"{name!r} is not a user name (letters, digits, . _ @ -)")
            if not isinstance(password, str) or not password or "\n" in password:
                out.append(f"user {name!r}: the password must be a non-empty string")
        return out
    if key == "config":
        return [] if isinstance(value, str) and value else ["expected a path to a squid.conf"]
    return [f"unknown setting (one of: {', '.join(POLICY_FIELDS)})"]
