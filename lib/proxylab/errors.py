"""Errors a user can act on: the CLI prints the message alone, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or an unmet precondition; the message says what to do next."""

    exit_code = 2
