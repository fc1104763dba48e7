"""Service fronts over TLS: the web site, S3 and the API Gateway data plane.

Run as ``python -m proxylab.labs.local.fronts SPEC.json`` inside a lab namespace.
Each listening address is its own server, labelled with the path a request must
have taken to reach it, so every front can log *how* a request arrived:

- a request to the execute-api interface endpoint's ENI arrived through the
  interface endpoint (vpce id known);
- a request from the Lambda VPC (10.1/16) to a public S3 address can only have been
  carried by the S3 gateway endpoint's route;
- anything else came from the internet (through the proxy's public address).

S3 is moto's S3 in server mode (real S3 wire protocol, both addressing styles).
API Gateway's data plane is ours, since moto cannot serve execute-api invocations.
"""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from proxylab.grammar.hostport import host_of
from proxylab.grammar.services import ServiceRecord
from proxylab.labs.local import topology as t
from proxylab.labs.local.wsgi_server import TLSWSGIServer
from proxylab.vocab import Via

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LAMBDA_VPC = ipaddress.ip_network(t.LAMBDA_VPC)
JSON = "application/json"


@dataclass(frozen=True)
class Arrival:
    via: str
    vpce_id: str | None


def arrival(service: str, local_ip: str, source_ip: str) -> Arrival:
    """How a request reached a front (see the module docstring)."""
    if local_ip == t.EXECUTE_API_ENI:
        return Arrival("interface-endpoint", t.EXECUTE_API_VPCE_ID)
    try:
        from_vpc = ipaddress.ip_address(source_ip) in LAMBDA_VPC
    except ValueError:
        from_vpc = False
    if from_vpc and service == "s3":
        return Arrival("gateway-endpoint", t.S3_GATEWAY_VPCE_ID)
    return Arrival("internet", None)


class EvidenceLog:
    """JSON lines, one ``write`` per line on an O_APPEND file, so the fronts of
    several processes can share one file without interleaving."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lock = threading.Lock()

    def write(self, record: ServiceRecord) -> None:
        data = (record.to_json() + "\n").encode()
        with self.lock:
            os.write(self.fd, data)


def logged(app: WSGIApp, service: str, local_ip: str, log: EvidenceLog) -> WSGIApp:
    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        source_ip = environ.get("REMOTE_ADDR", "")
        came = arrival(service, local_ip, source_ip)
        environ["proxylab.via"] = came.via
        status_box: list[str] = []

        def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_box.append(status)
            return start_response(status, headers, exc_info)

        body = app(environ, sr)
        code = int(status_box[0].split()[0]) if status_box else 0
        query = environ.get("QUERY_STRING", "")
        log.write(ServiceRecord(
            ts=time.time(), service=service, via=Via(came.via), status=code,
            source_ip=source_ip, local_ip=local_ip, vpce_id=came.vpce_id,
            host=host_of(environ.get("HTTP_HOST") or ""),
            method=environ.get("REQUEST_METHOD", ""),
            path=environ.get("PATH_INFO", "") + (f"?{query}" if query else ""),
        ))
        return body

    return wrapper


def _respond(
    start_response: Callable[..., Any],
    status: str,
    body: bytes,
    ctype: str,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))] + (extra or [])
    start_response(status, headers)
    return [body]


def web_app(web_host: str) -> WSGIApp:
    page = (
        f"<!doctype html><title>{web_host} (proxylab)</title>"
        f"<p>The lab's stand-in for https://{web_host}/.</p>\n"
    ).encode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        return _respond(start_response, "200 OK", page, "text/html; charset=utf-8")

    return app


def apigw_app(region: str, apis: dict[str, str], execute_api_host: str) -> WSGIApp:
    """REST APIs by id and endpoint type (``REGIONAL`` / ``PRIVATE``), stage ``dev``,
    resource ``/data``. Who may call what, as on AWS:

    - a PRIVATE API answers only requests that came through the interface endpoint
      (its resource policy names the lab's vpce); from the internet it is 403;
    - through an interface endpoint with private DNS, public (REGIONAL) APIs are
      refused with 403;
    - an unknown resource or stage is 403 ``Missing Authentication Token``.

    ``execute_api_host`` is the region's ``execute-api.<region>.<suffix>`` (botocore's).
    """
    suffix = f".{execute_api_host}"

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        host = host_of(environ.get("HTTP_HOST") or "") or ""
        request_id = str(uuid.uuid4())
        extra = [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", request_id[:16])]
        api_id = (
            host[: -len(suffix)]
            if host.endswith(suffix)
            else environ.get("HTTP_X_APIGW_API_ID", "")
        )
        kind = apis.get(api_id)
        via = environ.get("proxylab.via", "internet")

        def forbidden(message: str = "Forbidden") -> list[bytes]:
            body = json.dumps({"message": message}).encode()
            return _respond(
                start_response,
                "403 Forbidden",
                body,
                JSON,
                extra + [("x-amzn-ErrorType", "ForbiddenException")],
            )

        if kind is None:
            return forbidden()
        if kind == "PRIVATE" and via != "interface-endpoint":
            arn = f"arn:aws:execute-api:{region}:{t.ACCOUNT_ID}:{api_id}/dev/GET/data"
            return forbidden(
                "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
                + arn
            )
        if kind == "REGIONAL" and via == "interface-endpoint":
            return forbidden()
        if environ.get("PATH_INFO", "") != "/dev/data":
            return forbidden("Missing Authentication Token")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        body = json.dumps(
            {
                "api_id": api_id,
                "endpoint_type": kind,
                "id": query.get("id"),
                "data": {"value": "hello from the lab"},
            }
        ).encode()
        return _respond(start_response, "200 OK", body, JSON, extra)

    return app


def s3_app(bucket: str, key: str, region: str) -> WSGIApp:
    """moto's S3, seeded with the bucket and the CSV object the probe reads."""
    from moto.s3.models import s3_backends
    from moto.server import create_backend_app

    app = create_backend_app("s3")
    backend = s3_backends[t.ACCOUNT_ID]["aws"]
    backend.create_bucket(bucket, region)
    backend.put_object(bucket, key, b"id,name,value\n111,alpha,1.5\n222,beta,2.5\n333,gamma,3.5\n")
    return app


def build_app(server: dict[str, Any], spec: dict[str, Any]) -> WSGIApp:
    service = server["service"]
    if service == "web":
        return web_app(spec["web_host"])
    if service == "execute-api":
        return apigw_app(spec["region"], spec["apis"], spec["execute_api_host"])
    if service == "s3":
        return s3_app(spec["bucket"], spec["source_key"], spec["region"])
    raise ValueError(f"unknown service {service!r}")


def serve(spec: dict[str, Any]) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(spec["cert"], spec["key"])
    log = EvidenceLog(spec["log"])
    apps: dict[str, WSGIApp] = {}
    servers = []
    for server in spec["servers"]:
        service = server["service"]
        if service not in apps:  # one backend per service, shared by its addresses
            apps[service] = build_app(server, spec)
        app = logged(apps[service], service, server["address"], log)
        servers.append(TLSWSGIServer(server["address"], server.get("port", 443), app, ctx))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for th in threads:
        th.start()
    print(f"fronts ready: {[(s['service'], s['address']) for s in spec['servers']]}", flush=True)
    for th in threads:
        th.join()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as fh:
        serve(json.load(fh))
    return 0


if __name__ == "__main__":
    sys.exit(main())
