"""`proxylab audit` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="(not implemented yet)")
    p.set_defaults(func=lambda args: print("proxylab audit: not implemented yet") or 2)
