"""The probe function: what the seed's function does, plus one JSON line per step.

Deployed as-is to the local lab (run by the real ``awslambdaric``) and to real AWS
Lambda (python3.11 / python3.12 runtimes): it may import only the standard library
and boto3/botocore (and urllib3, which botocore brings), never ``proxylab``.

Steps, in the seed's order, each catching its own errors:

1. ``s3_get``  boto3 ``get_object(BUCKET_NAME, SOURCE_KEY)``
2. ``s3_put``  boto3 ``put_object`` of the same bytes to ``result_<yymmdd>.csv``
   (attempted even when ``s3_get`` failed, with the bytes it has, so the put's own
   route is observed too)
3. ``web``     ``urllib.request.urlopen(WEB_URL, timeout=STEP_TIMEOUT)``
4. ``api``     ``urllib.request.urlopen(API_GATEWAY_URL, timeout=STEP_TIMEOUT)``

The seed's human lines are printed as the seed prints them, and after each step one
line ``{"proxylab": "step", ...}`` (see TEAM contract / functions/README.md) so the
analysis never parses prose. The S3 client is created at module level, as in the
seed: that is when botocore decides, once, whether the client uses the proxy.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import botocore.exceptions
from botocore.config import Config

BUCKET_NAME = os.environ.get("BUCKET_NAME", "proxylab-demo-bucket")
SOURCE_KEY = os.environ.get("SOURCE_KEY", "input/data.csv")
API_GATEWAY_URL = os.environ.get(
    "API_GATEWAY_URL",
    "https://q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com/dev/data?id=111",
)
WEB_URL = os.environ.get("WEB_URL", "https://www.google.com")


def _step_timeout() -> float:
    try:
        value = float(os.environ.get("STEP_TIMEOUT", "5"))
    except ValueError:
        value = 5.0
    return value if value > 0 else 5.0


STEP_TIMEOUT = _step_timeout()

# One attempt, short timeouts: a blocked path ends in STEP_TIMEOUT seconds and each
# attempt shows up exactly once in the proxy's log. (botocore's ``max_attempts`` counts
# retries, ``total_max_attempts`` counts attempts: 1 means no retry at all.)
S3_CONFIG = Config(
    connect_timeout=STEP_TIMEOUT,
    read_timeout=STEP_TIMEOUT,
    retries={"total_max_attempts": 1},
)

_TUNNEL_STATUS = re.compile(r"Tunnel connection failed: (\d{3})")

# The URL of the last request botocore sent (filled by the before-send hook).
_last_s3_url: dict[str, str | None] = {"url": None}


def _remember_url(request, **_kwargs):
    """before-send hook: the final URL (endpoint + addressing style) botocore used."""
    _last_s3_url["url"] = request.url
    return None  # None: botocore goes on and sends the request itself


def _make_s3_client():
    client = boto3.client("s3", config=S3_CONFIG)
    client.meta.events.register("before-send.s3", _remember_url)
    return client


# Created at init, as in the seed. A failure here (e.g. a malformed AWS_ENDPOINT_URL_S3)
# must not stop the other steps, so it is kept and reported by the S3 steps.
try:
    s3_client = _make_s3_client()
    _s3_client_error: Exception | None = None
except Exception as exc:  # noqa: BLE001 - reported per step
    s3_client = None
    _s3_client_error = exc


# --------------------------------------------------------------------------- outcomes


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps: ``reason`` (urllib), ``kwargs['error']``
    (botocore), exception args, ``__cause__`` / ``__context__``. Breadth first, no repeats."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.append(getattr(item, "reason", None))
        kwargs = getattr(item, "kwargs", None)
        if isinstance(kwargs, dict):
            todo.append(kwargs.get("error"))
        todo.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
        todo.append(item.__cause__)
        todo.append(item.__context__)
    return seen


def _is(exc: BaseException, module: str, name: str) -> bool:
    """isinstance by class name, for urllib3 classes (no hard import of urllib3)."""
    return any(c.__module__ == module and c.__name__ == name for c in type(exc).__mro__)


def classify(exc: BaseException) -> tuple[str, int | None]:
    """(outcome, status) from the real exception a step raised.

    tunnel_error: the proxy refused the CONNECT (status from "Tunnel connection
    failed: 503 ...") or could not be connected to (botocore ProxyConnectionError);
    http_error: the server answered with an HTTP error (urllib HTTPError, botocore
    ClientError); dns_error: the name did not resolve; timeout: connect/read/TLS
    handshake timed out; tls_error: certificate or TLS failure; other: the rest
    (connection refused, reset, ...).
    """
    chain = _chain(exc)
    for e in chain:
        m = _TUNNEL_STATUS.search(str(e))
        if m:
            return "tunnel_error", int(m.group(1))
    for e in chain:
        if isinstance(e, urllib.error.HTTPError):
            return "http_error", e.code
        if isinstance(e, botocore.exceptions.ClientError):
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return "http_error", status
    for e in chain:
        if isinstance(e, socket.gaierror) or _is(e, "urllib3.exceptions", "NameResolutionError"):
            return "dns_error", None
    for e in chain:
        if isinstance(e, (TimeoutError, socket.timeout)):
            return "timeout", None
        if isinstance(e, (botocore.exceptions.ConnectTimeoutError,
                          botocore.exceptions.ReadTimeoutError)):
            return "timeout", None
        # urllib3's NewConnectionError subclasses ConnectTimeoutError: not a timeout.
        if (_is(e, "urllib3.exceptions", "ConnectTimeoutError")
                or _is(e, "urllib3.exceptions", "ReadTimeoutError")) and not _is(
                    e, "urllib3.exceptions", "NewConnectionError"):
            return "timeout", None
    for e in chain:
        if isinstance(e, (ssl.SSLError, ssl.CertificateError, botocore.exceptions.SSLError)):
            return "tls_error", None
    if any(isinstance(e, botocore.exceptions.ProxyConnectionError) for e in chain):
        return "tunnel_error", None
    return "other", None


def _emit(step: str, url: str | None, outcome: str, status: int | None,
          error: str | None, started: float) -> dict:
    """Print the step's JSON line and return it (without the marker) for the summary."""
    host = urllib.parse.urlsplit(url).hostname if url else None
    record = {
        "proxylab": "step",
        "step": step,
        "url": url,
        "host": host,
        "outcome": outcome,
        "status": status,
        "error": error,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
        "t": round(time.time(), 3),  # wall clock: joins host-less evidence by time window
    }
    print(json.dumps(record, separators=(",", ":")))
    return {k: v for k, v in record.items() if k not in ("proxylab", "step")}


# ------------------------------------------------------------------------------ steps


def _s3_failure_line(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"AWS ClientError: {exc}"
    return f"Unexpected error: {exc}"


def _s3_step(step: str, call) -> tuple[dict, object, str | None]:
    """Run one S3 call; returns (summary, call result or None, seed-style error line)."""
    started = time.monotonic()
    _last_s3_url["url"] = None
    endpoint = getattr(getattr(s3_client, "meta", None), "endpoint_url", None)
    try:
        if s3_client is None:
            raise _s3_client_error or RuntimeError("no S3 client")
        result = call()
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome
        line = _s3_failure_line(exc)
        print(line)
        outcome, status = classify(exc)
        url = _last_s3_url["url"] or endpoint
        return _emit(step, url, outcome, status, str(exc), started), None, line
    status = result.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(
        result, dict) else None
    return _emit(step, _last_s3_url["url"] or endpoint, "ok", status, None, started), result, None


def _http_step(step: str, label: str, url: str) -> dict:
    """The seed's urllib GET with its prints; label is "Web" or "API Gateway"."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=STEP_TIMEOUT) as response:
            status = response.status
            if status == 200:
                print(f"{label} access successful (200 OK)")
            else:
                print(f"{label} access failed with status code: {status}")
            response.read()
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome
        print(f"{label} access error: {exc}")
        outcome, code = classify(exc)
        return _emit(step, url, outcome, code, str(exc), started)
    return _emit(step, url, "ok", status, None, started)


def handler(event, context):
    """Lambda entry point (``probe.handler``)."""
    steps: dict[str, dict] = {}
    s3_error: str | None = None

    print(f"Downloading {SOURCE_KEY} from bucket {BUCKET_NAME}")

    def get_and_read():
        response = s3_client.get_object(Bucket=BUCKET_NAME, Key=SOURCE_KEY)
        response["Body"] = response["Body"].read()  # a timeout mid-body is this step's too
        return response

    summary, got, err = _s3_step("s3_get", get_and_read)
    steps["s3_get"] = summary
    s3_error = s3_error or err
    body = got["Body"] if got is not None else b""

    today = datetime.datetime.now().strftime("%y%m%d")
    destination_key = f"result_{today}.csv"
    print(f"Uploading to {destination_key} in bucket {BUCKET_NAME}")
    summary, _put, err = _s3_step(
        "s3_put",
        lambda: s3_client.put_object(Bucket=BUCKET_NAME, Key=destination_key, Body=body))
    steps["s3_put"] = summary
    s3_error = s3_error or err
    if s3_error is None:
        print("S3 processing completed successfully.")

    print(f"Accessing web URL: {WEB_URL}")
    steps["web"] = _http_step("web", "Web", WEB_URL)

    print(f"Accessing API Gateway URL: {API_GATEWAY_URL}")
    steps["api"] = _http_step("api", "API Gateway", API_GATEWAY_URL)

    if s3_error is not None:
        return {"statusCode": 500, "body": s3_error, "steps": steps}
    return {"statusCode": 200, "body": "Lambda function executed successfully.", "steps": steps}
