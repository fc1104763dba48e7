"""Lab backends by name, imported lazily so `proxylab audit` never loads boto3
or the namespace code (the same idea as papermill's engine registry)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from proxylab.labs.base import Lab, LabError

_BACKENDS: dict[str, str | Callable[..., Lab]] = {
    "local": "proxylab.labs.local.lab:LocalLab",
    "aws": "proxylab.labs.aws.lab:AwsLab",
}


def register_backend(name: str, factory: str | Callable[..., Lab]) -> None:
    """Add a backend: a callable, or ``"module:attr"`` imported on first use."""
    _BACKENDS[name] = factory


def available_backends() -> list[str]:
    return sorted(_BACKENDS)


def get_lab(backend: str = "local", **options: Any) -> Lab:
    try:
        factory = _BACKENDS[backend]
    except KeyError:
        raise LabError(
            f"unknown lab backend {backend!r}; choose one of: {', '.join(available_backends())}"
        ) from None
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
    return factory(**options)
