"""How a log file's text becomes lines, for every record in :mod:`proxylab.grammar`.

Every log proxylab reads is written a line at a time ending in ``\\n`` (Squid,
dnsmasq, the fronts, the Lambda runtime). ``str.splitlines`` would also break a line
at ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, U+0085, U+2028 and a lone CR, so one
damaged line would count as two and shift every later line number; the audit, which
splits bytes on ``\\n``, would then count the file differently.
"""

from __future__ import annotations

from pathlib import Path


def split_lines(text: str) -> list[str]:
    """A log file's text as lines: split on ``\\n`` only (``str.splitlines`` would also
    split on ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, U+0085, U+2028...), CR of CRLF dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def read_lines(path: Path) -> list[str]:
    """A capture file's lines (:func:`split_lines`; invalid UTF-8 replaced); [] if absent."""
    if not path.exists():
        return []
    return split_lines(path.read_text(encoding="utf-8", errors="replace"))
