"""Parsers from raw capture lines to the pandas tables of DESIGN.md §5.

Every parser takes the lines of one capture file and returns a :class:`ParseResult`:
the DataFrame with explicit dtypes, plus the lines it could not read (number and
text), kept aside and counted. A malformed line is evidence too (a truncated log,
a format change), so it is never fatal and never silently dropped.
"""

from proxylab.logs.base import Malformed, ParseResult

__all__ = ["Malformed", "ParseResult"]
