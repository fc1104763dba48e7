"""Scenario records: what one run of the probe is made of, once the YAML is checked.

A scenario is the seed's unit of experiment (one row of its table): which function
variant runs, which VPC endpoints exist, which environment variables the function
gets, and optionally what should happen. These dataclasses are what the runner,
the CLI and the analysis read; the YAML syntax lives in :mod:`.loader`.

Environment values may refer to the lab's resources as ``${name}`` (``$${`` is a
literal ``${``), because the proxy address, bucket and API ids differ between the
local lab and an AWS account; they are resolved against
``LabDescription.resources`` only when a lab is known.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from proxylab.errors import UserError, did_you_mean
from proxylab.labs.base import EndpointLayout, FunctionCode
from proxylab.vocab import Runtime

FUNCTIONS = ("regional", "private")
STEPS = ("s3_get", "s3_put", "web", "api", "web_https", "api_https")  # the last two: Node probe
OUTCOMES = ("ok", "http_error", "tunnel_error", "timeout", "dns_error", "tls_error", "other")
RUN_STATUSES = ("ok", "function-error", "failed")
VIAS = ("internet", "gateway-endpoint", "interface-endpoint")
PRIVATE_API_PUBLIC_DNS = ("nxdomain", "front")

# The keys every lab backend puts in LabDescription.resources (TEAM.md shared
# facts). Validation, which runs before any lab exists, checks references
# against this list; resolution checks them against the lab's real resources.
KNOWN_RESOURCES = (
    "region",
    "account_id",
    "bucket",
    "source_key",
    "regional_api_id",
    "private_api_id",
    "execute_api_vpce_id",
    "s3_gateway_vpce_id",
    "proxy_url",
    "web_url",
    "regional_api_url",
    "private_api_url",
    # Also provided by the local lab: addresses and endpoint URLs worth naming.
    "function_ip",
    "proxy_ip",
    "execute_api_vpce_host",
    "s3_endpoint_url",
    "execute_api_endpoint_url",
    # Issue 10: the lab's other endpoints and what its moto holds.
    "dynamodb_gateway_vpce_id",
    "s3_vpce_id",
    "s3_vpce_host",
    "private_api_alias_host",
    "secret_id",
    "table_name",
)

# The invocation event's key for a declarative probe's steps (scenarios.steps).
EVENT_KEY = "proxylab_steps"

# Lambda's limit on the total size of a function's environment variables.
ENV_SIZE_LIMIT = 4096

_REF_RE = re.compile(r"\$\$|\$\{([^}]*)\}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalogue, located as precisely as the YAML allows."""

    file: str
    message: str
    line: int | None = None
    scenario: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        parts = [where]
        if self.scenario is not None:
            parts.append(f"scenario {self.scenario!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        parts.append(self.message)
        return ": ".join(parts)


class ScenarioError(UserError):
    """A catalogue (or a scenario reference) is wrong; every problem is listed."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="", message=problems)]
        self.problems = list(problems)
        lines = [str(p) if p.file else p.message for p in self.problems]
        if len(lines) == 1:
            text = lines[0]
        else:
            text = f"{len(lines)} problems:\n" + "\n".join("  " + line for line in lines)
        super().__init__(text)


def references(text: str) -> list[str]:
    """The ``${name}`` references in a value, in order (``$$`` is an escape)."""
    return [m.group(1) for m in _REF_RE.finditer(text) if m.group(0) != "$$"]


def resolve_text(text: str, resources: dict[str, str]) -> str:
    """Replace ``${name}`` by ``resources[name]`` and ``$$`` by ``$``.

    Raises KeyError(name) for a reference the lab does not provide."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        if name not in resources:
            raise KeyError(name)
        return str(resources[name])

    return _REF_RE.sub(sub, text)


@dataclass(frozen=True)
class Expectation:
    """What should happen, as the scenario's author predicts it.

    ``crosses_proxy``: exactly the hosts the proxy log shows (None: not checked);
    ``bypasses_proxy``: hosts that must not appear there; ``steps``: probe step ->
    outcome; ``services``: service front -> the path requests arrived by;
    ``status``: the run's status. Host names may contain ``${...}`` references.
    """

    status: str | None = None
    crosses_proxy: tuple[str, ...] | None = None
    bypasses_proxy: tuple[str, ...] = ()
    steps: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["crosses_proxy"] = None if self.crosses_proxy is None else list(self.crosses_proxy)
        d["bypasses_proxy"] = list(self.bypasses_proxy)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Expectation:
        """The ``expect`` block as a capture's run.json holds it (see :meth:`to_dict`)."""
        cross = data.get("crosses_proxy")
        return cls(status=data.get("status"),
                   crosses_proxy=None if cross is None else tuple(str(h) for h in cross),
                   bypasses_proxy=tuple(str(h) for h in data.get("bypasses_proxy") or ()),
                   steps={str(k): str(v) for k, v in (data.get("steps") or {}).items()},
                   services={str(k): str(v) for k, v in (data.get("services") or {}).items()})

    def resolved(self, resources: dict[str, str]) -> Expectation:
        """The same expectation with host references replaced by the lab's values."""
        cross = self.crosses_proxy
        return Expectation(
            status=self.status,
            crosses_proxy=None
            if cross is None
            else tuple(resolve_text(h, resources) for h in cross),
            bypasses_proxy=tuple(resolve_text(h, resources) for h in self.bypasses_proxy),
            steps=dict(self.steps),
            services=dict(self.services),
        )


@dataclass
class Scenario:
    """One experiment: a function variant, an endpoint layout, variables, an event.

    ``env`` holds the values as written (with ``${...}`` references); use
    :meth:`resolve_env` to get what the function will see. ``code`` is an absolute
    path (resolved against the catalogue file) when the scenario brings its own
    handler.
    """

    id: str
    title: str
    function: str
    description: str = ""
    endpoints: EndpointLayout = field(default_factory=EndpointLayout)
    env: dict[str, str] = field(default_factory=dict)
    event: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 30.0
    code: str | None = None
    handler: str | None = None
    expect: Expectation | None = None
    source: str = ""
    line: int | None = None
    runtime: Runtime = Runtime.PYTHON3
    # The AWS region the scenario runs in (catalogue or scenario ``region:``); None: the
    # lab's. The runner builds the lab for it or refuses the run, never ignores it.
    region: str | None = None
    steps: tuple[Any, ...] = ()  # scenarios.steps.ProbeStep: a declarative probe

    def invocation_event(self, resources: dict[str, str]) -> dict[str, Any]:
        """The event the function gets: the scenario's, plus its declared steps
        (resolved against the lab's resources) for the probe to run."""
        if not self.steps:
            return dict(self.event)
        try:
            steps = [s.resolved(resources).to_dict() for s in self.steps]
        except KeyError as exc:
            raise ScenarioError([Problem(file=self.source, line=self.line, scenario=self.id,
                                         field="steps",
                                         message=f"the lab has no resource {exc.args[0]!r}")]
                                ) from None
        return {**self.event, EVENT_KEY: steps}

    def function_code(self) -> FunctionCode | None:
        """None for the Python probe; otherwise the code (None: the runtime's probe)."""
        if self.code is None or self.handler is None:
            if self.runtime is Runtime.PYTHON3:
                return None
            return FunctionCode(path=None, handler=None, runtime=self.runtime)
        return FunctionCode(path=self.code, handler=self.handler, runtime=self.runtime)

    def resolve_env(self, resources: dict[str, str]) -> dict[str, str]:
        """The variables the function gets, references replaced by the lab's values.

        Raises :class:`ScenarioError` naming the variable and the missing resource."""
        out: dict[str, str] = {}
        problems: list[Problem] = []
        for key, value in self.env.items():
            try:
                out[key] = resolve_text(value, resources)
            except KeyError as exc:
                name = exc.args[0]
                problems.append(
                    Problem(
                        file=self.source,
                        line=self.line,
                        scenario=self.id,
                        field=f"env.{key}",
                        message=f"the lab has no resource {name!r}"
                        + did_you_mean(name, sorted(resources))
                        + f" (it has: {', '.join(sorted(resources))})",
                    )
                )
        size = sum(len(k) + len(v) for k, v in out.items())
        if not problems and size > ENV_SIZE_LIMIT:
            problems.append(
                Problem(
                    file=self.source,
                    line=self.line,
                    scenario=self.id,
                    field="env",
                    message=f"{size} bytes of variables; Lambda allows {ENV_SIZE_LIMIT}",
                )
            )
        if problems:
            raise ScenarioError(problems)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "function": self.function,
            "endpoints": self.endpoints.to_dict(),
            "env": dict(self.env),
            "event": self.event,
            "timeout_s": self.timeout_s,
            "code": self.code,
            "handler": self.handler,
            "runtime": str(self.runtime),
            "region": self.region,
            "expect": None if self.expect is None else self.expect.to_dict(),
            "source": self.source,
            "steps": [s.to_dict() for s in self.steps],
        }


@dataclass
class Catalog:
    """A catalogue file: an id, a title, and its scenarios in file order."""

    id: str
    title: str
    path: Path
    description: str = ""
    scenarios: list[Scenario] = field(default_factory=list)
    region: str | None = None  # the catalogue's ``region:`` (each scenario may override)

    @property
    def regions(self) -> list[str | None]:
        """The distinct regions its scenarios ask for, in file order (None: the lab's)."""
        return list(dict.fromkeys(s.region for s in self.scenarios))

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.scenarios]

    def get(self, scenario_id: str) -> Scenario:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        raise ScenarioError(
            f"catalogue {self.id!r} ({self.path}) has no scenario {scenario_id!r}"
            + did_you_mean(scenario_id, self.ids)
            + f" (it has: {', '.join(self.ids)})"
        )

    def select(self, scenario_ids: list[str] | tuple[str, ...] | None = None) -> list[Scenario]:
        """The named scenarios in the order given (all, in file order, for None).

        Every unknown id is reported at once, before anything runs."""
        if not scenario_ids:
            return list(self.scenarios)
        chosen: list[Scenario] = []
        problems: list[Problem] = []
        for sid in scenario_ids:
            try:
                chosen.append(self.get(sid))
            except ScenarioError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ScenarioError(problems)
        return chosen
