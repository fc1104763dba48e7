"""Scenario catalogues: YAML files describing runs of the probe (see docs/scenarios.md).

``load_catalog("seed")`` returns the packaged seed catalogue; ``scenario_env``
gives one scenario's resolved variables for `proxylab lab exec --scenario`.
"""

from proxylab.scenarios.loader import (
    load_catalog,
    packaged_catalogs,
    resolve_catalog_path,
    scenario_env,
    validate_catalog,
)
from proxylab.scenarios.model import (
    KNOWN_RESOURCES,
    Catalog,
    Expectation,
    Problem,
    Scenario,
    ScenarioError,
)

__all__ = [
    "KNOWN_RESOURCES",
    "Catalog",
    "Expectation",
    "Problem",
    "Scenario",
    "ScenarioError",
    "load_catalog",
    "packaged_catalogs",
    "resolve_catalog_path",
    "scenario_env",
    "validate_catalog",
]
