"""Squid 6 from Debian 13's own package, in a root of its own.

Why: the seed's proxy behaved like Squid >= 6.3 (a CONNECT to an unresolvable name
is ``TCP_TUNNEL/503 … HIER_NONE/-``); Debian 12's Squid 5.7 answers ``NONE_NONE/500``
(Squid bug 5294). Debian 13's squid package needs Debian 13's libc, so it cannot be
installed on a Debian 12 host. Instead a minimal Debian 13 root holding squid and
what it depends on is made once with Debian's own ``mmdebstrap`` and cached outside
the checkout (``/var/cache/proxylab/``); the lab runs Squid chrooted into it, with
the host's libraries untouched.

Creating the root is one step, safe to repeat and to interrupt: it is built in a
temporary directory beside the final one and renamed into place only when complete
(a marker file is written last), under a lock so two builds never race.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from proxylab.labs.base import LabError

SUITE = "trixie"  # Debian 13: squid 6.13
MIRROR_DEFAULT = "http://deb.debian.org/debian"
PACKAGES = ("squid",)
MARKER = ".proxylab-root.json"
# Where the lab's squid state directory is bind-mounted inside the root.
LAB_MOUNT = "/lab"
SETUP_COMMAND = "proxylab lab setup --squid 6"
BUILD_TIMEOUT_S = 900


def root_dir() -> Path:
    """The cached root; ``PROXYLAB_SQUID6_ROOT`` moves it (tests, other disks)."""
    return Path(os.environ.get("PROXYLAB_SQUID6_ROOT", "/var/cache/proxylab/squid6-trixie"))


def ready(root: Path | None = None) -> bool:
    root = root or root_dir()
    # usr/sbin/squid is an absolute symlink into the root's /etc/alternatives.
    return (root / MARKER).is_file() and os.path.lexists(root / "usr/sbin/squid")


def missing_message() -> str:
    return (
        f"Squid 6 is not set up on this machine (no Debian 13 root at {root_dir()}): "
        f"run `{SETUP_COMMAND}` once (or `make squid6`; about 30 s, fetches Debian 13's "
        "squid package and its dependencies, ~40 MB), or use Squid 5 with `--squid 5`"
    )


def mirror() -> str:
    """Debian's mirror as this machine's apt knows it, so the root comes from the
    same registry the host's packages do."""
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("URIs:"):
                for uri in line.split()[1:]:
                    if uri.rstrip("/").endswith("/debian"):
                        return uri
    return MIRROR_DEFAULT


def create(say: Callable[[str], None] = print, force: bool = False) -> Path:
    """Make the root if it is missing (idempotent); returns its path."""
    root = root_dir()
    if ready(root) and not force:
        say(f"Squid 6 root already present at {root}")
        return root
    if os.geteuid() != 0:
        raise LabError(f"creating the Squid 6 root needs root: run `sudo {SETUP_COMMAND}`")
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise LabError(
            "`mmdebstrap` is not installed: `apt-get install mmdebstrap` (Debian's own tool "
            "for making a Debian root), or run `make squid6`, which installs it"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready(root) and not force:  # another process built it while we waited
            return root
        for stale in root.parent.glob(f".{root.name}.tmp-*"):
            say(f"removing an unfinished earlier build: {stale}")
            _remove(stale)
        tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
        src = mirror()
        say(
            f"making a Debian 13 ({SUITE}) root with {', '.join(PACKAGES)} at {root} "
            f"from {src} (one time, ~40 MB download)"
        )
        started = time.monotonic()
        argv = [
            tool,
            "--variant=essential",
            f"--include={','.join(PACKAGES)}",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            SUITE,
            str(tmp),
            src,
        ]
        try:
            _stream(argv, say)
            (tmp / LAB_MOUNT.lstrip("/")).mkdir(exist_ok=True)
            version = _squid_version(tmp)
            (tmp / MARKER).write_text(
                json.dumps({"suite": SUITE, "mirror": src, "squid": version, "made": time.time()})
            )
            if root.exists():
                _remove(root)
            tmp.rename(root)
        except BaseException:
            _remove(tmp)
            raise
        say(f"Squid {version} ready in {time.monotonic() - started:.0f}s at {root}")
        return root


def _stream(argv: list[str], say: Callable[[str], None]) -> None:
    """Run mmdebstrap, passing its progress lines on; its last lines on failure."""
    tail: list[str] = []
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    try:
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-15:]
            if line.startswith("I: "):
                say("  " + line[3:])
            if time.monotonic() > deadline:
                tail.append(f"(stopped after {BUILD_TIMEOUT_S} s)")
                break
    finally:
        if proc.poll() is None:
            # Interrupted or too slow: let mmdebstrap undo its own mounts first.
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    rc = proc.wait()
    if rc != 0:
        raise LabError(
            f"making the Squid 6 root failed (mmdebstrap exit {rc}):\n" + "\n".join(tail)
        )


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix) or point == prefix[:-1]:
            out.append(point)
    return sorted(out, key=len, reverse=True)


def _remove(path: Path) -> None:
    """Delete an (unfinished) root, first undoing any mount a killed build left in
    it (its /proc, /sys, /dev/pts): never delete through a mount point."""
    if not path.exists():
        return
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)
    left = _mounts_under(path)
    if left:
        raise LabError(f"cannot remove {path}: still mounted there: {', '.join(left)}")
    shutil.rmtree(path)


def _squid_version(root: Path) -> str:
    out = subprocess.run(
        ["chroot", str(root), "/usr/sbin/squid", "-v"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    first = (out.stdout.splitlines() or [""])[0]
    return first.rsplit(" ", 1)[-1] if "Version" in first else "unknown"


def wrap(argv: list[str], state_dir: Path) -> list[str]:
    """``argv`` run chrooted into the root, with ``state_dir`` visible at
    :data:`LAB_MOUNT`. The bind mount lives in a private mount namespace of that
    process alone, so it never appears on the host and vanishes with the process;
    every ``exec`` keeps one pid, so the pid returned by spawning this is Squid's.
    """
    root = root_dir()
    if not ready(root):
        raise LabError(missing_message())
    # A private /dev/shm too: Squid's shared-memory segments have fixed names, so
    # two labs' Squids must not share one.
    script = (
        'mount --bind "$1" "$0$2" && mount -t tmpfs -o mode=1777,size=64m shm "$0/dev/shm" '
        '&& shift 2 && exec chroot "$0" "$@"'
    )
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        str(root),
        str(state_dir),
        LAB_MOUNT,
        *argv,
    ]
