"""SIGTERM and SIGHUP mid-invocation clean up as Ctrl-C does (issue 15): the run is
recorded as failed with the evidence gathered so far, the function is reaped, the
lab that `run` started is brought down, and nothing is left in /tmp."""

from __future__ import annotations

import glob
import signal
import subprocess
import sys
import time

import pytest

from proxylab.capture import read_capture
from proxylab.labs import get_lab

pytestmark = pytest.mark.lab

CATALOG = """\
catalog: slow
title: a handler that takes its time
scenarios:
  - id: slow
    function: private
    code: slow.py
    handler: slow.handler
    timeout_s: 60
    env: {MARKER: "@MARKER@"}
"""

HANDLER = """\
import os, pathlib, time
def handler(event, context):
    pathlib.Path(os.environ["MARKER"]).write_text("working")
    time.sleep(50)
"""


def _tmp_left(mine: str = "") -> set[str]:
    """Invocation temp dirs (only those whose spec names ``mine``: other test runs on
    the machine may be invoking at the same moment)."""
    out = set()
    for d in glob.glob("/tmp/proxylab-invoke-*"):
        try:
            spec = open(f"{d}/spec.json").read()
        except OSError:
            spec = ""
        if mine in spec:
            out.add(d)
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_invocation_records_a_failed_run_and_leaves_nothing(tmp_path, sig):
    lab_name = f"sig{int(sig)}"
    marker = tmp_path / "started"
    (tmp_path / "slow.yaml").write_text(CATALOG.replace("@MARKER@", str(marker)))
    (tmp_path / "slow.py").write_text(HANDLER)
    runs = tmp_path / "runs"
    before = _tmp_left()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxylab.cli", "run", "--catalog", str(tmp_path / "slow.yaml"),
         "--name", lab_name, "--runs-dir", str(runs)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not marker.exists() and proc.poll() is None:
            time.sleep(0.1)
        assert marker.exists(), "the handler never started: " + (proc.stdout.read() or "")
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        lab = get_lab("local", name=lab_name)
        still_up = lab.describe().up
        left = lab.down()
    expected_rc = 130 if sig == signal.SIGINT else 128 + int(sig)
    assert proc.returncode == expected_rc, out
    assert not still_up, "the lab that run started must be down"
    assert left == []
    (run_dir,) = list(runs.iterdir())
    rec = read_capture(run_dir).record
    assert rec.status == "failed" and rec.error == "interrupted during invoke", rec.error
    assert _tmp_left(str(tmp_path)) <= before, "invocation temp files left behind"


def test_ctrl_c_with_keep_lab_still_reaps_the_function(tmp_path):
    lab_name = "sigkeep"
    marker = tmp_path / "started"
    (tmp_path / "slow.yaml").write_text(CATALOG.replace("@MARKER@", str(marker)))
    (tmp_path / "slow.py").write_text(HANDLER)
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxylab.cli", "run", "--catalog", str(tmp_path / "slow.yaml"),
         "--name", lab_name, "--runs-dir", str(tmp_path / "runs"), "--keep-lab"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lab = get_lab("local", name=lab_name)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not marker.exists() and proc.poll() is None:
            time.sleep(0.1)
        assert marker.exists(), proc.stdout.read() if proc.poll() is not None else "no start"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert lab.describe().up, "--keep-lab keeps the lab"
        pids = subprocess.run(["ip", "netns", "pids", lab.ns("lambda")], capture_output=True,
                              text=True, timeout=10).stdout.split()
        assert pids == [], f"processes left in the function's subnet: {pids}\n{out}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert lab.down() == []


def test_a_second_run_on_a_busy_lab_refuses_and_lab_down_stops_the_first(tmp_path):
    lab_name = "sigbusy"
    marker = tmp_path / "started"
    (tmp_path / "slow.yaml").write_text(CATALOG.replace("@MARKER@", str(marker)))
    (tmp_path / "slow.py").write_text(HANDLER)
    cmd = [sys.executable, "-m", "proxylab.cli", "run", "--catalog", str(tmp_path / "slow.yaml"),
           "--name", lab_name, "--runs-dir", str(tmp_path / "runs")]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not marker.exists() and first.poll() is None:
            time.sleep(0.1)
        assert marker.exists()
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "is busy" in second.stderr, second.stderr
        down = subprocess.run([sys.executable, "-m", "proxylab.cli", "lab", "down", "--name",
                               lab_name], capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
        assert "stopped the run" in down.stderr
        first.communicate(timeout=60)
        assert first.returncode == 128 + int(signal.SIGTERM)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
        assert get_lab("local", name=lab_name).down() == []
    (run_dir,) = list((tmp_path / "runs").iterdir())  # only the first run made a capture
    assert read_capture(run_dir).record.status == "failed"
