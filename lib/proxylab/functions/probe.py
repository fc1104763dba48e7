"""The probe function: what the seed's function does, plus one JSON line per step.

Deployed as-is to the local lab (run by the real ``awslambdaric``) and to real AWS
Lambda (python3.11 / python3.12 runtimes): it may import only the standard library
and boto3/botocore (and urllib3, which botocore brings), never ``proxylab``.

The steps are a list (``proxylab.scenarios.steps``): the invocation event's
``proxylab_steps`` when a scenario declares them, else the seed's four, in the
seed's order, each catching its own errors:

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
    client.meta.events.register("before-send", _remember_url)
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
# A step is a dict (proxylab.scenarios.steps is the format): {"name", "aws": {service,
# operation, params, config, region} | "http": {url, method, headers, body},
# "timeout_s"}; the seed's list below also carries its prose ("say", "label", "done").


def seed_steps() -> list[dict]:
    """The seed's four steps, as a list (proxylab.scenarios.steps.SEED_STEPS)."""
    today = datetime.datetime.now().strftime("%y%m%d")
    destination_key = f"result_{today}.csv"
    return [
        {"name": "s3_get", "say": f"Downloading {SOURCE_KEY} from bucket {BUCKET_NAME}",
         "aws": {"service": "s3", "operation": "get_object",
                 "params": {"Bucket": BUCKET_NAME, "Key": SOURCE_KEY}}},
        {"name": "s3_put", "say": f"Uploading to {destination_key} in bucket {BUCKET_NAME}",
         "done": "S3 processing completed successfully.",
         "aws": {"service": "s3", "operation": "put_object",
                 "params": {"Bucket": BUCKET_NAME, "Key": destination_key,
                            "Body": {"from_step": "s3_get"}}}},
        {"name": "web", "say": f"Accessing web URL: {WEB_URL}", "label": "Web",
         "http": {"url_from_env": "WEB_URL", "method": "GET"}},
        {"name": "api", "say": f"Accessing API Gateway URL: {API_GATEWAY_URL}",
         "label": "API Gateway", "http": {"url_from_env": "API_GATEWAY_URL", "method": "GET"}},
    ]


def _s3_failure_line(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"AWS ClientError: {exc}"
    return f"Unexpected error: {exc}"


_clients: dict[str, object] = {}


def _client(aws: dict, timeout: float | None):
    """One boto3 client per (service, region, config, timeout), created at first use;
    the seed's default S3 client is the one created at init."""
    config = dict(aws.get("config") or {})
    endpoint_url = config.pop("endpoint_url", None)
    key = json.dumps([aws["service"], aws.get("region"), config, endpoint_url, timeout],
                     sort_keys=True)
    if key in _clients:
        return _clients[key]
    if aws["service"] == "s3" and not config and not aws.get("region") and \
            endpoint_url is None and timeout is None:
        if s3_client is None:
            raise _s3_client_error or RuntimeError("no S3 client")
        return s3_client
    t = timeout or STEP_TIMEOUT
    kwargs: dict = {"connect_timeout": t, "read_timeout": t,
                    "retries": {"total_max_attempts": 1}}
    if config.get("addressing_style"):
        kwargs["s3"] = {"addressing_style": config["addressing_style"]}
    for flag in ("use_dualstack_endpoint", "use_fips_endpoint", "proxies"):
        if flag in config:
            kwargs[flag] = config[flag]
    client = boto3.client(aws["service"], region_name=aws.get("region"),
                          endpoint_url=endpoint_url, config=Config(**kwargs))
    client.meta.events.register("before-send", _remember_url)
    _clients[key] = client
    return client


def _params(params: dict, bodies: dict[str, bytes]) -> dict:
    """``{"from_step": NAME}`` -> the bytes that step read (b"" when it read none)."""
    return {k: bodies.get(v["from_step"], b"") if isinstance(v, dict) and "from_step" in v
            else v for k, v in params.items()}


def _aws_step(step: dict, bodies: dict[str, bytes]) -> tuple[dict, str | None]:
    """Run one AWS call; returns (summary, seed-style error line or None)."""
    aws, name = step["aws"], step["name"]
    started = time.monotonic()
    _last_s3_url["url"] = None
    client = None
    try:
        client = _client(aws, step.get("timeout_s"))
        result = getattr(client, aws["operation"])(**_params(aws.get("params") or {}, bodies))
        if isinstance(result, dict):
            for k, v in list(result.items()):
                if hasattr(v, "read"):  # a streamed body: its timeout is this step's too
                    result[k] = v.read()
                    bodies[name] = result[k]
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome
        line = _s3_failure_line(exc)
        print(line)
        outcome, status = classify(exc)
        endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
        if client is None and aws["service"] == "s3":
            endpoint = getattr(getattr(s3_client, "meta", None), "endpoint_url", None)
        url = _last_s3_url["url"] or endpoint
        return _emit(name, url, outcome, status, str(exc), started), line
    status = result.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(
        result, dict) else None
    url = _last_s3_url["url"] or getattr(client.meta, "endpoint_url", None)
    return _emit(name, url, "ok", status, None, started), None


def _env_url(name: str) -> str:
    """The URL a variable names (the seed's two with their defaults)."""
    return {"WEB_URL": WEB_URL, "API_GATEWAY_URL": API_GATEWAY_URL}.get(name) or \
        os.environ.get(name, "")


def _http_step(step: dict) -> dict:
    """One urllib request; with a "label" (the seed's steps), the seed's prints."""
    http, label = step["http"], step.get("label")
    url = http.get("url") or _env_url(http.get("url_from_env", ""))
    timeout = step.get("timeout_s") or STEP_TIMEOUT
    body = http.get("body")
    request = urllib.request.Request(url, method=http.get("method", "GET"),
                                     headers=dict(http.get("headers") or {}),
                                     data=None if body is None else body.encode())
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            if label:
                if status == 200:
                    print(f"{label} access successful (200 OK)")
                else:
                    print(f"{label} access failed with status code: {status}")
            response.read()
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome
        if label:
            print(f"{label} access error: {exc}")
        outcome, code = classify(exc)
        return _emit(step["name"], url, outcome, code, str(exc), started)
    return _emit(step["name"], url, "ok", status, None, started)


def handler(event, context):
    """Lambda entry point (``probe.handler``): runs the event's ``proxylab_steps``,
    or the seed's four steps when it names none."""
    declared = event.get("proxylab_steps") if isinstance(event, dict) else None
    steps: dict[str, dict] = {}
    aws_error: str | None = None
    bodies: dict[str, bytes] = {}
    for step in declared or seed_steps():
        if step.get("say"):
            print(step["say"])
        if "aws" in step:
            summary, err = _aws_step(step, bodies)
            aws_error = aws_error or err
        else:
            summary = _http_step(step)
        steps[step["name"]] = summary
        if step.get("done") and aws_error is None:
            print(step["done"])

    if aws_error is not None:
        return {"statusCode": 500, "body": aws_error, "steps": steps}
    return {"statusCode": 200, "body": "Lambda function executed successfully.", "steps": steps}
