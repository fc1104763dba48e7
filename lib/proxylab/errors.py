"""Errors a user can act on: the CLI prints the message alone, without a traceback.

The near-miss hint (`did_you_mean`) lives here, below every package, because the
scenario loader and the lab registry both word their refusals with it.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or an unmet precondition; the message says what to do next."""

    exit_code = 2


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """'; did you mean X?' for a near miss (case-insensitive), else ''."""
    lowered = {c.lower(): c for c in choices}
    w = word.lower()
    # 'enviroment' -> 'env' (a choice the word starts with) before edit distance,
    # which would say 'event'.
    match = [c for c in lowered if len(c) >= 3 and w.startswith(c)][:1]
    import difflib  # only for a refusal: every Lambda host imports this module

    match = match or difflib.get_close_matches(w, list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[match[0]]!r}?" if match else ""
