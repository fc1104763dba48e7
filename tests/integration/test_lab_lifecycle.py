"""Bring-up, tear-down and isolation of the local lab (issue 2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proxylab.labs import get_lab
from proxylab.labs.local import netns
from proxylab.labs.local import topology as t

pytestmark = pytest.mark.lab

LAB_RANGES = ("10.0.", "10.1.", "198.18.", "198.19.")


def host_links() -> list[dict]:
    return json.loads(
        subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
    )


def assert_gone(lab) -> None:
    for ns in lab.namespaces:
        assert not netns.exists(ns), f"namespace {ns} left"
        assert not (netns.NETNS_ETC_DIR / ns).exists(), f"/etc/netns/{ns} left"
    assert not lab.state.exists(), f"{lab.state} left"
    mounts = Path("/proc/mounts").read_text()
    assert not any(ns in mounts for ns in lab.namespaces), "a netns mount is left"
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert str(lab.state) not in ps, f"a lab process is still running:\n{ps}"


def test_isolation_no_lab_link_reaches_the_host():
    """Every veth of the lab has both ends inside lab namespaces, the host gains no
    link, address or route, and no lab route leads anywhere but into the lab."""
    before = {link["ifname"] for link in host_links()}
    lab = get_lab("local", name="iso")
    try:
        lab.up()
        assert {link["ifname"] for link in host_links()} == before
        host_addrs = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True).stdout
        host_routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
        for addr in (t.FUNCTION_IP, t.SQUID_IP, t.S3_IP, t.WEB_IP):
            assert addr not in host_addrs and addr not in host_routes
        ours = set(lab.namespaces)
        for ns in lab.namespaces:
            ids = json.loads(netns.ip("-n", ns, "-j", "netns", "list-id").stdout or "[]")
            names = {i["nsid"]: i.get("name") for i in ids}
            for link in json.loads(netns.ip("-n", ns, "-j", "-d", "link").stdout):
                kind = link.get("linkinfo", {}).get("info_kind")
                assert link["ifname"] == "lo" or kind == "veth", (
                    f"{ns}: unexpected link {link['ifname']}"
                )
                if kind == "veth" and "link_netnsid" in link:
                    peer_ns = names.get(link["link_netnsid"])
                    assert peer_ns in ours, f"{ns}/{link['ifname']} is linked to {peer_ns!r}"
    finally:
        assert lab.down() == []
    assert_gone(lab)


def test_down_after_sigkill_leaves_nothing():
    lab = get_lab("local", name="crash")
    lab.up()
    pids = [p for ns in lab.namespaces for p in netns.pids(ns)]
    assert len(pids) >= 6
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert lab.down() == []
    assert_gone(lab)
    assert lab.down() == []  # idempotent


def test_down_after_an_interrupted_up():
    """`lab up` killed half-way: `down` still finds what it made (lab.json is written
    before anything is created)."""
    # Same state directory (PROXYLAB_STATE) as the `status`/`down` below and get_lab here:
    # with it stripped, a set PROXYLAB_STATE sent `up` elsewhere and the test failed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxylab.cli", "lab", "up", "--name", "halfup"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lab = get_lab("local", name="halfup")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(netns.exists(ns) for ns in lab.namespaces):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # Half built is not up: `run` will rebuild it instead of failing every run.
    half = get_lab("local", name="halfup").describe()
    assert not half.up
    status = subprocess.run([sys.executable, "-m", "proxylab.cli", "lab", "status", "--name",
                             "halfup"], capture_output=True, text=True, timeout=60)
    assert status.returncode == 3 and "partial: missing" in status.stdout, status.stdout
    down = subprocess.run(
        [sys.executable, "-m", "proxylab.cli", "lab", "down", "--name", "halfup"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 0, down.stderr
    assert_gone(lab)


def test_up_is_idempotent_and_down_is_repeatable():
    lab = get_lab("local", name="twice")
    try:
        first = lab.up()
        pids = {s.name: s.detail for s in first.services}
        second = lab.up()
        assert {s.name: s.detail for s in second.services} == pids  # kept, not restarted
    finally:
        assert lab.down() == []
        assert lab.down() == []
    assert_gone(lab)


def test_web_site_name_is_configurable_and_remembered():
    lab = get_lab("local", name="webhost", web_host="intranet.example.com")
    try:
        lab.up()
        again = get_lab("local", name="webhost")  # e.g. a later `lab exec`
        assert again.describe().resources["web_url"] == "https://intranet.example.com"
        mark = again.mark()
        proc = again.run(
            "lambda",
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-m",
                "5",
                "-x",
                f"http://{t.SQUID_IP}:{t.SQUID_PORT}",
                "https://intranet.example.com/",
            ],
            capture=True,
            timeout_s=20,
        )
        assert proc.stdout == "200", proc.stderr
        lines = again.collect(mark).files["proxy_access.log"]
        assert any("CONNECT intranet.example.com:443" in line for line in lines), lines
    finally:
        assert lab.down() == []


def test_a_service_that_cannot_start_is_named_with_its_log_and_nothing_is_left(monkeypatch):
    from proxylab.labs import LabError
    from proxylab.labs.local import squid

    real = squid.render
    monkeypatch.setattr(squid, "render", lambda *a: real(*a) + "no_such_directive on\n")
    lab = get_lab("local", name="broken")
    with pytest.raises(LabError) as err:
        lab.up()
    message = str(err.value)
    assert "squid" in message and "no_such_directive" in message, message
    assert_gone(lab)
