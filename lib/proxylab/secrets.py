"""Credentials never reach a capture: ``scheme://user:password@host`` -> ``user:***@``.

Why at capture time: run.json, the raw logs and everything built from them
(tables, "why" texts, notebooks, reports, charts) are shared and published, with or
without ``--redact``; a password masked where the capture is written cannot leak
from any later step. The function itself still gets the real value. Masking keeps
the user name (Squid logs it too, and it tells runs apart) and the URL's shape, so
the analysis reads the same proxy decision from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
# userinfo with a password: RFC 3986 allows most characters but '@', '/' and whitespace.
_CRED_RE = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s:@/]*):"
                      r"(?P<password>[^\s@/]+)@")


def mask(text: str) -> str:
    """``text`` with every URL password replaced by ``***``."""
    if "@" not in text:
        return text
    return _CRED_RE.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def mask_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: mask(v) for k, v in env.items()}


def mask_any(value: Any) -> Any:
    """Strings anywhere inside dicts and lists (an invocation's error or payload)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: mask_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_any(v) for v in value)
    return value


def secrets_in(env: Mapping[str, str]) -> list[str]:
    """The passwords the variables carry (for tests and checks: find them anywhere)."""
    return [m["password"] for v in env.values() for m in _CRED_RE.finditer(v)]
