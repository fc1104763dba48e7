"""Where audit input comes from: files, gzip files, directories, globs and stdin.

Rotated Squid logs arrive as ``access.log``, ``access.log.1``, ``access.log.2.gz``
...; users point at the directory or a glob. Gzip is detected from the magic bytes,
not the file name, because rotation tools are inconsistent about suffixes. Input is
read in newline-aligned byte chunks so memory stays bounded by the chunk size
whatever the file size.
"""

from __future__ import annotations

import glob
import gzip
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from proxylab.errors import UserError

GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"
_STEP = 1 << 20
_GZIP_STEP = 32 << 10


@dataclass(frozen=True)
class Source:
    """One input stream: a file path, or ``-`` for standard input."""

    name: str
    size: int | None  # bytes on disk (compressed size for gzip); None for stdin


def expand_paths(paths: list[str]) -> list[Source]:
    """Resolve files, directories (their regular files) and glob patterns, in a stable order.

    Raises UserError naming the argument when it matches nothing, so a typo is not
    mistaken for an empty log.
    """
    out: list[Source] = []
    seen: set[str] = set()
    for arg in paths:
        if arg == STDIN:
            out.append(Source(STDIN, None))
            continue
        p = Path(arg)
        if p.is_dir():
            found = sorted(
                str(c) for c in p.iterdir() if c.is_file() and not c.name.startswith(".")
            )
        elif p.exists():
            found = [str(p)]
        else:
            found = sorted(f for f in glob.glob(arg) if os.path.isfile(f))
            if not found:
                raise UserError(f"{arg}: no such file, directory or matching glob")
        for f in found:
            if f not in seen:
                seen.add(f)
                out.append(Source(f, os.path.getsize(f)))
    return out


def open_source(src: Source) -> BinaryIO:
    """Open a source for binary reading, transparently gunzipping when it starts with gzip magic."""
    raw: BinaryIO
    if src.name == STDIN:
        raw = sys.stdin.buffer  # type: ignore[assignment]
        head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    else:
        try:
            raw = open(src.name, "rb")  # noqa: SIM115 - returned to caller
        except OSError as exc:
            raise UserError(f"{src.name}: cannot open: {exc.strerror}") from exc
        head = raw.read(2)
        raw.seek(0)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def iter_chunks(
    fh: BinaryIO, chunk_bytes: int, errors: list[str] | None = None
) -> Iterator[bytearray]:
    """Yield bytearrays that each end on a newline (the last one gets one appended).

    A read error mid-stream (a truncated gzip, an I/O error) ends the stream: the
    data read so far is still yielded and the error text appended to ``errors``,
    because a truncated rotated log should not throw away the lines it does hold.
    """
    carry = b""
    while True:
        buf = bytearray(chunk_bytes + len(carry))
        buf[: len(carry)] = carry
        n, failed = _read_full(fh, memoryview(buf)[len(carry) :])
        total = len(carry) + n
        if failed is not None or n == 0:
            del buf[total:]
            if failed is not None and errors is not None:
                errors.append(failed)
            if total:
                if buf[-1:] != b"\n":
                    buf += b"\n"
                yield buf
            return
        cut = buf.rfind(b"\n", 0, total)
        if cut < 0:  # a single line longer than a chunk: keep growing
            carry = bytes(buf[:total])
            continue
        carry = bytes(buf[cut + 1 : total])
        del buf[cut + 1 :]
        yield buf


def _read_full(fh: BinaryIO, view: memoryview) -> tuple[int, str | None]:
    """readinto until the view is full or EOF (gzip and pipes return short reads).

    Returns the bytes read and, when the stream broke (truncated or corrupt gzip,
    I/O error), the error text; bytes read before the break are kept.
    """
    got = 0
    step = _GZIP_STEP if isinstance(fh, gzip.GzipFile) else _STEP
    while got < len(view):
        try:
            # Small steps: a gzip reader that hits a truncated end raises and drops what
            # the failing call had decompressed, so lose at most one step.
            n = fh.readinto(view[got : got + step])  # type: ignore[attr-defined]
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            return got, f"{type(exc).__name__}: {exc}"
        if not n:
            break
        got += n
    return got, None
