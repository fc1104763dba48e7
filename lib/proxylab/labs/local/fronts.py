"""Service fronts over TLS: the internet stand-in, every AWS service, API Gateway.

Run as ``python -m proxylab.labs.local.fronts SPEC.json`` inside a lab namespace.

- In ``aws``: one TLS server on every address of the namespace (port 443). How a
  request arrived is decided from the connection's own addresses, so every front can
  log it: a request accepted on an interface endpoint's ENI came through that endpoint
  (vpce id known); one from the Lambda VPC (10.1/16) at S3's or DynamoDB's public
  address can only have been carried by that service's gateway endpoint route;
  anything else came from the internet (through the proxy's public address).
  API Gateway invoke names go to our data plane (moto cannot serve execute-api
  invocations); every other AWS host goes to **moto in server mode**
  (``moto.server.DomainDispatcherApplication``: one process, every service moto
  implements, each service's backend made on its first request). This is where AWS
  itself is replaced: by moto's wire protocols, seeded with the lab's bucket, secret
  and table.
- In ``internet``: the web site and any host a scenario names, on 443 (a certificate
  per name, signed by the lab CA on first use) and on 80 (plain HTTP: what Squid's
  absolute-URI GETs reach). Which names exist is the public DNS's decision.
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
from pathlib import Path
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
GATEWAYS = {t.S3_IP: t.S3_GATEWAY_VPCE_ID, t.DYNAMODB_IP: t.DYNAMODB_GATEWAY_VPCE_ID}


@dataclass(frozen=True)
class Arrival:
    via: str
    vpce_id: str | None


_ENIS: dict[str, str] = {}


def arrival(local_ip: str, source_ip: str) -> Arrival:
    """How a request reached a front (see the module docstring)."""
    if not _ENIS:
        _ENIS.update(t.eni_services())
    if local_ip in _ENIS:
        return Arrival("interface-endpoint", t.vpce_id(_ENIS[local_ip]))
    try:
        from_vpc = ipaddress.ip_address(source_ip) in LAMBDA_VPC
    except ValueError:
        from_vpc = False
    if from_vpc and local_ip in GATEWAYS:
        return Arrival("gateway-endpoint", GATEWAYS[local_ip])
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


def signing_service(environ: dict[str, Any]) -> str | None:
    """The service a SigV4 request was signed for (its credential scope)."""
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    try:
        return auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3] or None
    except IndexError:
        return None


def aws_service(environ: dict[str, Any]) -> str:
    """The endpoint prefix of the service a request is for: botocore's reading of the
    host, else the signature's credential scope."""
    from proxylab.awsdata.hostnames import classify

    info = classify(host_of(environ.get("HTTP_HOST") or "") or "")
    return info.service or signing_service(environ) or "aws"


def s3_bucket(host: str) -> str | None:
    """The bucket a virtual-hosted S3 name carries. Endpoint-specific names spell
    ``bucket.<vpce>...`` for the endpoint itself (path-style requests) and
    ``<bucket>.bucket.<vpce>...`` for a bucket, as AWS documents for ``endpoint_url``."""
    from proxylab.awsdata.hostnames import classify

    info = classify(host)
    if info.flavour == "vpce":
        labels = host.split(".")
        i = labels.index(info.vpce_id) if info.vpce_id in labels else 0
        head = [x for x in labels[:i] if x not in ("bucket", "accesspoint", "control")]
        return ".".join(head) or None
    return info.bucket


def request_operation(environ: dict[str, Any], service: str) -> str | None:
    """The API operation a request is (:mod:`proxylab.awsdata.operations`)."""
    from proxylab.awsdata.operations import operation

    path = environ.get("PATH_INFO", "")
    if service == "s3":
        bucket = s3_bucket(host_of(environ.get("HTTP_HOST") or "") or "")
        if bucket:
            path = f"/{bucket}{path}"
    stream = environ.get("wsgi.input")
    body = b""
    form = "x-www-form-urlencoded" in (environ.get("CONTENT_TYPE") or "")
    if form and stream is not None and hasattr(stream, "seek"):
        body = stream.read()
        stream.seek(0)
    headers = frozenset(k[5:].lower().replace("_", "-") for k in environ if k.startswith("HTTP_"))
    return operation(service, environ.get("REQUEST_METHOD", ""), path,
                     environ.get("QUERY_STRING", ""), environ.get("HTTP_X_AMZ_TARGET"),
                     body, form, headers)


def logged(app: WSGIApp, service_of: Callable[[dict[str, Any]], str], log: EvidenceLog,
           operations: bool = False) -> WSGIApp:
    """``app`` with one services-log record per request: service, host, operation,
    source, how it arrived, status."""

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        source_ip = environ.get("REMOTE_ADDR", "")
        local_ip = environ.get("proxylab.local_ip", "")
        came = arrival(local_ip, source_ip)
        environ["proxylab.via"] = came.via
        service = environ["proxylab.service"] = service_of(environ)
        host = host_of(environ.get("HTTP_HOST") or "")
        op = request_operation(environ, service) if operations else None
        status_box: list[str] = []

        def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_box.append(status)
            return start_response(status, headers, exc_info)

        body = app(environ, sr)
        code = int(status_box[0].split()[0]) if status_box else 0
        query = environ.get("QUERY_STRING", "")
        log.write(ServiceRecord(
            ts=time.time(), service=service, via=Via(came.via), status=code,
            source_ip=source_ip, local_ip=local_ip, vpce_id=came.vpce_id, host=host,
            method=environ.get("REQUEST_METHOD", ""),
            path=environ.get("PATH_INFO", "") + (f"?{query}" if query else ""),
            operation=op,
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
    """The internet stand-in: a page for whichever host was asked (the public DNS
    decides which hosts exist), over https or plain http."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        host = host_of(environ.get("HTTP_HOST") or "") or web_host
        scheme = environ.get("wsgi.url_scheme", "https")
        page = (f"<!doctype html><title>{host} (proxylab)</title>"
                f"<p>The lab's stand-in for {scheme}://{host}/.</p>\n").encode()
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
        # Route 53 alias names of a private API, {api-id}-{vpce-id}.execute-api...:
        # public records pointing at the endpoint's ENI, usable with private DNS off.
        api_id, _, alias_vpce = api_id.partition("-vpce-")
        if alias_vpce and f"vpce-{alias_vpce}" != t.EXECUTE_API_VPCE_ID:
            api_id = ""
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


def moto_app(spec: dict[str, Any]) -> WSGIApp:
    """moto in server mode for every AWS service but API Gateway's data plane, with the
    probe's bucket and CSV object, and (on the service's first request) a secret and a
    DynamoDB table. Hosts moto's router does not know (FIPS, dual-stack, endpoint-
    specific names) are handed on as the service's regional name: the log keeps the
    host the client used."""
    from moto.s3.models import s3_backends
    from moto.server import DomainDispatcherApplication, create_backend_app

    from proxylab.awsdata.endpoints import botocore_host
    from proxylab.awsdata.hostnames import classify

    region = spec["region"]
    s3 = s3_backends[t.ACCOUNT_ID]["aws"]
    s3.create_bucket(spec["bucket"], region)
    s3.put_object(spec["bucket"], spec["source_key"],
                  b"id,name,value\n111,alpha,1.5\n222,beta,2.5\n333,gamma,3.5\n")
    dispatcher = DomainDispatcherApplication(create_backend_app)
    seeded: set[str] = set()
    lock = threading.Lock()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        service = environ.get("proxylab.service") or aws_service(environ)
        with lock:
            if service not in seeded:
                seeded.add(service)
                _seed(service, region)
        host = host_of(environ.get("HTTP_HOST") or "") or ""
        info = classify(host)
        if service == "s3":
            bucket = s3_bucket(host)
            environ["HTTP_HOST"] = f"{bucket}.s3.amazonaws.com" if bucket else "s3.amazonaws.com"
        elif info.flavour == "vpce" or info.fips or info.dualstack:
            regional = botocore_host(service, region, s3_global=False, sts_global=False)
            if regional:
                environ["HTTP_HOST"] = regional
        return dispatcher(environ, start_response)

    return app


def _seed(service: str, region: str) -> None:
    """What the lab's account holds in a service, made when it is first asked for."""
    if service == "secretsmanager":
        from moto.secretsmanager.models import secretsmanager_backends

        secretsmanager_backends[t.ACCOUNT_ID][region].create_secret(
            name=t.SECRET_ID, secret_string=t.SECRET_VALUE, secret_binary=None,
            description="proxylab", tags=[], kms_key_id=None, client_request_token=None,
            replica_regions=[], force_overwrite=False)
    elif service == "dynamodb":
        from moto.dynamodb.models import dynamodb_backends

        ddb = dynamodb_backends[t.ACCOUNT_ID][region]
        ddb.create_table(t.TABLE_NAME, schema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         throughput=None, attr=[{"AttributeName": "id", "AttributeType": "S"}],
                         global_indexes=None, indexes=None, streams=None,
                         billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[],
                         deletion_protection_enabled=False, warm_throughput=None)
        ddb.put_item(t.TABLE_NAME, {"id": {"S": "111"}, "name": {"S": "alpha"}})


def aws_app(spec: dict[str, Any]) -> WSGIApp:
    """One front for every AWS name: API Gateway invoke names (and unsigned requests
    naming an API in ``x-apigw-api-id``) to our data plane, everything else to moto
    (made at start: its S3 import is most of a second, which the first run must not pay)."""
    apigw = apigw_app(spec["region"], spec["apis"], spec["execute_api_host"])
    moto = moto_app(spec)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("proxylab.service") == "execute-api" or (
                environ.get("HTTP_X_APIGW_API_ID") and not environ.get("HTTP_AUTHORIZATION")):
            return apigw(environ, start_response)
        return moto(environ, start_response)

    return app


def _with_sni(spec: dict[str, Any], ctx: ssl.SSLContext) -> ssl.SSLContext:
    """The internet stand-in's TLS: for each name a client asks (SNI) a certificate of
    that name alone, signed by the lab CA on first use (a site's certificate does not
    list AWS's names); the lab certificate only for a client that sends no SNI."""
    directory = Path(spec["cert"]).parent
    cache: dict[str, ssl.SSLContext] = {}
    lock = threading.Lock()

    def pick(sock: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
        if name:
            with lock:
                from proxylab.labs.local import pki  # imported in the background at start

                sock.context = pki.leaf_for(directory, name, cache)

    ctx.sni_callback = pick
    return ctx


class Deferred:
    """A WSGI app built in a background thread while the server already listens:
    importing moto is most of a second of `lab up`, and no request comes before the
    function's first call. A request that comes earlier waits for it (bounded)."""

    def __init__(self, build: Callable[[], WSGIApp], limit_s: float = 60.0) -> None:
        self.ready = threading.Event()
        self.limit_s = limit_s
        self.app: WSGIApp | None = None
        self.error: BaseException | None = None
        threading.Thread(target=self._build, args=(build,), daemon=True).start()

    def _build(self, build: Callable[[], WSGIApp]) -> None:
        try:
            self.app = build()
        except BaseException as exc:  # noqa: BLE001 - told to every request, and logged
            self.error = exc
            print(f"front failed to start: {type(exc).__name__}: {exc}", flush=True)
        finally:
            self.ready.set()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if not self.ready.wait(self.limit_s) or self.app is None:
            body = f"lab front not ready: {self.error!r}".encode()
            return _respond(start_response, "503 Service Unavailable", body, "text/plain")
        return self.app(environ, start_response)


def serve(spec: dict[str, Any]) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(spec["cert"], spec["key"])
    log = EvidenceLog(spec["log"])
    servers = []
    for server in spec["servers"]:
        kind, port = server["service"], server.get("port", 443)
        tls: ssl.SSLContext | None
        if kind == "web":
            app = logged(web_app(spec["web_host"]), lambda environ: "web", log)
            tls = _with_sni(spec, ctx) if port == 443 else None
            threading.Thread(target=lambda: __import__("proxylab.labs.local.pki"),
                             daemon=True).start()
        elif kind == "aws":
            app = logged(Deferred(lambda: aws_app(spec)), aws_service, log, operations=True)
            tls = ctx
        else:
            raise ValueError(f"unknown front {kind!r}")
        servers.append(TLSWSGIServer(server["address"], port, app, tls))
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
