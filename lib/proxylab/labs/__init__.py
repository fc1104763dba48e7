"""Lab backends behind one protocol, chosen by name from a registry.

The notebooks, the runner and the analysis never import a backend directly: they
ask :func:`get_lab` for one by name, so a capture made on the local lab and one
made on AWS go through the same code.
"""

from proxylab.labs.base import (
    EndpointLayout,
    Evidence,
    EvidenceMark,
    FunctionCode,
    Invocation,
    Lab,
    LabDescription,
    LabError,
    Place,
    Service,
)
from proxylab.labs.registry import available_backends, get_lab, register_backend

__all__ = [
    "EndpointLayout",
    "Evidence",
    "EvidenceMark",
    "FunctionCode",
    "Invocation",
    "Lab",
    "LabDescription",
    "LabError",
    "Place",
    "Service",
    "available_backends",
    "get_lab",
    "register_backend",
]
