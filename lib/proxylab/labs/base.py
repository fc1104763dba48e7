"""The Lab protocol and the records that cross module lines.

A lab is a place where the seed topology exists (two VPCs, a proxy, DNS, S3 and
API Gateway with their VPC endpoints) and where the probe function can be run.
Everything above this module (runner, notebooks, CLI) talks to a lab only through
:class:`Lab`, so the local network-namespace lab and the real-AWS lab are
interchangeable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from proxylab.errors import UserError
from proxylab.labs.proxy_policy import ProxyPolicy


class LabError(UserError):
    """A lab operation failed; the message says what to do next."""

    exit_code = 1


@dataclass(frozen=True)
class InterfaceEndpoint:
    """An interface VPC endpoint (PrivateLink) for one service, beyond the seed's
    execute-api one: an ENI address in the Lambda VPC, endpoint-specific DNS names
    (``<vpce-id>.<service>.<region>.vpce.<suffix>``, ``*.`` in front for S3), and with
    ``private_dns`` the service's regional name resolving to the ENI inside the VPC.

    ``private_dns_only_for_inbound_resolver_endpoint`` is S3's
    ``PrivateDnsOnlyForInboundResolverEndpoint``: with an S3 gateway endpoint in the VPC
    as well, AWS keeps the VPC's own lookups of S3's names on the gateway endpoint and
    gives the interface endpoint's addresses only to an inbound Resolver endpoint (the
    lab has none); AWS refuses the setting without a gateway endpoint."""

    service: str  # the endpoint prefix, as botocore names it: "secretsmanager", "sts", "s3"
    private_dns: bool = True
    private_dns_only_for_inbound_resolver_endpoint: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InterfaceEndpoint:
        return cls(**data)


@dataclass(frozen=True)
class EndpointLayout:
    """Which VPC endpoints exist in the Lambda VPC: what scenarios switch.

    ``private_api_public_dns`` chooses what the *public* DNS says about a private
    API's name: ``"nxdomain"`` (what the seed observed: Squid answers 503) or
    ``"front"`` (the name resolves to the public execute-api front, which answers
    403, as AWS documents).
    """

    s3_gateway: bool = True
    execute_api_interface: bool = True
    execute_api_private_dns: bool = True
    private_api_public_dns: str = "nxdomain"
    # What the egress proxy allows and which Squid runs (labs/proxy_policy.py).
    proxy: ProxyPolicy = field(default_factory=ProxyPolicy)
    # Beyond the seed (issue 10): DynamoDB's gateway endpoint (a route for its prefix
    # list, like S3's), interface endpoints for any service, and the third-party hosts
    # the internet stand-in answers for besides the web site (80 and 443).
    dynamodb_gateway: bool = False
    interfaces: tuple[InterfaceEndpoint, ...] = ()
    internet_hosts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "proxy": self.proxy.to_dict(),
                "interfaces": [asdict(i) for i in self.interfaces],
                "internet_hosts": list(self.internet_hosts)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EndpointLayout:
        d = dict(data or {})
        d["proxy"] = ProxyPolicy.from_dict(d.get("proxy"))
        d["interfaces"] = tuple(InterfaceEndpoint.from_dict(i) for i in d.get("interfaces") or ())
        d["internet_hosts"] = tuple(d.get("internet_hosts") or ())
        return cls(**d)

    def interface(self, service: str) -> InterfaceEndpoint | None:
        """The interface endpoint for ``service`` (not the seed's execute-api one)."""
        return next((i for i in self.interfaces if i.service == service), None)

    @property
    def beyond_seed(self) -> list[str]:
        """The fields set beyond the seed's layout: what a backend that builds only the
        seed's endpoints (the AWS one) must refuse rather than ignore."""
        return [k for k, v in (("dynamodb_gateway", self.dynamodb_gateway),
                               ("interfaces", self.interfaces),
                               ("internet_hosts", self.internet_hosts)) if v]


@dataclass
class Place:
    """One network place of the topology (a namespace locally, a VPC/subnet on AWS)."""

    name: str
    stands_for: str
    addresses: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    namespace: str | None = None


@dataclass
class Service:
    """A process or managed service of the lab, with where it answers and its health."""

    name: str
    place: str
    address: str
    healthy: bool | None = None
    detail: str = ""


@dataclass
class LabDescription:
    """What a lab is, as recorded in every capture's run.json and shown by `status`."""

    backend: str
    name: str
    region: str
    up: bool
    places: list[Place] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    endpoints: EndpointLayout = field(default_factory=EndpointLayout)
    # Identifiers the scenarios refer to: bucket, source_key, regional_api_id,
    # private_api_id, vpce ids, proxy_url, web_url, function names, ...
    resources: dict[str, str] = field(default_factory=dict)
    # Environment the lab adds for its own plumbing (CA bundle paths, ...): shown
    # apart from the scenario's variables in every report.
    plumbing_env: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "endpoints": self.endpoints.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabDescription:
        data = dict(data)
        data["places"] = [Place(**p) for p in data.get("places", [])]
        data["services"] = [Service(**s) for s in data.get("services", [])]
        data["endpoints"] = EndpointLayout.from_dict(data.get("endpoints"))
        return cls(**data)


@dataclass(frozen=True)
class EvidenceMark:
    """Where the lab's evidence logs stood before a run (byte offsets locally,
    a timestamp on AWS), so :meth:`Lab.collect` returns only that run's lines."""

    taken_at: float
    positions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionCode:
    """The function's code and runtime when it is not the Python probe (scenario fields
    ``code``, ``handler``, ``runtime``): ``path`` is a directory or a single file
    (``.py``; ``.mjs``/``.js`` for Node) that becomes the function's task root;
    ``handler`` is Lambda's ``module.function`` string. ``path`` None: the lab's probe
    for ``runtime``. The function variant still decides the configuration variables."""

    path: str | None
    handler: str | None
    runtime: str = "python3.x"  # a vocab.Runtime value


@dataclass
class Invocation:
    """The outcome of invoking the function once.

    ``status`` is ``"ok"`` (handler returned), ``"error"`` (handler raised, timed
    out or failed to initialise: Lambda's own error shape is in ``error``), or
    ``"lab-error"`` (the lab could not run it at all).
    """

    status: str
    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    init_duration_ms: float | None = None
    duration_ms: float | None = None
    function_log: list[str] = field(default_factory=list)


@dataclass
class Evidence:
    """The raw evidence of one run, line by line, exactly as the sources wrote it.

    The keys of :attr:`files` are capture file names (``proxy_access.log``,
    ``dns.log``, ``services.log``); ``missing`` names evidence the lab expected
    but could not get (e.g. CloudWatch delivery still pending).
    """

    files: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


@runtime_checkable
class Lab(Protocol):
    """What every backend provides, all of it: a backend that cannot do something
    (the local lab attaching to a stack, the AWS lab running a shell in the Lambda
    subnet) still has the method and refuses with a :class:`LabError` that says why,
    so callers never probe with ``hasattr``. Methods raise :class:`LabError` on
    failure. Backends are built by :func:`~proxylab.labs.registry.get_lab`, which
    refuses options a backend does not take."""

    backend: str
    name: str

    def up(
        self, endpoints: EndpointLayout | None = None, progress: Callable[[str], None] | None = None
    ) -> LabDescription:
        """Bring the lab up (idempotent: an already-up lab is checked and kept).
        ``progress`` receives one short line per stage, for long bring-ups."""

    def down(self) -> list[str]:
        """Tear everything down; returns what was left behind (empty when clean)."""

    def describe(self) -> LabDescription:
        """The topology and each service's health, without changing anything."""

    def apply(self, endpoints: EndpointLayout) -> None:
        """Switch the endpoint layout (S3 gateway, execute-api interface, private DNS)."""

    def mark(self) -> EvidenceMark:
        """Note where the evidence logs stand, before a run."""

    def invoke(
        self,
        function: str,
        env: dict[str, str],
        event: dict[str, Any],
        timeout_s: float,
        code: FunctionCode | None = None,
    ) -> Invocation:
        """Run the function variant (``regional`` / ``private``) once, cold, with the
        scenario's variables ``env`` on top of what Lambda itself sets. ``code``
        replaces the probe with a user's handler (None: the probe)."""

    def collect(self, mark: EvidenceMark, invocation: Invocation) -> Evidence:
        """Return the evidence written since ``mark``."""

    def exec(
        self,
        place: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> int:
        """Run a command inside a place of the lab with a clean environment."""

    def attach(self, resources: str | None = None) -> LabDescription:
        """Adopt a lab that exists already (on AWS: a stack found by name or tag, or a
        JSON file of resource ids) and check its parts. A backend that only knows labs
        it built itself refuses with a LabError pointing at `up`."""

    def function_configuration(self, variant: str) -> dict[str, str]:
        """The function variant's own configuration variables (``BUCKET_NAME``,
        ``SOURCE_KEY``, ``API_GATEWAY_URL``, ``WEB_URL``): what the deployment sets
        under a scenario's variables, e.g. for `lab exec --scenario`."""


# The protocol's methods, read from the class itself (one list, not two): what a
# conformance check (tests, a registered backend) requires of every backend.
LAB_METHODS = tuple(n for n, v in vars(Lab).items() if callable(v) and not n.startswith("_"))


def state_root() -> Path:
    """Where backends keep per-lab runtime state (configs, live logs, pids)."""
    import os

    return Path(os.environ.get("PROXYLAB_STATE", "/run/proxylab"))
