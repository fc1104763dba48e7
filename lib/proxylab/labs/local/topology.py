"""The local lab's address plan and wiring, as data.

Four namespaces stand for the seed's places. Addresses follow the seed (function
at 10.1.143.211, Squid at 10.0.0.72:3128, resolvers at VPC base + 2); emulated
public addresses come from 198.18.0.0/15, the benchmarking range, so nothing can be
mistaken for a real internet host.

Why the Lambda VPC's resolver lives in the ``aws`` namespace: on AWS the VPC
resolver (Route 53 Resolver) is AWS's, reachable at VPC+2 even from a subnet that
has no route to the internet. Putting it on the AWS side of the VPC link lets it
forward public names without giving the function any way out.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field

from proxylab.labs.base import EndpointLayout

# The region a lab models unless told otherwise (the seed's); any commercial region can
# be chosen (`lab up --region`), its names come from :mod:`.regions`.
REGION = "ap-northeast-1"
ACCOUNT_ID = "123456789012"

LAMBDA_VPC = "10.1.0.0/16"
PROXY_VPC = "10.0.0.0/16"
FUNCTION_IP = "10.1.143.211"
LAMBDA_RESOLVER = "10.1.0.2"
EXECUTE_API_ENI = "10.1.128.10"
SQUID_IP = "10.0.0.72"
SQUID_PORT = 3128
PROXY_RESOLVER = "10.0.0.2"
PROXY_PUBLIC_IP = "198.18.2.72"
PUBLIC_DNS_IP = "198.18.0.53"
INTERNET_ROUTER_IP = "198.18.0.1"
WEB_IP = "198.18.1.10"
S3_PREFIX = "198.18.16.0/24"  # the S3 "prefix list" the gateway endpoint routes
S3_IP = "198.18.16.10"
APIGW_PREFIX = "198.18.32.0/24"
APIGW_IP = "198.18.32.10"
DYNAMODB_PREFIX = "198.18.17.0/24"  # DynamoDB's "prefix list", routed by its gateway endpoint
DYNAMODB_IP = "198.18.17.10"
AWS_API_PREFIX = "198.18.48.0/24"  # every other AWS service's public front (moto)
AWS_API_IP = "198.18.48.10"
# Interface endpoints' ENIs beyond the seed's execute-api one: one address per service,
# derived from its name so every process computes the same table without being told.
ENI_NET = "10.1.160.0/19"
AWS_PUBLIC_IP = "198.18.3.2"
VOID_NEXT_HOP = "169.254.0.1"  # the no-NAT "next hop": its MAC belongs to no device
VOID_MAC = "02:00:00:00:de:ad"  # the AWS side's own address for its resolver's queries

BUCKET = "proxylab-demo-bucket"
SOURCE_KEY = "input/data.csv"
REGIONAL_API_ID = "q8rw2x7k1m"
PRIVATE_API_ID = "p4v9t3n6zd"
EXECUTE_API_VPCE_ID = "vpce-0a1b2c3d4e5f67890"
S3_GATEWAY_VPCE_ID = "vpce-0f9e8d7c6b5a43210"
DYNAMODB_GATEWAY_VPCE_ID = "vpce-0d1d2d3d4d5d6d7d8"
# What the lab's moto holds besides the bucket (created on the service's first request).
SECRET_ID = "proxylab/demo"
SECRET_VALUE = '{"api_key": "lab-secret"}'
TABLE_NAME = "proxylab-demo-table"
WEB_HOST = "www.google.com"

PLACES = ("lambda", "proxy", "internet", "aws")
STANDS_FOR = {
    "lambda": "Lambda VPC private subnet (10.1.0.0/16), no NAT",
    "proxy": "proxy VPC (10.0.0.0/16) with Squid and an internet gateway",
    "internet": "the public internet: public DNS and the web site",
    "aws": "AWS: VPC resolver, VPC endpoints, public S3 and API Gateway fronts",
}


@dataclass(frozen=True)
class Link:
    """A veth pair: (namespace place, device, addresses on it) at each end."""

    a: str
    dev_a: str
    b: str
    dev_b: str
    addrs_a: tuple[str, ...] = ()
    addrs_b: tuple[str, ...] = ()


@dataclass
class Wiring:
    links: list[Link] = field(default_factory=list)
    loopback: dict[str, tuple[str, ...]] = field(default_factory=dict)
    voids: dict[str, tuple[str, str]] = field(default_factory=dict)
    routes: dict[str, list[list[str]]] = field(default_factory=dict)
    forwarding: tuple[str, ...] = ()


def wiring(layout: EndpointLayout) -> Wiring:
    """Links and routes for an endpoint layout. Only the routes and addresses that
    depend on the layout change between scenarios (see :func:`layout_routes`)."""
    w = Wiring()
    w.links = [
        # VPC peering: each side routes only the other VPC's CIDR over it.
        Link("lambda", "pcx", "proxy", "pcx"),
        # The Lambda VPC's fabric: VPC resolver and endpoint ENIs live on the AWS side.
        Link("lambda", "vpc", "aws", "vpc-lambda", (), (f"{LAMBDA_RESOLVER}/32",)),
        # The proxy VPC's internet gateway.
        Link(
            "proxy",
            "igw",
            "internet",
            "to-proxy",
            (f"{PROXY_PUBLIC_IP}/32",),
            (f"{INTERNET_ROUTER_IP}/32",),
        ),
        # AWS's public fronts, reached from the internet.
        Link(
            "aws",
            "public",
            "internet",
            "to-aws",
            (f"{S3_IP}/32", f"{APIGW_IP}/32", f"{AWS_PUBLIC_IP}/32", f"{DYNAMODB_IP}/32",
             f"{AWS_API_IP}/32"),
            (f"{INTERNET_ROUTER_IP}/32",),
        ),
    ]
    w.loopback = {
        # Host addresses live on each namespace's loopback: reachable over any link
        # (Linux answers ARP for every local address), whichever way a packet comes.
        "lambda": (f"{FUNCTION_IP}/32",),
        "proxy": (f"{SQUID_IP}/32", f"{PROXY_RESOLVER}/32"),
        "internet": (f"{PUBLIC_DNS_IP}/32", f"{WEB_IP}/32"),
    }
    # A VPC without NAT drops internet-bound packets silently, so connections time
    # out instead of failing at once. The lab's equivalent: the default route leads
    # into a veth whose far end (also in the Lambda namespace) discards every frame,
    # because the next hop's MAC address belongs to nobody.
    w.voids = {"lambda": ("no-nat", "no-nat-void")}
    w.routes = {
        "lambda": [
            ["10.1.0.0/16", "dev", "vpc", "src", FUNCTION_IP],
            [PROXY_VPC, "dev", "pcx", "src", FUNCTION_IP],
            ["default", "via", VOID_NEXT_HOP, "dev", "no-nat", "onlink", "src", FUNCTION_IP],
        ],
        "proxy": [
            [LAMBDA_VPC, "dev", "pcx", "src", SQUID_IP],
            ["default", "via", INTERNET_ROUTER_IP, "dev", "igw", "onlink", "src", PROXY_PUBLIC_IP],
        ],
        "internet": [
            [f"{PROXY_PUBLIC_IP}/32", "dev", "to-proxy"],
            [S3_PREFIX, "dev", "to-aws"],
            [APIGW_PREFIX, "dev", "to-aws"],
            [DYNAMODB_PREFIX, "dev", "to-aws"],
            [AWS_API_PREFIX, "dev", "to-aws"],
            [f"{AWS_PUBLIC_IP}/32", "dev", "to-aws"],
        ],
        "aws": [
            [LAMBDA_VPC, "dev", "vpc-lambda", "src", LAMBDA_RESOLVER],
            ["default", "via", INTERNET_ROUTER_IP, "dev", "public", "onlink", "src", AWS_PUBLIC_IP],
        ],
    }
    w.forwarding = ("internet",)
    for place, route in layout_routes(layout):
        w.routes.setdefault(place, []).append(route)
    return w


def layout_routes(layout: EndpointLayout) -> list[tuple[str, list[str]]]:
    """The routes an endpoint layout adds: a gateway endpoint (S3, DynamoDB) is a route
    for the service's prefix list in the Lambda VPC's route table, nothing more."""
    out: list[tuple[str, list[str]]] = []
    if layout.s3_gateway:
        out.append(("lambda", [S3_PREFIX, "dev", "vpc", "src", FUNCTION_IP]))
    if layout.dynamodb_gateway:
        out.append(("lambda", [DYNAMODB_PREFIX, "dev", "vpc", "src", FUNCTION_IP]))
    return out


def layout_addresses(layout: EndpointLayout) -> list[tuple[str, str, str]]:
    """(place, device, address) that exist only in some layouts: the interface
    endpoints' ENIs in the Lambda VPC."""
    out = []
    if layout.execute_api_interface:
        out.append(("aws", "vpc-lambda", f"{EXECUTE_API_ENI}/32"))
    for endpoint in layout.interfaces:
        out.append(("aws", "vpc-lambda", f"{eni_address(endpoint.service)}/32"))
    return out


def _digest(service: str) -> bytes:
    return hashlib.sha256(f"proxylab interface endpoint {service}".encode()).digest()


@functools.lru_cache(maxsize=1024)
def eni_address(service: str) -> str:
    """The ENI address of ``service``'s interface endpoint (the seed's for execute-api):
    the service's place among botocore's endpoint prefixes, so no two services share
    one and every process of the lab computes the same table."""
    if service == "execute-api":
        return EXECUTE_API_ENI
    from proxylab.awsdata.hostnames import service_index

    prefixes = sorted(service_index())
    if service not in prefixes:
        raise ValueError(f"{service!r} is not an endpoint prefix in botocore's data")
    return str(ipaddress.ip_network(ENI_NET)[16 + prefixes.index(service)])


def eni_services() -> dict[str, str]:
    """ENI address -> service, for every service an interface endpoint can exist for."""
    from proxylab.awsdata.hostnames import service_index

    return {eni_address(s): s for s in ["execute-api", *sorted(service_index())]}


@functools.lru_cache(maxsize=1024)
def vpce_id(service: str) -> str:
    """The interface endpoint's id (the seed's for execute-api), stable per service."""
    if service == "execute-api":
        return EXECUTE_API_VPCE_ID
    return "vpce-" + _digest(service).hex()[:17]
