"""Network-namespace primitives: the only module that runs `ip`.

Why `ip` and not pyroute2: iproute2 is on every Linux box, its error messages are
what users can search for, and every command we run can be shown to the user to
replay by hand.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from proxylab.labs.base import LabError

NETNS_RUN_DIR = Path("/run/netns")
NETNS_ETC_DIR = Path("/etc/netns")
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def ip(*args: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """Run one `ip` command with a clean environment and a timeout."""
    proc = subprocess.run(
        ["ip", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
    )
    if check and proc.returncode != 0:
        raise LabError(
            f"`ip {' '.join(args)}` failed: {proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc


def check_support() -> None:
    """Fail at once, with what is needed, where the lab cannot work at all."""
    if os.geteuid() != 0:
        raise LabError(
            "the local lab needs root (it creates network namespaces): "
            "run as root, e.g. `sudo .venv/bin/proxylab lab up`"
        )
    if shutil.which("ip") is None:
        raise LabError(
            "`ip` (iproute2) is not installed: `apt-get install iproute2` or `make setup`"
        )
    if not Path("/proc/self/ns/net").exists():
        raise LabError(
            "this kernel has no network namespaces (CONFIG_NET_NS); the local lab cannot run"
        )


def exists(ns: str) -> bool:
    return (NETNS_RUN_DIR / ns).exists()


def list_namespaces() -> list[str]:
    out = ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def add(ns: str) -> None:
    if not exists(ns):
        ip("netns", "add", ns)
    ip("-n", ns, "link", "set", "lo", "up")


def delete(ns: str) -> None:
    if exists(ns):
        ip("netns", "delete", ns, check=False)
    etc = NETNS_ETC_DIR / ns
    if etc.exists():
        shutil.rmtree(etc, ignore_errors=True)


def pids(ns: str) -> list[int]:
    """Every process whose network namespace is ``ns`` (however it got there)."""
    if not exists(ns):
        return []
    out = ip("netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def veth(ns_a: str, dev_a: str, ns_b: str, dev_b: str) -> None:
    """A veth pair created directly inside the two lab namespaces: neither end ever
    exists in the host namespace, so no lab link can touch the host network."""
    ip("link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b)
    ip("-n", ns_a, "link", "set", dev_a, "up")
    ip("-n", ns_b, "link", "set", dev_b, "up")


def write_resolv_conf(ns: str, nameserver: str) -> None:
    """`ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf
    for the processes it starts, so each place has its own VPC resolver."""
    d = NETNS_ETC_DIR / ns
    d.mkdir(parents=True, exist_ok=True)
    (d / "resolv.conf").write_text(f"nameserver {nameserver}\noptions timeout:2 attempts:2\n")
    (d / "hosts").write_text("127.0.0.1 localhost\n")


def exec_prefix(ns: str) -> list[str]:
    return ["ip", "netns", "exec", ns]


_libc = ctypes.CDLL(None, use_errno=True)


def call_in(ns: str, fn: Callable[[], T], timeout: float = 10) -> T:
    """Run ``fn`` in a fresh thread that has joined ``ns``.

    A network namespace is per thread, so sockets that ``fn`` opens live in the
    lab, never in the host namespace; the calling thread is untouched. Used for
    health checks, which would otherwise cost a process start each.
    """
    result: dict[str, object] = {}

    def target() -> None:
        try:
            fd = os.open(NETNS_RUN_DIR / ns, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            result["error"] = exc

    t = threading.Thread(target=target, name=f"netns-{ns}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"call in namespace {ns} did not finish within {timeout}s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]  # type: ignore[return-value]
