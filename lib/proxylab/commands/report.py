"""`proxylab report` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="(not implemented yet)")
    p.set_defaults(func=lambda args: print("proxylab report: not implemented yet") or 2)
