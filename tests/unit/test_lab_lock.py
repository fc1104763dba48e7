"""One run at a time per lab (issue 15): a second holder refuses or waits, a crashed
holder leaves no stale lock, and `lab down` stops the holder first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from proxylab.labs.base import LabError
from proxylab.labs.lock import lab_lock, lock_path, stop_holder

HOLD = textwrap.dedent("""\
    import signal, sys, time
    from proxylab.labs.lock import lab_lock
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))
    with lab_lock("fake", sys.argv[1]):
        print("held", flush=True)
        time.sleep(30)
""")


@pytest.fixture
def holder(tmp_path, monkeypatch):
    monkeypatch.setenv("PROXYLAB_STATE", str(tmp_path))
    procs = []

    def start(name: str) -> subprocess.Popen[str]:
        p = subprocess.Popen([sys.executable, "-c", HOLD, name], stdout=subprocess.PIPE,
                             text=True, env={**__import__("os").environ})
        assert p.stdout.readline().strip() == "held"
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait(timeout=10)


def test_a_second_run_refuses_naming_the_holder(holder):
    p = holder("one")
    with pytest.raises(LabError, match=rf"lab 'one' is busy: .*pid {p.pid}.*--wait"):
        with lab_lock("fake", "one"):
            pass
    with lab_lock("fake", "other"):  # another lab is free
        pass


def test_waiting_queues_behind_the_holder(holder):
    p = holder("one")
    said: list[str] = []
    t0 = time.monotonic()
    import threading

    threading.Timer(0.5, p.kill).start()
    with lab_lock("fake", "one", wait=True, say=said.append):
        assert time.monotonic() - t0 >= 0.4
    assert said and "waiting" in said[0]


def test_a_killed_holder_leaves_no_stale_lock(holder):
    p = holder("one")
    p.kill()
    p.wait(timeout=10)
    assert lock_path("fake", "one").exists()
    with lab_lock("fake", "one"):
        pass


def test_stop_holder_asks_the_run_to_stop_and_waits(holder):
    p = holder("one")
    assert stop_holder("fake", "one", timeout_s=10) == p.pid
    assert p.wait(timeout=10) == 7  # it got SIGTERM and cleaned up its own way
    assert stop_holder("fake", "one") is None
