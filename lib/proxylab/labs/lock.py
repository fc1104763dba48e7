"""One run at a time per lab: an advisory ``flock`` beside the lab's state.

Why: two ``proxylab run`` on one lab interleave layout changes (restarting dnsmasq
and Squid under the other run's invocation) and fight over the Runtime API port,
and the loser records the winner's evidence as its own, marked ``ok``. The lock is
held for a whole batch, since a batch's runs each apply their own layout. A second
run refuses at once, naming the holder, or (``wait=True``) queues behind it.
``lab down`` asks the holder to stop first (:func:`stop_holder`), so a batch never
starts its next run into a teardown.

The kernel drops an ``flock`` when its holder dies, so a crashed run leaves no
stale lock; the pid written inside is only for messages.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from proxylab.labs.base import LabError, state_root


def lock_path(backend: str, name: str) -> Path:
    return state_root() / "locks" / f"{backend}-{name}.lock"


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def lab_lock(backend: str, name: str, wait: bool = False,
             say: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold lab ``name``'s run lock for the ``with`` block (see the module docstring)."""
    path = lock_path(backend, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(path)
            who = f"another proxylab run (pid {pid})" if pid else "another proxylab run"
            if not wait:
                raise LabError(f"lab {name!r} is busy: {who} is using it. Wait for it to "
                               "finish, pass --wait to queue behind it, or use another lab "
                               "(--name)") from None
            say(f"lab {name!r} is busy ({who}); waiting for it ...")
            fcntl.flock(fd, fcntl.LOCK_EX)  # Ctrl-C still interrupts the wait
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def stop_holder(backend: str, name: str, timeout_s: float = 60.0) -> int | None:
    """If a run holds the lab, ask it to stop (SIGTERM: it records its run as failed
    and cleans up) and wait until it has let go. Returns the pid asked, or None."""
    path = lock_path(backend, name)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None  # nobody holds it
        except BlockingIOError:
            pass
        pid = _holder(path)
        if pid is None or pid == os.getpid():
            return None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return pid
            except BlockingIOError:
                time.sleep(0.1)
        raise LabError(f"the run holding lab {name!r} (pid {pid}) did not stop within "
                       f"{timeout_s:.0f} s; stop it (kill {pid}) and run `lab down` again")
    finally:
        os.close(fd)
