"""Where audit input comes from: files, gzip files, directories, globs and stdin.

Rotated Squid logs arrive as ``access.log``, ``access.log.1``, ``access.log.2.gz``
...; users point at the directory or a glob. Gzip is detected from the magic bytes,
not the file name, because rotation tools are inconsistent about suffixes. Input is
read in newline-aligned byte chunks so memory stays bounded by the chunk size
whatever the file size.
"""

from __future__ import annotations

import glob
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from proxylab.errors import UserError

try:  # ISA-L's inflate: 2.3x zlib's on these logs (0.13 vs 0.31 CPU-s per million lines)
    from isal import isal_zlib as _inflate

    INFLATE = "isal"
    _INFLATE_ERRORS: tuple[type[Exception], ...] = (_inflate.error, zlib.error)
except ImportError:  # a dependency, but the audit still reads gzip without it
    _inflate = zlib  # type: ignore[assignment]
    INFLATE = "zlib"
    _INFLATE_ERRORS = (zlib.error,)

GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"


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
        return GzipStream(raw)  # type: ignore[return-value]
    return raw


class GzipStream:
    """Minimal gzip reader built on zlib's interface (ISA-L's when installed, see
    :data:`INFLATE`), for truncation-tolerant streaming.

    ``gzip.GzipFile`` raises at a truncated end and drops whatever the failing call
    had decompressed; here everything decompressed before the break is returned and
    the error is raised on the *next* read. It also reads concatenated members (as
    ``cat a.gz b.gz`` or some rotators produce) and decompresses in large steps, so
    the reading thread takes the GIL rarely.
    """

    def __init__(self, raw: BinaryIO, read_size: int = 1 << 20) -> None:
        self.fileobj = raw
        self._read_size = read_size
        self._d = _inflate.decompressobj(31)
        self._pending = memoryview(b"")
        self._member_started = False
        self._eof = False
        self._error: Exception | None = None

    def readinto(self, view: memoryview) -> int:
        got = 0
        while got < len(view):
            if len(self._pending):
                take = min(len(self._pending), len(view) - got)
                view[got : got + take] = self._pending[:take]
                self._pending = self._pending[take:]
                got += take
                continue
            if self._error is not None:
                if got:
                    return got
                err, self._error = self._error, None
                self._eof = True
                raise err
            if self._eof:
                break
            self._fill()
        return got

    def _fill(self) -> None:
        comp = self.fileobj.read(self._read_size)
        if not comp:
            if self._member_started and not self._d.eof:
                self._error = EOFError(
                    "Compressed file ended before the end-of-stream marker was reached"
                )
            else:
                self._eof = True
            return
        out = bytearray()
        while comp:
            try:
                out += self._d.decompress(comp)
            except _INFLATE_ERRORS as exc:
                self._error = exc
                break
            self._member_started = True
            if self._d.eof:
                comp = self._d.unused_data
                self._d = _inflate.decompressobj(31)
                self._member_started = False
                if comp and not comp.startswith(GZIP_MAGIC[:1]):
                    break  # trailing garbage after the last member: ignore, as gzip(1) does
            else:
                comp = b""
        self._pending = memoryview(bytes(out))

    def close(self) -> None:
        self.fileobj.close()


# A line longer than MAX_LINE_BYTES and the chunk is cut to CUT_KEEP bytes plus
# CUT_MARK (non-ASCII, so the grammar calls the line malformed) and the rest of it is
# skipped unread into memory: a 200 MB NUL-filled file (left after a crash) or
# /dev/zero keeps the reader's memory at one chunk. Real Squid lines are far shorter
# (URLs <= 8 KiB, request headers 64 KiB).
MAX_LINE_BYTES = 1 << 20
CUT_KEEP = 300
CUT_MARK = "\u2026".encode()


def iter_chunks(
    fh: BinaryIO, chunk_bytes: int, errors: list[str] | None = None
) -> Iterator[bytes]:
    """Yield fresh ``bytes`` objects that each end on a newline (the last gets one added).

    Reads into one reused buffer (no per-chunk page faults, one copy per chunk); the
    partial last line is carried to the next chunk. Each yielded object is new and
    owned by the consumer (the native parser writes into it, see ``parse``). A line
    longer than the chunk grows the buffer up to :data:`MAX_LINE_BYTES`; a longer one
    is cut (see :data:`CUT_KEEP`).

    A read error mid-stream (a truncated gzip, an I/O error) ends the stream: the
    data read so far is still yielded and the error text appended to ``errors``,
    because a truncated rotated log should not throw away the lines it does hold.
    """
    buf = bytearray(max(chunk_bytes, 2 * (CUT_KEEP + len(CUT_MARK))))
    carry = 0  # bytes of a partial line kept at the start of buf
    skipping = False  # inside an over-long line: drop bytes up to its newline
    limit = max(len(buf), MAX_LINE_BYTES)
    while True:
        if carry == len(buf) and len(buf) < limit:  # a line longer than a chunk: grow
            buf.extend(bytes(min(len(buf), limit - len(buf))))
        elif carry == len(buf):  # a line longer than the limit: cut it
            keep = CUT_KEEP + len(CUT_MARK)
            buf[CUT_KEEP:keep] = CUT_MARK
            carry, skipping = keep, True
        n, failed = _read_full(fh, memoryview(buf)[carry:])
        if skipping and n:
            nl = buf.find(b"\n", carry, carry + n)
            if nl < 0:
                if failed is None:
                    continue  # all of it belongs to the over-long line
                n = 0
            else:
                rest = carry + n - nl
                buf[carry : carry + rest] = buf[nl : carry + n]
                n, skipping = rest, False
        total = carry + n
        if failed is not None or n == 0:
            if failed is not None and errors is not None:
                errors.append(failed)
            if total:
                tail = bytes(memoryview(buf)[:total])
                yield tail if tail.endswith(b"\n") else tail + b"\n"
            return
        cut = buf.rfind(b"\n", 0, total)
        if cut < 0:
            carry = total
            continue
        yield bytes(memoryview(buf)[: cut + 1])
        rest = total - cut - 1
        buf[:rest] = buf[cut + 1 : total]
        carry = rest


def _read_full(fh: BinaryIO, view: memoryview) -> tuple[int, str | None]:
    """readinto until the view is full or EOF (pipes and gzip return short reads).

    Returns the bytes read and, when the stream broke (truncated or corrupt gzip,
    I/O error), the error text; bytes read before the break are kept.
    """
    got = 0
    while got < len(view):
        try:
            n = fh.readinto(view[got:])  # type: ignore[attr-defined]
        except (OSError, EOFError, ValueError, *_INFLATE_ERRORS) as exc:
            return got, f"{type(exc).__name__}: {exc}"
        if not n:
            break
        got += n
    return got, None


def is_plain_file(src: Source) -> bool:
    """A regular, uncompressed file: the only input that can be split by byte offset."""
    if src.name == STDIN or not os.path.isfile(src.name):
        return False
    with open(src.name, "rb") as fh:
        return fh.read(2) != GZIP_MAGIC


def line_boundary(fd: int, offset: int, size: int, probe: int = 64 << 10) -> int:
    """The first line start at or after ``offset``: ``offset`` itself when the byte before
    it is a newline (or it is 0), else one past the next newline, else ``size``."""
    if offset <= 0:
        return 0
    pos = offset - 1  # look at the byte before offset: a newline there means a line starts here
    while pos < size:
        block = os.pread(fd, min(probe, size - pos), pos)
        if not block:
            break
        i = block.find(b"\n")
        if i >= 0:
            return min(size, pos + i + 1)
        pos += len(block)
    return size


def plan_ranges(fd: int, size: int, chunk_bytes: int) -> list[tuple[int, int]]:
    """Split ``[0, size)`` into consecutive newline-aligned ``(start, end)`` byte ranges of
    about ``chunk_bytes`` each.

    Every range starts at a line start and ends just after a newline (or at ``size``), so
    each line lies in exactly one range: a line straddling a target offset belongs to the
    range it starts in. A line longer than ``chunk_bytes`` makes its range longer; no
    range is empty. Costs one small read per range.
    """
    out: list[tuple[int, int]] = []
    start = 0
    step = max(1, chunk_bytes)
    while start < size:
        end = line_boundary(fd, start + step, size)
        out.append((start, end))
        start = end
    return out


def read_range(fd: int, start: int, end: int,
               max_bytes: int = 32 << 20) -> tuple[bytes, str | None]:
    """One range as a fresh ``bytes`` object (``os.pread``: no extra copy), ending in a
    newline (added after a last line without one). A short read (the file shrank while
    being read) returns what was there and the reason. A range longer than
    ``max_bytes`` (:func:`plan_ranges` makes one only around a line longer than that)
    goes through :func:`iter_chunks`, which cuts that line."""
    if end - start > max_bytes:  # an over-long line: read it through the bounded buffer
        return b"".join(iter_chunks(_Range(fd, start, end), max_bytes)), None
    data = os.pread(fd, end - start, start)
    err = None
    if len(data) < end - start:
        err = f"file shrank while being read: {end - start - len(data)} bytes missing at {start}"
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data, err


class _Range:
    """``readinto`` over ``[start, end)`` of a file descriptor, for :func:`iter_chunks`."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd, self.pos, self.end = fd, start, end

    def readinto(self, view: memoryview) -> int:
        want = min(len(view), self.end - self.pos)
        if want <= 0:
            return 0
        n = os.preadv(self.fd, [view[:want]], self.pos)
        self.pos += n
        return n
