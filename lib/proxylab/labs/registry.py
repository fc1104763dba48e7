"""Lab backends by name, imported lazily so `proxylab audit` never loads boto3
or the namespace code (the same idea as papermill's engine registry).

:func:`get_lab` is also where a backend's options are checked: an option the backend
does not take is refused, naming the ones it does, rather than swallowed (a
``--region`` the local lab quietly ignored once ran a scenario in the wrong region).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from proxylab.errors import did_you_mean
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


def _factory(backend: str) -> Callable[..., Lab]:
    try:
        factory = _BACKENDS[backend]
    except KeyError:
        raise LabError(
            f"unknown lab backend {backend!r}; choose one of: {', '.join(available_backends())}"
            + did_you_mean(backend, available_backends())
        ) from None
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
    return factory


def backend_options(backend: str) -> tuple[str, ...] | None:
    """The keyword options a backend takes, from its factory's signature (one list,
    not a copy); None when the factory takes any (``**kwargs``) and checks them itself."""
    return _options_of(_factory(backend))


def _options_of(factory: Callable[..., Lab]) -> tuple[str, ...] | None:
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def get_lab(backend: str = "local", **options: Any) -> Lab:
    """A lab of ``backend`` built with ``options``; a LabError for an unknown backend
    or an option it does not take. (That every backend implements the whole protocol,
    :data:`~proxylab.labs.base.LAB_METHODS`, is a test, not a check on each call.)"""
    factory = _factory(backend)
    known = _options_of(factory)
    if known is not None:
        unknown = [k for k in options if k not in known]
        if unknown:
            refusals = [
                f"the {backend} backend has no option {k!r}" + did_you_mean(k, known)
                for k in unknown
            ]
            raise LabError("\n".join(refusals) + f"\n(it takes: {', '.join(known)})")
    return factory(**options)
