"""Start the lab's long-running processes detached, and stop every one of them.

`lab up` returns while Squid, the resolvers and the fronts keep running, so
nothing holds them but their namespace. That is also how `down` finds them
after a crash: every process of a namespace is listed by ``ip netns pids``,
whoever started it, so a SIGKILLed lab or a user's stray `lab exec` are reaped
the same way.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

from proxylab.labs.local import netns

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing of the host's proxies or CA bundles."""
    env = {"PATH": BASE_PATH, "LANG": "C.UTF-8", "HOME": "/root" if os.geteuid() == 0 else "/tmp"}
    env.update(extra or {})
    return env


def spawn(ns: str, argv: list[str], log_file: Path, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` inside ``ns`` in its own session, output to ``log_file``."""
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            netns.exec_prefix(ns) + argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env or clean_env(),
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def alive(pid: int) -> bool:
    """Running, and not a zombie: a daemon whose parent (`lab up`) has exited is
    reaped by init in its own time, but it is gone for our purposes once it exits."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our own child: reap it now
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def stop_namespaces(namespaces: list[str], grace_s: float = 1.0) -> list[str]:
    """Stop every process in the given namespaces, all at once: SIGTERM (SIGKILL for
    Squid, see :func:`kill_squid`), then SIGKILL what is left after ``grace_s``.
    Returns what is still alive at the end (empty when clean)."""
    pids = {p: ns for ns in namespaces for p in netns.pids(ns)}
    for pid in pids:
        _signal(pid, signal.SIGKILL if _comm(pid) == "squid" else signal.SIGTERM)
    _wait_gone(list(pids), grace_s)
    for pid in pids:
        if alive(pid):
            _signal(pid, signal.SIGKILL)
    _wait_gone(list(pids), 2.0)
    left = [f"process {p} ({_comm(p)}) in {ns}" for p, ns in pids.items() if alive(p)]
    left += [
        f"process {p} ({_comm(p)}) in {ns}"
        for ns in namespaces
        for p in netns.pids(ns)
        if p not in pids
    ]
    return left


def _wait_gone(pids: list[int], limit_s: float) -> None:
    """Until none of ``pids`` is alive, bounded: woken by each process's pidfd the
    moment it exits (polling every 20 ms cost every stop ~20 ms)."""
    deadline = time.monotonic() + limit_s
    fds: dict[int, int] = {}
    try:
        for pid in pids:
            try:
                fds[pid] = os.pidfd_open(pid)
            except (AttributeError, OSError):  # gone already, or no pidfd: poll it
                pass
        while time.monotonic() < deadline:
            left = [p for p in pids if alive(p)]
            if not left:
                return
            waiting = [fds[p] for p in left if p in fds]
            timeout = min(0.02, max(0.0, deadline - time.monotonic()))
            if len(waiting) == len(left):
                timeout = max(0.0, deadline - time.monotonic())
            if waiting:
                select.select(waiting[:1], [], [], timeout)
            else:
                time.sleep(timeout)
    finally:
        for fd in fds.values():
            os.close(fd)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def kill_squid(pid: int) -> None:
    """Stop a lab Squid at once (SIGKILL to its process group: Squid and its helpers)
    and reap it.

    Squid's graceful stop (SIGINT/SIGTERM) takes ``shutdown_lifetime`` + 1 s at
    least (its ``SquidShutdown`` event), measured 1.7-1.9 s with a zero lifetime,
    and what it would still write then belongs to no capture: the lab stops or
    replaces its Squid only between runs (a run's evidence is collected once the
    access log has been quiet, the next run's mark is taken after ``apply``) or in
    ``down``, which removes the log with the state directory. ``down`` used to
    SIGKILL it after its 1 s grace anyway.
    """
    try:
        os.killpg(pid, signal.SIGKILL)  # spawned in its own session: pgid == pid
    except (ProcessLookupError, PermissionError):
        _signal(pid, signal.SIGKILL)
    _wait_gone([pid], 2.0)


def terminate(pid: int, sig: int = signal.SIGTERM, grace_s: float = 2.0) -> None:
    """Stop one process we started (``sig``, then SIGKILL) and reap it."""
    _signal(pid, sig)
    _wait_gone([pid], grace_s)
    if alive(pid):
        _signal(pid, signal.SIGKILL)
        _wait_gone([pid], 2.0)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
