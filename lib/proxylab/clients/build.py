"""The compiled matrix clients (Go net/http, the JDK's HttpClient/HttpURLConnection)
and the optional Python ones (aiohttp, awscrt): installed once by
``proxylab setup clients`` (``make clients``), only *looked up* by a matrix run.

Builds live outside the repository, in ``/var/cache/proxylab/clients`` (or
``$PROXYLAB_CLIENTS_CACHE``), one directory per source file's hash, so an edited
program is rebuilt and never confused with an old binary::

    <cache>/go-nethttp-<sha12>/client       (go build, standard library only)
    <cache>/go-nethttp-<sha12>/version      (the toolchain's `go version`, e.g. go1.19.8)
    <cache>/java-<sha12>/ProxylabClient.class

The toolchains are Debian's (``golang-go``, ``default-jdk-headless``); the Python
clients come from PyPI into the interpreter running proxylab (the cells run it too).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from proxylab.errors import UserError
from proxylab.labs.local.node import _setup_lock

SETUP_COMMAND = "proxylab setup clients"  # also: make clients
DEFAULT_CACHE = Path("/var/cache/proxylab/clients")
CACHE_ENV = "PROXYLAB_CLIENTS_CACHE"
SRC = Path(__file__).parent / "src"
GO_SOURCE = SRC / "nethttp.go"
JAVA_SOURCE = SRC / "ProxylabClient.java"
JAVA_CLASS = "ProxylabClient"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# Debian package -> the command it provides.
APT_PACKAGES = {"golang-go": "go", "default-jdk-headless": "javac"}
PIP_PACKAGES = ("aiohttp", "awscrt")
BUILD_TIMEOUT_S = 600.0

Log = Callable[[str], None]


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def _key(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()[:12]


def go_dir(root: Path | None = None) -> Path:
    return (root or cache_root()) / f"go-nethttp-{_key(GO_SOURCE)}"


def java_dir(root: Path | None = None) -> Path:
    return (root or cache_root()) / f"java-{_key(JAVA_SOURCE)}"


def go_binary(root: Path | None = None) -> Path | None:
    """The built Go client, or None when ``proxylab setup clients`` has not built this
    source yet."""
    path = go_dir(root) / "client"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def go_version(root: Path | None = None) -> str | None:
    """The toolchain the Go client was built with (its net/http is that release's)."""
    if go_binary(root) is None:
        return None
    try:
        return (go_dir(root) / "version").read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def java_classes(root: Path | None = None) -> Path | None:
    path = java_dir(root)
    return path if (path / f"{JAVA_CLASS}.class").is_file() else None


def java_version(root: Path | None = None) -> str | None:
    """The JDK version that runs the classes (``java.version``), asked of the program
    itself so the cell's runtime and the reported version are the same java."""
    classes = java_classes(root)
    java = shutil.which("java", path=SYSTEM_PATH)
    if classes is None or java is None:
        return None
    try:
        out = subprocess.run([java, "-cp", str(classes), JAVA_CLASS, "--version"],
                             capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out or "unknown"


def _run(argv: list[str], what: str, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                              env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"{what} failed: {exc}") from None
    if proc.returncode != 0:
        raise UserError(f"{what} failed:\n{(proc.stderr or proc.stdout).strip()[-1500:]}")
    return proc.stdout


def _apt(missing: list[str], log: Log) -> None:
    if os.geteuid() != 0:
        raise UserError(f"the matrix clients need {', '.join(missing)}: "
                        f"apt-get install {' '.join(missing)} (as root)")
    log(f"installing {' '.join(missing)} (apt)")
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
         f"apt-get install {' '.join(missing)}",
         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"})


def _replace(target: Path, build: Callable[[Path], None]) -> None:
    """Build into a sibling directory and rename it into place: an interrupted build
    never looks built."""
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        build(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_go(root: Path, log: Log) -> None:
    go = shutil.which("go", path=SYSTEM_PATH)
    if go is None:
        raise UserError("go is not installed (apt-get install golang-go)")
    if go_binary(root) is not None:
        log(f"go client: built ({go_version(root)}, {go_dir(root)})")
        return

    def build(tmp: Path) -> None:
        # No module, no network: GOFLAGS/GOPROXY so the standard library is all it sees.
        env = {"PATH": SYSTEM_PATH, "HOME": str(tmp), "GOCACHE": str(tmp / ".gocache"),
               "GOPATH": str(tmp / ".gopath"), "GOPROXY": "off", "GO111MODULE": "off",
               "CGO_ENABLED": "0"}
        shutil.copy(GO_SOURCE, tmp / GO_SOURCE.name)
        _run([go, "build", "-o", str(tmp / "client"), GO_SOURCE.name], "go build", env, tmp)
        version = _run([go, "env", "GOVERSION"], "go env GOVERSION", env).strip()
        (tmp / "version").write_text(version + "\n")
        for scratch in (".gocache", ".gopath"):
            shutil.rmtree(tmp / scratch, ignore_errors=True)

    _replace(go_dir(root), build)
    log(f"go client: built with {go_version(root)} in {go_dir(root)}")


def build_java(root: Path, log: Log) -> None:
    javac = shutil.which("javac", path=SYSTEM_PATH)
    if javac is None:
        raise UserError("javac is not installed (apt-get install default-jdk-headless)")
    if java_classes(root) is not None:
        log(f"java client: built ({java_dir(root)})")
        return
    _replace(java_dir(root), lambda tmp: _run(
        [javac, "-d", str(tmp), str(JAVA_SOURCE)], "javac", {"PATH": SYSTEM_PATH}))
    log(f"java client: built in {java_dir(root)} (runs on Java {java_version(root)})")


def pip_install(log: Log) -> None:
    """aiohttp and awscrt into the interpreter running proxylab: the Python cells run
    ``sys.executable``, so that is where they must be importable."""
    log(f"installing {' '.join(PIP_PACKAGES)} (pip, into {sys.prefix})")
    _run([sys.executable, "-m", "pip", "install", "-q", *PIP_PACKAGES], "pip install")


def setup(log: Log = print, root: Path | None = None, *, apt: bool = True,
          pip: bool = True) -> None:
    """Install what the matrix clients need, once: Debian's Go and JDK (apt, if missing),
    aiohttp and awscrt (pip), then build the Go and Java programs into the cache."""
    root = root or cache_root()
    with _setup_lock(root, log):  # one setup at a time per cache, as for Node
        missing = [pkg for pkg, cmd in APT_PACKAGES.items()
                   if shutil.which(cmd, path=SYSTEM_PATH) is None]
        if missing and apt:
            _apt(missing, log)
        if pip:
            pip_install(log)
        build_go(root, log)
        build_java(root, log)
