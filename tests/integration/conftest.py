"""A real local lab for the integration tests, up once per session and always down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proxylab.labs import get_lab
from proxylab.labs.local.lab import LocalLab


@pytest.fixture(scope="session")
def lab() -> Iterator[LocalLab]:
    lab = get_lab("local", name="itest")
    try:
        lab.up()
        yield lab
    finally:
        left = lab.down()
        assert not left, f"lab down left: {left}"
