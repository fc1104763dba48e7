"""Headless Chromium for the report: the PDF (:class:`Printer`) and screenshots.

Chromium spends most of a print starting (0.4-0.8 s of 1.4-1.8 s for the seed's report
on 2 cores). ``--print-to-pdf URL`` cannot start before the page exists, so the report
starts a :class:`Printer` while notebook 03 runs and hands it the page when 04 is
written: Chromium is driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages ending in NUL on file descriptors 3 and 4),
never a TCP port, so nothing else on the machine can reach it. The print is the one
``--print-to-pdf`` makes (A4 from the page's ``@page`` rule, backgrounds, no header or
footer lines): the pages rasterise identically.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from proxylab.errors import UserError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
NO_CHROMIUM = "no Chromium on PATH (Debian: apt-get install chromium)"


def chromium() -> str | None:
    """Debian's ``chromium`` (or another Chromium on PATH)."""
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def chromium_args(browser: str, profile: Path) -> list[str]:
    """Headless, no sandbox (root in a container has none to give), and nothing that
    phones home: the pages are local files with nothing to fetch."""
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--mute-audio",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}"]


class Chromium:
    """One headless Chromium process (and the processes it starts, in a process group
    of their own), its profile and stderr in a temporary directory. :meth:`wait` reaps
    it and raises what went wrong; :meth:`stop` kills and reaps it."""

    def __init__(self, args: list[str], timeout: float = 120,
                 pass_fds: tuple[int, ...] = (), wrap: str | None = None):
        browser = chromium()
        if browser is None:
            raise UserError(NO_CHROMIUM)
        self._dir = tempfile.TemporaryDirectory(prefix="proxylab-chromium-")
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        # stderr to a file, not a pipe: nobody reads a pipe while Chromium runs, and
        # its chatter could fill one.
        self._stderr = open(Path(self._dir.name) / "stderr.log", "w+b")  # noqa: SIM115
        cmd = chromium_args(browser, Path(self._dir.name) / "profile") + args
        if wrap is not None:  # a line that sets up file descriptors, then execs; bash,
            cmd = ["/bin/bash", "-c", wrap, *cmd]  # as dash takes only fds 0-9
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr,
                                     pass_fds=pass_fds, start_new_session=True)

    @property
    def tmp(self) -> Path:
        return Path(self._dir.name)

    def stderr_tail(self) -> str:
        if self._stderr.closed:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace").strip()[-400:]

    def wait(self) -> None:
        try:
            rc = self.proc.wait(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            raise UserError(f"Chromium did not finish within {self.timeout:.0f}s") from None
        err = self.stderr_tail()
        self._close()
        if rc != 0:
            raise UserError(f"Chromium failed ({rc}): {err}")

    def stop(self) -> None:
        """Kill Chromium and the processes it started (its own process group)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._close()

    def _close(self) -> None:
        if not self._stderr.closed:
            self._stderr.close()
        self._dir.cleanup()


def run_chromium(args: list[str], timeout: float = 120) -> None:
    Chromium(args, timeout).wait()


def screenshot(page: Path, png: Path, width: int, height: int = 2400,
               timeout: float = 120) -> Path:
    """A picture of a page at a window width (what a reader at that width sees)."""
    run_chromium([f"--window-size={width},{height}", f"--screenshot={png}",
                  page.resolve().as_uri()], timeout)
    return png


def _high_fd(fd: int) -> int:
    """The descriptor moved to 10 or above, so the redirections onto 3 and 4 in the
    child cannot overwrite one of the pipe ends they read from."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Printer:
    """Chromium started ahead of the page; :meth:`print_pdf` loads a page and prints
    it, :meth:`close` ends Chromium (always call it: ``with Printer() as p:``)."""

    def __init__(self, timeout: float = 120):
        to_chromium_r, self._to = map(_high_fd, os.pipe())
        self._from, from_chromium_w = map(_high_fd, os.pipe())
        try:
            self._browser = Chromium(
                ["--remote-debugging-pipe", "--no-startup-window"], timeout,
                pass_fds=(to_chromium_r, from_chromium_w),
                wrap=(f'exec "$0" "$@" 3<&{to_chromium_r} 4>&{from_chromium_w} '
                      f"{to_chromium_r}<&- {from_chromium_w}>&-"))
        except BaseException:
            for fd in (self._to, self._from):
                os.close(fd)
            raise
        finally:
            os.close(to_chromium_r)
            os.close(from_chromium_w)
        self._buf = b""
        self._id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def print_pdf(self, page_html: str, pdf: Path) -> Path:
        """The page (the scenarios unfolded) as an A4 PDF without the browser's header
        and footer lines (date, file path)."""
        src = self._browser.tmp / "print.html"
        src.write_text(page_html, encoding="utf-8")
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget",
                             {"targetId": target, "flatten": True})["sessionId"]
        self._call("Page.enable", session=session)
        self._call("Page.navigate", {"url": src.as_uri()}, session=session)
        self._event("Page.loadEventFired", session)
        data = self._call("Page.printToPDF", {"displayHeaderFooter": False,
                                              "printBackground": True,
                                              "preferCSSPageSize": True},
                          session=session)["data"]
        pdf.parent.mkdir(parents=True, exist_ok=True)
        tmp = pdf.with_name(f".{pdf.name}.tmp")
        tmp.write_bytes(base64.b64decode(data))
        if tmp.stat().st_size == 0:
            tmp.unlink()
            raise UserError("Chromium wrote no PDF")
        tmp.replace(pdf)
        return pdf

    def close(self) -> None:
        """Kill and reap Chromium: the PDF is written, and its profile is a temporary
        directory (a polite Browser.close costs another half second)."""
        for fd in (self._to, self._from):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to = self._from = -1
        self._browser.stop()

    # ---------------------------------------------------------------- the protocol
    def _call(self, method: str, params: dict[str, Any] | None = None,
              session: str | None = None) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._to, json.dumps(msg).encode() + b"\0")
        except OSError:
            raise self._gone() from None
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise UserError(f"Chromium: {method}: {reply['error'].get('message')}")
                return dict(reply.get("result", {}))
            self._events.append(reply)

    def _event(self, method: str, session: str) -> dict[str, Any]:
        while True:
            for i, ev in enumerate(self._events):
                if ev.get("method") == method and ev.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._read())

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = self._browser.deadline - time.monotonic()
            ready, _, _ = select.select([self._from], [], [], max(0.0, left))
            if not ready:
                self._browser.stop()
                raise UserError(f"Chromium did not finish within "
                                f"{self._browser.timeout:.0f}s")
            chunk = os.read(self._from, 1 << 20)
            if not chunk:
                raise self._gone()
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return dict(json.loads(msg))

    def _gone(self) -> UserError:
        self._browser.proc.poll()
        return UserError(f"Chromium exited ({self._browser.proc.returncode}): "
                         f"{self._browser.stderr_tail()}")


def write_pdf(page_html: str, pdf: Path, timeout: float = 120) -> Path:
    """Start Chromium, print the page, end Chromium."""
    with Printer(timeout) as printer:
        return printer.print_pdf(page_html, pdf)
