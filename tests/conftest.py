"""Shared test configuration: lab tests are skipped with a reason where they cannot run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Reports rendered by tests keep their derived tables in a directory of the run's
# own, not in the checkout's data/tables/ (subprocesses inherit it).
os.environ.setdefault("PROXYLAB_TABLES", tempfile.mkdtemp(prefix="proxylab-tables-"))


def lab_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not Path("/proc/self/ns/net").exists():
        return "no network namespace support"
    for tool in ("ip", "squid", "dnsmasq", "curl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run `make setup`)"
    from proxylab.labs.local import squid_root

    if not squid_root.ready():
        # The lab's default Squid is 6: say exactly what makes it (`make test` does).
        return squid_root.missing_message()
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = lab_unavailable_reason()
    # In CI the lab must run: a skipped lab test there would hide a broken setup.
    if reason and os.environ.get("CI"):
        return
    if reason:
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if "lab" in item.keywords:
                item.add_marker(skip)
