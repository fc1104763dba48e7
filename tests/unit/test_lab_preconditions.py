"""`lab up` fails at once, saying what is needed, where the local lab cannot run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proxylab.labs import LabError, get_lab
from proxylab.labs.local import netns


def test_without_root_up_says_root_is_needed(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        get_lab("local", name="noroot").up()


def test_without_network_namespaces_up_says_so(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    real_exists = Path.exists
    monkeypatch.setattr(
        Path, "exists", lambda p: False if str(p) == "/proc/self/ns/net" else real_exists(p)
    )
    with pytest.raises(LabError, match="network namespaces"):
        netns.check_support()


def test_bad_lab_name_is_refused():
    with pytest.raises(LabError, match="lab name"):
        get_lab("local", name="Bad Name!")


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody"
)
def test_cli_as_an_unprivileged_user_fails_fast_with_a_hint():
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "proxylab.cli",
            "lab",
            "up",
            "--name",
            "nobody",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "PROXYLAB_STATE": "/tmp/proxylab-nobody-state"},
    )
    assert proc.returncode != 0
    assert "needs root" in proc.stderr and "Traceback" not in proc.stderr
