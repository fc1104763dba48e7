"""The Squid 6 root: made once, found again, never half-used (no network here:
the build itself is exercised by `make test`'s `squid6` step and the lab tests)."""

from __future__ import annotations

import subprocess

import pytest

from proxylab.labs.base import LabError
from proxylab.labs.local import squid_root


def fake_root(path):
    (path / "usr/sbin").mkdir(parents=True)
    (path / "usr/sbin/squid").symlink_to("/etc/alternatives/squid")  # absolute, as Debian's
    (path / squid_root.MARKER).write_text("{}")
    return path


def test_a_complete_root_is_ready_and_not_made_again(monkeypatch, tmp_path):
    root = fake_root(tmp_path / "root")
    monkeypatch.setenv("PROXYLAB_SQUID6_ROOT", str(root))
    said: list[str] = []
    monkeypatch.setattr(squid_root.shutil, "which", lambda _: pytest.fail("must not build"))
    assert squid_root.ready() and squid_root.create(say=said.append) == root
    assert "already present" in said[0]


def test_a_root_without_its_marker_is_not_ready(monkeypatch, tmp_path):
    root = fake_root(tmp_path / "root")
    (root / squid_root.MARKER).unlink()  # an interrupted build never writes it
    monkeypatch.setenv("PROXYLAB_SQUID6_ROOT", str(root))
    assert not squid_root.ready()
    with pytest.raises(LabError, match="proxylab lab setup --squid 6"):
        squid_root.wrap(["/usr/sbin/squid", "-v"], tmp_path)


def test_wrap_mounts_privately_then_chroots(monkeypatch, tmp_path):
    root = fake_root(tmp_path / "root")
    monkeypatch.setenv("PROXYLAB_SQUID6_ROOT", str(root))
    argv = squid_root.wrap(["/usr/sbin/squid", "-N"], tmp_path / "state")
    assert argv[:5] == ["unshare", "--mount", "--propagation", "private", "--"]
    assert argv[-2:] == ["/usr/sbin/squid", "-N"]
    # The script runs with the same positional arguments sh would get.
    script = argv[7].replace("mount ", "echo mount ").replace("exec chroot", "echo chroot")
    out = subprocess.run(["sh", "-c", script, *argv[8:]], capture_output=True, text=True)
    assert out.stdout.splitlines() == [
        f"mount --bind {tmp_path / 'state'} {root}/lab",
        f"mount -t tmpfs -o mode=1777,size=64m shm {root}/dev/shm",
        f"chroot {root} /usr/sbin/squid -N",
    ]


def test_mirror_is_the_one_apt_uses():
    assert squid_root.mirror().startswith("http")
