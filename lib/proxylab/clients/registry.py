"""The clients the matrix can run: name -> how to make one request, its version, how
to install it.

Modelled on papermill's engine registry: each client is a small record with the
three things the matrix needs, so adding one (Go, Java, a user's command template)
is one entry. A client that is not installed stays in the matrix with the command
that installs it; it is never silently dropped.

Versions and availability are read on the host (the same binaries and the same
venv the lab runs), never by a network call.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from proxylab.clients import build, programs
from proxylab.errors import UserError, did_you_mean
from proxylab.labs.local.processes import BASE_PATH as LAB_PATH  # what lab commands get
from proxylab.vocab import Outcome

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """One request a cell makes: ``kind`` names the lab service (web, web-http,
    web-ip-http, s3, api), ``url`` is the full URL carrying the cell's ``token``;
    ``bucket``/``key`` are the same object as ``url`` for SDK clients."""

    kind: str
    url: str
    token: str
    bucket: str = ""
    key: str = ""


@dataclass(frozen=True)
class Result:
    """What the client said about its request."""

    outcome: Outcome
    status: int | None = None
    error: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ClientSpec:
    name: str
    family: str  # python | command | node | built: how it is found and versioned
    summary: str
    install: str  # the command that installs it
    argv: Callable[[Target, float, str], list[str]]  # (target, timeout_s, ca_file)
    parse: Callable[[int | None, str, str], Result]  # (exit code, stdout, stderr)
    package: str = ""  # python: the distribution whose version is the client's
    binary: str = ""  # command / node: the executable
    targets: frozenset[str] = frozenset({"web", "web-http", "web-ip-http", "s3", "api"})
    env: Callable[[str], dict[str, str]] = field(default=lambda ca: {})  # (ca_file) -> extra
    # built / sdk: how its version is read (None: not installed or not built)
    versioner: Callable[[], str | None] | None = None

    def version(self) -> str | None:
        """The installed version, or None when the client is not installed."""
        if self.versioner is not None:
            return self.versioner()
        if self.family == "python":
            if not self.package:
                return f"Python {platform.python_version()}"
            try:
                return importlib.metadata.version(self.package)
            except importlib.metadata.PackageNotFoundError:
                return None
        path = shutil.which(self.binary, path=LAB_PATH)
        if path is None:
            return None
        flag = "--version"
        try:
            out = subprocess.run([path, flag], capture_output=True, text=True, timeout=10,
                                 stdin=subprocess.DEVNULL).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        first = out.strip().splitlines()[0] if out.strip() else ""
        match = re.search(r"v?(\d+(?:\.\d+)+)", first)
        return match.group(1) if match else (first or "unknown")


def _json_result(rc: int | None, stdout: str, stderr: str) -> Result:
    """The last JSON line a program of :mod:`programs` printed."""
    import json

    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "outcome" in data:
            outcome = Outcome(data["outcome"]) if data["outcome"] in set(Outcome) \
                else Outcome.OTHER
            return Result(outcome, data.get("status"), data.get("error") or "",
                          data.get("detail") or "")
    return Result(Outcome.OTHER, None, (stderr.strip() or f"exit {rc}, no result")[-600:])


def _status_result(status: int, error: str = "") -> Result:
    if status == 0:
        return Result(Outcome.OTHER, None, error or "no HTTP status")
    return Result(Outcome.OK if status < 400 else Outcome.HTTP_ERROR, status, error)


# curl's exit codes (curl(1), EXIT CODES) that the matrix tells apart.
_CURL_EXIT = {28: Outcome.TIMEOUT, 5: Outcome.DNS_ERROR, 6: Outcome.DNS_ERROR,
              35: Outcome.TLS_ERROR, 60: Outcome.TLS_ERROR, 77: Outcome.TLS_ERROR,
              56: Outcome.TUNNEL_ERROR}


def _curl_result(rc: int | None, stdout: str, stderr: str) -> Result:
    if rc == 0:
        code = stdout.strip()[-3:]
        return _status_result(int(code) if code.isdigit() else 0, stderr.strip())
    if rc is None:
        return Result(Outcome.TIMEOUT, None, "killed after its time limit")
    return Result(_CURL_EXIT.get(rc, Outcome.OTHER), None, f"exit {rc}: {stderr.strip()}"[-600:])


def _wget_result(rc: int | None, stdout: str, stderr: str) -> Result:
    """wget exits 4 for any network failure and 8 for an error response: the
    message tells a timeout from a refusal, ``ERROR nnn`` gives the status."""
    text = stderr.strip()
    if rc == 0:
        return Result(Outcome.OK, 200, "")
    if rc is None:
        return Result(Outcome.TIMEOUT, None, "killed after its time limit")
    status = re.search(r"ERROR (\d{3})", text)
    if rc == 8 and status:
        return _status_result(int(status.group(1)), text[-600:])
    low = text.lower()
    if "timed out" in low:
        outcome = Outcome.TIMEOUT
    elif rc == 5 or "certificate" in low:
        outcome = Outcome.TLS_ERROR
    elif "unable to resolve" in low:
        outcome = Outcome.DNS_ERROR
    else:
        outcome = Outcome.OTHER
    return Result(outcome, None, f"exit {rc}: {text}"[-600:])


def _py(program: str) -> Callable[[Target, float, str], list[str]]:
    return lambda target, limit, ca: [sys.executable, "-c", program, target.url, str(limit)]


def _node(program: str) -> Callable[[Target, float, str], list[str]]:
    return lambda target, limit, ca: ["node", "-e", program, target.url, str(limit)]


def _node_env(use_env_proxy: bool) -> Callable[[str], dict[str, str]]:
    """Node trusts only its bundled CAs: the lab CA is plumbing, like SSL_CERT_FILE."""
    def env(ca: str) -> dict[str, str]:
        out = {"NODE_EXTRA_CA_CERTS": ca}
        if use_env_proxy:
            out["NODE_USE_ENV_PROXY"] = "1"
        return out
    return env


def _botocore_argv(target: Target, limit: float, ca: str) -> list[str]:
    return [sys.executable, "-c", programs.BOTOCORE, target.bucket, target.key, str(limit)]


def _curl_argv(target: Target, limit: float, ca: str) -> list[str]:
    return ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", str(limit),
            target.url]


def _wget_argv(target: Target, limit: float, ca: str) -> list[str]:
    return ["wget", "-nv", "-O", "/dev/null", f"--timeout={limit}", "--tries=1",
            f"--ca-certificate={ca}", target.url]


def _crt_argv(target: Target, limit: float, ca: str) -> list[str]:
    return [sys.executable, "-c", programs.CRT, target.bucket, target.key, str(limit)]


def _go_argv(target: Target, limit: float, ca: str) -> list[str]:
    return [str(build.go_binary() or "go-client-not-built"), target.url, str(limit)]


def _java_argv(mode: str) -> Callable[[Target, float, str], list[str]]:
    def argv(target: Target, limit: float, ca: str) -> list[str]:
        classes = build.java_classes()
        return ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", str(classes),
                build.JAVA_CLASS, mode, target.url, str(limit)]
    return argv


def _node_sdk_modules() -> str | None:
    """The cached node_modules holding @aws-sdk/client-s3 (``proxylab setup node``)."""
    from proxylab.labs.local import node
    from proxylab.labs.local.function import NODE_PROBE_DIR

    try:
        return str(node.installed_deps(NODE_PROBE_DIR / "package.json"))
    except node.NodeMissing:
        return None


def _node_sdk_version() -> str | None:
    import json

    modules = _node_sdk_modules()
    if modules is None or shutil.which("node", path=LAB_PATH) is None:
        return None
    try:
        meta = json.loads((Path(modules) / "@aws-sdk" / "client-s3" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return str(meta.get("version") or "unknown")


def _node_sdk_argv(target: Target, limit: float, ca: str) -> list[str]:
    return ["node", "-e", programs.NODE_SDK_V3, target.bucket, target.key, str(limit)]


def _node_sdk_env(ca: str) -> dict[str, str]:
    return {"NODE_EXTRA_CA_CERTS": ca, "NODE_PATH": _node_sdk_modules() or ""}


def _python_dist(name: str) -> Callable[[], str | None]:
    def version() -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None
    return version


def _crt_version() -> str | None:
    """awscrt's version (its aws-c-http makes the proxy decision); None without
    awscrt or without s3transfer's CRT support."""
    crt = _python_dist("awscrt")()
    return None if crt is None or _python_dist("s3transfer")() is None else crt


_NODE = "apt-get install nodejs"
_SETUP = build.SETUP_COMMAND

CLIENTS: dict[str, ClientSpec] = {c.name: c for c in (
    ClientSpec("urllib", "python", "CPython urllib.request.urlopen", "built into Python",
               _py(programs.URLLIB), _json_result),
    ClientSpec("botocore", "python", "boto3 S3 get_object (the SDK picks the endpoint host)",
               "pip install boto3", _botocore_argv, _json_result, package="botocore",
               targets=frozenset({"s3"})),
    ClientSpec("requests", "python", "requests.get", "pip install requests",
               _py(programs.REQUESTS), _json_result, package="requests"),
    ClientSpec("httpx", "python", "httpx.get", "pip install httpx",
               _py(programs.HTTPX), _json_result, package="httpx"),
    ClientSpec("botocore-crt", "python", "s3transfer's CRT download (awscrt's S3 client)",
               _SETUP, _crt_argv, _json_result, package="awscrt",
               targets=frozenset({"s3"}), versioner=_crt_version),
    ClientSpec("aiohttp", "python", "aiohttp ClientSession (trust_env=False, its default)",
               _SETUP, _py(programs.AIOHTTP), _json_result, package="aiohttp"),
    ClientSpec("aiohttp-env", "python", "aiohttp ClientSession(trust_env=True)",
               _SETUP, _py(programs.AIOHTTP_ENV), _json_result, package="aiohttp"),
    ClientSpec("curl", "command", "curl (libcurl)", "apt-get install curl",
               _curl_argv, _curl_result, binary="curl"),
    ClientSpec("wget", "command", "GNU Wget", "apt-get install wget",
               _wget_argv, _wget_result, binary="wget"),
    ClientSpec("node-fetch", "node", "Node global fetch (undici)", _NODE,
               _node(programs.NODE_FETCH), _json_result, binary="node", env=_node_env(False)),
    ClientSpec("node-fetch-env", "node", "Node fetch with NODE_USE_ENV_PROXY=1", _NODE,
               _node(programs.NODE_FETCH), _json_result, binary="node", env=_node_env(True)),
    ClientSpec("node-http", "node", "Node https.get / http.get", _NODE,
               _node(programs.NODE_HTTP), _json_result, binary="node", env=_node_env(False)),
    ClientSpec("node-http-env", "node", "Node https.get with NODE_USE_ENV_PROXY=1", _NODE,
               _node(programs.NODE_HTTP), _json_result, binary="node", env=_node_env(True)),
    ClientSpec("node-sdk-v3", "node", "AWS SDK for JavaScript v3 S3 GetObject",
               "proxylab setup node", _node_sdk_argv, _json_result, binary="node",
               targets=frozenset({"s3"}), env=_node_sdk_env, versioner=_node_sdk_version),
    ClientSpec("go", "built", "Go net/http (http.Get, ProxyFromEnvironment)", _SETUP,
               _go_argv, _json_result, versioner=build.go_version),
    ClientSpec("java-httpclient", "built", "JDK java.net.http.HttpClient (default selector)",
               _SETUP, _java_argv("httpclient"), _json_result, versioner=build.java_version),
    ClientSpec("java-urlconnection", "built", "JDK HttpURLConnection (default selector)",
               _SETUP, _java_argv("urlconnection"), _json_result,
               versioner=build.java_version),
)}


def pick(table: dict[str, T], names: list[str] | None, what: str) -> list[T]:
    """The named entries of ``table`` in the order given, once each (all, in table
    order, for None); an unknown name is refused with the known ones."""
    if not names:
        return list(table.values())
    unknown = [n for n in names if n not in table]
    if unknown:
        raise UserError(f"unknown {what} {unknown[0]!r}{did_you_mean(unknown[0], list(table))}"
                        f" (known: {', '.join(table)})")
    return [table[n] for n in dict.fromkeys(names)]


def select(names: list[str] | None) -> list[ClientSpec]:
    return pick(CLIENTS, names, "client")
