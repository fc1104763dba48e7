"""The lab's password file for Squid's ``basic_ncsa_auth`` helper.

Lab-only accounts from a scenario's ``proxy.users``; hashed with SHA-512 crypt
(``$6$``), which both Squids' helper checks through the system's ``crypt()``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from proxylab.labs.base import LabError


def hash_password(password: str) -> str:
    try:
        proc = subprocess.run(
            ["openssl", "passwd", "-6", "-stdin"],
            input=password,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except FileNotFoundError:
        raise LabError("`openssl` is not installed: apt-get install openssl") from None
    if proc.returncode != 0:
        raise LabError(f"openssl passwd failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def write_passwd(path: Path, users: tuple[tuple[str, str], ...]) -> None:
    """``user:hash`` lines, readable by Squid's user only."""
    text = "".join(f"{name}:{hash_password(pw)}\n" for name, pw in users)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
