"""The project's words for things, as types: the vocabulary that crosses module lines.

Every value here is a :class:`enum.StrEnum` whose value is the string captures,
tables and JSON outputs have always held, so a capture written before these types
existed reads back unchanged, and ``Route.PROXY == "proxy"`` holds for code that
still compares strings. What they buy: a typo is an ``AttributeError`` instead of a
silently unmatched branch, and ``grep Route.FAILED_AT_PROXY`` finds every place a
rule depends on that route. No English sentence is a key anywhere: prose lives
in :mod:`proxylab.report.words`, keyed by these members.

This module imports nothing of the project: it sits at the bottom of the flow
catalogue -> lab -> capture -> tables -> facts -> words, and everything may use it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


class Route(StrEnum):
    """Which way a request went, as the evidence shows it."""

    PROXY = "proxy"  # Squid tunnelled or forwarded it, the service saw it from the internet
    ENDPOINT = "endpoint"  # a VPC endpoint carried it (see EndpointKind)
    DIRECT = "direct"  # the service saw it from the internet with no Squid line (NAT)
    FAILED_AT_PROXY = "failed-at-proxy"  # Squid logged it but could not complete it
    FAILED_DIRECT = "failed-direct"  # no Squid line, no service saw it, the request failed
    INCONSISTENT = "inconsistent"  # the evidence contradicts itself (see the flag)

    @property
    def proxy_side(self) -> bool:
        """The request reached Squid (whether or not Squid completed it)."""
        return self in (Route.PROXY, Route.FAILED_AT_PROXY)

    @property
    def failed(self) -> bool:
        return self in (Route.FAILED_AT_PROXY, Route.FAILED_DIRECT)


class MeasuredRoute(StrEnum):
    """Which way one client's request went in the client matrix (``proxylab clients``).

    Coarser than :class:`Route` on purpose: the matrix asks only whether the client
    chose the proxy, so a request Squid forwarded but could not complete is still
    ``proxy``, and a request the VPC carried through an endpoint is ``direct``."""

    PROXY = "proxy"  # Squid logged it (the client used the proxy)
    DIRECT = "direct"  # an endpoint served it, or it timed out with no proxy evidence (no NAT)
    FAILED = "failed"  # the client failed before either (refused, bad proxy URL, TLS, ...)


class EndpointKind(StrEnum):
    GATEWAY = "gateway"
    INTERFACE = "interface"


class Via(StrEnum):
    """How a request arrived at a service, as the service side logged it."""

    INTERNET = "internet"
    GATEWAY_ENDPOINT = "gateway-endpoint"
    INTERFACE_ENDPOINT = "interface-endpoint"

    @property
    def endpoint_kind(self) -> EndpointKind | None:
        return {Via.GATEWAY_ENDPOINT: EndpointKind.GATEWAY,
                Via.INTERFACE_ENDPOINT: EndpointKind.INTERFACE}.get(self)


class Outcome(StrEnum):
    """How one request of the function ended, as the function itself saw it."""

    OK = "ok"
    HTTP_ERROR = "http_error"
    TUNNEL_ERROR = "tunnel_error"
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    TLS_ERROR = "tls_error"
    OTHER = "other"


class RunStatus(StrEnum):
    """run.json ``status``."""

    OK = "ok"  # the function ran and returned
    FUNCTION_ERROR = "function-error"  # it ran and Lambda reported an error
    FAILED = "failed"  # the lab could not complete the run (``error`` says why)


class InvocationStatus(StrEnum):
    """What a lab's ``invoke`` reports."""

    OK = "ok"
    ERROR = "error"  # handler raised, timed out or failed to initialise
    LAB_ERROR = "lab-error"  # the lab could not run it at all

    @property
    def run_status(self) -> RunStatus:
        return {InvocationStatus.OK: RunStatus.OK,
                InvocationStatus.ERROR: RunStatus.FUNCTION_ERROR,
                InvocationStatus.LAB_ERROR: RunStatus.FAILED}[self]


class Flavour(StrEnum):
    """The primary shape of a hostname (FIPS and dual-stack are flags beside it)."""

    REGIONAL = "regional"
    GLOBAL = "global"
    S3_BUCKET = "s3-virtual-hosted"
    EXECUTE_API = "execute-api"
    LAMBDA_URL = "lambda-url"
    VPCE = "vpce"
    AWS_OTHER = "aws-other"  # an AWS domain whose shape is not recognised
    NON_AWS = "non-aws"


class Client(StrEnum):
    """An HTTP client whose proxy decision the analysis models."""

    BOTOCORE = "botocore"
    URLLIB = "urllib"
    AWS_SDK_JS_V3 = "aws-sdk-js-v3"  # @aws-sdk/client-s3's NodeHttpHandler
    NODE_FETCH = "node-fetch"  # Node's global fetch (undici)
    NODE_HTTP = "node-http"  # node:http / node:https request on the global agent

    @property
    def node(self) -> bool:
        return self in (Client.AWS_SDK_JS_V3, Client.NODE_FETCH, Client.NODE_HTTP)


class NoProxyRule(StrEnum):
    """Which NO_PROXY matching rule a Node client applies (see analysis.node_clients)."""

    UNDICI_6 = "undici-6"  # bare entry: the host only; '.x' / '*.x': any string suffix
    UNDICI_7 = "undici-7"  # every entry: the host and its subdomains ('*.' / '.' stripped)
    NODE_HTTP = "node-http"  # bare: host only; '.x': x and subdomains; '*.x': subdomains
    NODE_HTTP_NO_BOUNDARY = "node-http-no-boundary"  # as node-http, '.x' any string suffix


class Runtime(StrEnum):
    """A scenario's Lambda runtime (Lambda's identifier; ``python3.x`` is the probe's
    Python, whichever 3.x the lab runs, as before runtimes could be chosen)."""

    PYTHON3 = "python3.x"
    NODEJS20 = "nodejs20.x"
    NODEJS22 = "nodejs22.x"
    NODEJS24 = "nodejs24.x"

    @property
    def node_major(self) -> int | None:
        """20, 22, 24 for a Node.js runtime; None for Python."""
        if not self.value.startswith("nodejs"):
            return None
        return int(self.value.removeprefix("nodejs").removesuffix(".x"))


class Basis(StrEnum):
    """Whether a route was seen in the evidence or inferred where a source is absent."""

    OBSERVED = "observed"
    INFERRED = "inferred"


class EvidenceSource(StrEnum):
    """Which capture file an evidence row quotes."""

    FUNCTION = "function"
    SQUID = "squid"
    SERVICE = "service"
    DNS = "dns"

    @property
    def file(self) -> str:
        return {EvidenceSource.FUNCTION: "function.log",
                EvidenceSource.SQUID: "proxy_access.log",
                EvidenceSource.SERVICE: "services.log",
                EvidenceSource.DNS: "dns.log"}[self]


class SquidFormat(StrEnum):
    """Squid ``logformat`` names (``squid`` is Squid's name for its native format)."""

    NATIVE = "squid"
    COMMON = "common"
    COMBINED = "combined"


class Resolver(StrEnum):
    """The resolvers whose query logs a capture's dns.log interleaves."""

    LAMBDA_VPC = "lambda-vpc"
    PROXY_VPC = "proxy-vpc"
    PUBLIC = "public"


class MatchKind(StrEnum):
    """How a NO_PROXY entry matched the host:port a client compared."""

    EXACT = "exact"  # the entry names the host (or host:port) itself
    SUFFIX = "suffix"  # the entry matches as a domain suffix
    STAR = "star"  # NO_PROXY is ``*``: every host bypasses


class ReasonKind(StrEnum):
    """Why a client's own proxy logic chose the proxy or a direct connection."""

    NO_PROXY_MATCHED = "no-proxy-matched"  # direct: a NO_PROXY entry matched (see MatchKind)
    NO_PROXY_VARIABLE = "no-proxy-variable"  # direct: no proxy variable for the URL's scheme
    PROXY_CANCELLED = "proxy-cancelled"  # direct: an empty lowercase variable cancels the upper
    NO_ENTRY_MATCHED = "no-entry-matched"  # proxy: NO_PROXY is set but no entry matched
    NO_PROXY_UNSET = "no-proxy-unset"  # proxy: no NO_PROXY variable at all
    CLIENT_IGNORES_ENV = "client-ignores-env"  # direct: the client never reads the variables
    ENV_PROXY_OFF = "env-proxy-off"  # direct: Node's switch NODE_USE_ENV_PROXY is not 1
    ENV_PROXY_UNSUPPORTED = "env-proxy-unsupported"  # direct: this Node has no such switch at all
    CONFIG_PROXIES = "config-proxies"  # botocore Config(proxies=...): the variables unread

    @property
    def direct(self) -> bool:
        return self in (ReasonKind.NO_PROXY_MATCHED, ReasonKind.NO_PROXY_VARIABLE,
                        ReasonKind.PROXY_CANCELLED, ReasonKind.CLIENT_IGNORES_ENV,
                        ReasonKind.ENV_PROXY_OFF, ReasonKind.ENV_PROXY_UNSUPPORTED)


class EndpointSource(StrEnum):
    """Where botocore's endpoint URL for a client came from."""

    AWS_ENDPOINT_URL_S3 = "AWS_ENDPOINT_URL_S3"
    AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
    DEFAULT = "default"  # the regional endpoint from botocore's data
    LEGACY_GLOBAL = "legacy-global"  # global host a regional switch moves (S3 us-east-1, STS)
    GLOBAL = "global"  # the service's one partition-global endpoint (IAM, Route 53, ...)
    SERVICE_VARIABLE = "service-variable"  # AWS_ENDPOINT_URL_<SERVICE> of another service
    CLIENT_ARGUMENT = "client-argument"  # boto3.client(endpoint_url=...)


class ConditionKind(StrEnum):
    """A condition the conclusion tests against the scenarios that bypassed the proxy."""

    NO_PROXY_MATCHED = "no-proxy-matched"  # NO_PROXY matched the host the client decides on
    CLIENT_DIRECT = "client-direct"  # the client's own proxy logic chose a direct connection
    VAR_SET = "var-set"  # a scenario variable was set (non-empty)
    LAYOUT = "layout"  # the endpoint layout had a feature (``key``)


class FlagKind(StrEnum):
    """How a step's evidence contradicts itself (route ``inconsistent``)."""

    SQUID_FAILED_FRONT_SAW = "squid-failed-front-saw"  # Squid failed, front saw it from internet
    TUNNEL_BUT_ENDPOINT = "tunnel-but-endpoint"  # Squid tunnelled it, front saw an endpoint
    OK_BUT_FRONT_ERROR = "ok-but-front-error"  # step ok, the front answered >= 400
    OK_BUT_SQUID_FAILED = "ok-but-squid-failed"  # step ok, Squid logged only failures
    TUNNEL_WITHOUT_FRONT = "tunnel-without-front"  # Squid tunnelled, step ok, no front line
    PROXY_PREDICTED_SQUID_SILENT = "proxy-predicted-squid-silent"  # no front log to tell
    OK_WITHOUT_EVIDENCE = "ok-without-evidence"  # step ok, nothing saw the request
    TUNNEL_ERROR_WITHOUT_SQUID = "tunnel-error-without-squid"  # tunnel error, no Squid line


class PathReason(StrEnum):
    """Why the lab's layout sends a decided request the way the prediction says."""

    PROXY_INTERNET = "proxy-internet"  # the proxy reaches it over the internet
    PRIVATE_NAME_UNRESOLVED = "private-name-unresolved"  # the proxy cannot resolve the name
    S3_GATEWAY = "s3-gateway"  # S3's addresses are routed through the gateway endpoint
    NO_S3_ROUTE = "no-s3-route"  # no gateway endpoint and no NAT
    INTERFACE_PRIVATE_DNS = "interface-private-dns"  # private DNS points at the interface
    NO_EXECUTE_API_ROUTE = "no-execute-api-route"  # no interface endpoint with private DNS
    NO_NAT = "no-nat"  # the Lambda VPC has no NAT
    PROXY_TLS_PLAIN_PORT = "proxy-tls-plain-port"  # TLS sent to Squid's plain-HTTP port
    PROXY_SELF_CONNECT = "proxy-self-connect"  # urllib CONNECTs to the proxy's own address
    DYNAMODB_GATEWAY = "dynamodb-gateway"  # DynamoDB's addresses routed to its gateway endpoint
    INTERFACE_NAME = "interface-name"  # an endpoint-specific (vpce) name: the interface's ENI
    SERVICE_PRIVATE_DNS = "service-private-dns"  # private DNS points the service at its ENI


class BypassBasis(StrEnum):
    """What the headline can say the bypasses depended on."""

    ACTING = "acting"  # named variables the clients act on
    CLIENT_DIRECT = "client-direct"  # the clients' own logic chose a direct connection
    SOME = "some"  # only that some scenarios bypassed


def parse_enum(kind: type[E], value: object) -> E | None:
    """``kind(value)``, or None for a value outside the vocabulary (a newer capture,
    a hand-edited one): readers count such values instead of crashing on them."""
    try:
        return kind(str(value))
    except ValueError:
        return None


class CheckKind(StrEnum):
    """Which part of a scenario's ``expect`` block one checked item is."""

    STATUS = "status"  # the run's status
    CROSSES_PROXY = "crosses_proxy"  # exactly these hosts in Squid's log
    BYPASSES_PROXY = "bypasses_proxy"  # this host not in Squid's log
    STEP = "step"  # this probe step ended with this outcome
    SERVICE_VIA = "service_via"  # this service front saw requests arrive only this way


class Verdict(StrEnum):
    """Whether an expectation held, as far as the capture can tell."""

    HELD = "held"
    FAILED = "failed"
    UNCHECKED = "unchecked"  # the capture cannot tell (see UncheckedReason)


class UncheckedReason(StrEnum):
    """Why an expectation could not be checked against a capture."""

    SERVICE_NOT_LOGGED = "service-not-logged"  # the lab keeps no log of that service front
    EVIDENCE_INCOMPLETE = "evidence-incomplete"  # the capture notes the file is missing/partial
    UNKNOWN_RESOURCE = "unknown-resource"  # the expectation names a resource the lab lacks


class Denial(StrEnum):
    """Why the proxy refused a request (``TCP_DENIED``)."""

    AUTH_REQUIRED = "auth-required"  # 407: no or wrong credentials
    NOT_ALLOWED = "not-on-allowlist"  # 403 from a proxy with an allowlist
    REFUSED = "refused-by-rules"  # 403 from the proxy's other rules (its hardening)


class MatrixClient(StrEnum):
    """A client of the client matrix (``proxylab clients``): its registry name, and the
    key of its proxy rule in :mod:`proxylab.analysis.clients`. The values are what
    ``matrix.json`` holds."""

    URLLIB = "urllib"
    BOTOCORE = "botocore"
    REQUESTS = "requests"
    HTTPX = "httpx"
    BOTOCORE_CRT = "botocore-crt"
    AIOHTTP = "aiohttp"
    AIOHTTP_ENV = "aiohttp-env"
    CURL = "curl"
    WGET = "wget"
    NODE_FETCH = "node-fetch"
    NODE_FETCH_ENV = "node-fetch-env"
    NODE_HTTP = "node-http"
    NODE_HTTP_ENV = "node-http-env"
    NODE_SDK_V3 = "node-sdk-v3"
    GO = "go"
    JAVA_HTTPCLIENT = "java-httpclient"
    JAVA_URLCONNECTION = "java-urlconnection"


class Agreement(StrEnum):
    """Whether a matrix cell's measured route is the one its client's rule predicts."""

    AGREES = "agrees"
    DIFFERS = "differs"
    NO_RULE = "no-rule"  # no rule is modelled for this client / version
    NOT_RUN = "not-run"  # the cell did not run (not installed, n/a)


class Behaviour(StrEnum):
    """One question the client matrix answers about a client, each by one case (see
    ``proxylab.clients.facts.BEHAVIOUR_CASES``); the answer is the route that case took."""

    UPPER_HTTP_PROXY = "upper-http-proxy"  # is uppercase HTTP_PROXY read (http:// URL)?
    LOWER_WINS = "lower-wins"  # https_proxy vs HTTPS_PROXY: which is read first?
    EMPTY_LOWER_CANCELS = "empty-lower-cancels"  # does an empty https_proxy cancel?
    NO_PROXY_LOWER_WINS = "no-proxy-lower-wins"  # no_proxy vs NO_PROXY: which first?
    DOT_MATCHES_APEX = "dot-matches-apex"  # does .x match x itself?
    STAR_IN_LIST = "star-in-list"  # does * inside a list bypass everything?
    GLOB = "glob"  # does *.x match?
    CIDR_IP = "cidr-ip"  # does a CIDR match an IP-literal host?
    CIDR_NAME = "cidr-name"  # does a CIDR match a host named by DNS?
    HOST_PORT = "host-port"  # does host:port match?
    BUCKET_HOST = "bucket-host"  # does NO_PROXY=<bucket host> bypass an S3 request?
    HTTPS_PROXY_URL = "https-proxy-url"  # what an https:// proxy URL does
    NO_SCHEME = "no-scheme"  # what a proxy URL without scheme does
    READS_ENV = "reads-env"  # is the proxy variable read at all (https_proxy)?


class SkipKind(StrEnum):
    """Why a capture directory could not be read (``capture.Skipped.kind``): what a
    report says in its own language about a capture it set aside."""

    NO_RUN_JSON = "no-run-json"  # a directory named like a run, without run.json
    INCOMPLETE = "incomplete"  # the writing failed (its INCOMPLETE marker says why)
    INTERRUPTED = "interrupted"  # no run.json, no marker: interrupted or still running
    UNREADABLE_JSON = "unreadable-json"
    NEWER_FORMAT = "newer-format"  # written by a newer proxylab
    INVALID = "invalid"  # JSON that is not a run record (the detail says what is wrong)
