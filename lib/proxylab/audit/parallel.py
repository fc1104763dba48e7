"""Ingest one large plain log file with several processes.

Why processes: one process tops out near 2.2 M lines per CPU-second and polars'
reader plus the Python glue between queries do not keep a second core busy, so a
second process is the only way to use it. The file is cut into newline-aligned
byte ranges (:func:`proxylab.audit.sources.plan_ranges`); the calling process and
``processes - 1`` spawned workers take ranges from one shared counter (dynamic, so
a slower start-up or a busy neighbour does not leave one process idle at the end)
and each folds its ranges into its own small aggregates, which the caller merges.
Every line lies in exactly one range, so the counts are those of one process.

Memory: every process holds one range and its aggregates at a time, so ranges are
smaller than the single-process chunk (the processes' RSS adds up); workers run
polars on one thread with a leaner allocator setting (:data:`PROCESS_ENV`), as the
processes already use the cores.

Workers are fresh interpreters (``python -m proxylab.audit.parallel``), not forks: the
caller may already run polars' thread pool (a notebook), and forking a threaded
process can deadlock. This module imports neither polars nor numpy at the top, so a
worker sets its environment before they load.
gzip files cannot be split by offset: a set of whole files (a rotated directory,
several gzip files) is handed out one file per process at a time instead
(:func:`ingest_files_parallel`); stdin and a single small or gzip file stay in one
process.
"""

from __future__ import annotations

import atexit
import fcntl
import gc
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from proxylab.audit.options import PARALLEL_MIN_BYTES
from proxylab.audit.sources import Source, is_plain_file, plan_ranges, read_range


def splittable(src: Source, processes: int, min_bytes: int = PARALLEL_MIN_BYTES) -> bool:
    """Whether ``src`` goes to several processes: a plain (not gzip) file, not stdin,
    at least ``min_bytes`` long, and more than one process allowed."""
    return processes > 1 and (src.size or 0) >= min_bytes and is_plain_file(src)


# Every ingesting process, when there are several: polars on one thread (the processes
# fill the cores); its allocator (jemalloc) on one arena without thread caches, which
# measured 131 -> 113 MiB peak RSS per process at the same speed; and no OpenBLAS
# thread pool (numpy loads it, nothing here uses it, its idle threads spin: ~3% of the
# CPU of a run). jemalloc (polars' allocator) returns freed pages at once instead of
# after its 10 s decay: a table fold's transient memory otherwise stays resident, and
# the processes' peaks add up (35-day log: 494 -> 321 MB for both, ~+0.1 CPU-s).
# Set before polars/numpy load; a value the user set wins.
PROCESS_ENV = {"POLARS_MAX_THREADS": "1",
               "_RJEM_MALLOC_CONF": "narenas:1,tcache:false,dirty_decay_ms:0,muzzy_decay_ms:0",
               "OPENBLAS_NUM_THREADS": "1"}

STUCK_AFTER_S = 60.0  # a worker silent this long after the caller's own share is killed

_prestarted: list[subprocess.Popen] = []


def _spawn_worker() -> subprocess.Popen:
    env = {**PROCESS_ENV, **os.environ}
    # The worker imports the very proxylab this process runs, installed or not.
    pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(
        [pkg_root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    return subprocess.Popen([sys.executable, "-m", "proxylab.audit.parallel"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)


def prestart(n: int) -> None:
    """Start ``n`` workers now, so their interpreter start-up and imports (~0.2 s) overlap
    the caller's; :func:`ingest_file_parallel` uses them first. The CLI calls this before
    it imports polars. Unused ones end with :func:`release_prestarted`."""
    for _ in range(n - len(_prestarted)):
        try:
            _prestarted.append(_spawn_worker())
        except OSError:
            break


def release_prestarted() -> None:
    """End prestarted workers that got no job (closing stdin makes them exit)."""
    while _prestarted:
        _finish(_prestarted.pop())


def _finish(w: subprocess.Popen) -> None:
    try:
        if w.stdin and not w.stdin.closed:
            w.stdin.close()
    except OSError:
        pass
    try:
        w.wait(timeout=10)
    except subprocess.TimeoutExpired:
        w.kill()
        w.wait()
    if w.stdout:
        w.stdout.close()


atexit.register(release_prestarted)


@dataclass
class PartResult:
    """What one process made of the ranges it took."""

    done: list[int] = field(default_factory=list)  # range indices processed
    lines: int = 0
    parsed: int = 0  # well-formed and kept
    malformed: int = 0
    filtered: int = 0
    samples: list[tuple[int, int, str]] = field(default_factory=list)  # (range, n, line)
    errors: list[str] = field(default_factory=list)
    tables: Any = None  # (by_request, by_time, by_client) polars frames
    raw: Any = None  # or, from the compiled reader: (its folder's take(), bucket)
    files: Any = None  # whole-file mode: file index -> stream.SourceCounts


class RangeCounter:
    """The next range index, shared by processes through a small file under ``flock``.

    A file lock rather than ``multiprocessing.Value``: workers are plain subprocesses
    (see :func:`ingest_file_parallel`), and a take costs a few microseconds per range of
    several megabytes.
    """

    def __init__(self, path: str, n: int) -> None:
        self.path, self.n = path, n
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def take(self) -> int | None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(self.fd, 8, 0)
            i = int.from_bytes(raw, "little") if len(raw) == 8 else 0
            if i >= self.n:
                return None
            os.pwrite(self.fd, (i + 1).to_bytes(8, "little"), 0)
            return i
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def taken(self) -> int:
        raw = os.pread(self.fd, 8, 0)
        return min(self.n, int.from_bytes(raw, "little") if len(raw) == 8 else 0)

    def close(self) -> None:
        os.close(self.fd)


def run_ranges(path: str, ranges: list[tuple[int, int]], take, fmt: str, opts,
               sample_budget: int) -> PartResult:
    """Process ranges handed out by ``take()`` (None = no more) into a PartResult.

    The compiled reader folds every range into one folder, whose tables go back as
    they are (no polars in a scanning worker at all); the polars reader reduces each
    range and folds the tables in an accumulator."""
    from proxylab.audit import scan

    res = PartResult()
    if scan.handles(fmt, opts):
        f = scan.folder(opts)

        def fold(data: bytes, want: int) -> tuple[int, int, int, list[str]]:
            out = scan.feed(f, data, want)
            scan.grow(f, opts)
            return out

        _read_ranges(path, ranges, take, res, sample_budget, fold)
        res.raw = (f.take(), f.bucket)
        return res
    from proxylab.audit.reduce import Accumulator, process_chunk

    acc = Accumulator.for_options(opts)

    def reduce(data: bytes, want: int) -> tuple[int, int, int, list[str]]:
        r = process_chunk(data, fmt, opts, prepared=False, want_samples=want)
        acc.add(r)
        return r.lines, r.parsed, r.filtered, r.samples

    _read_ranges(path, ranges, take, res, sample_budget, reduce)
    acc.compact()
    res.tables = acc.tables
    return res


def _read_ranges(path: str, ranges: list[tuple[int, int]], take, res: PartResult,
                 sample_budget: int, fold) -> None:
    """Each range taken, read and handed to ``fold(data, want_samples)`` -> (lines,
    records, filtered, samples), counted into ``res``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        while (i := take()) is not None:
            data, err = read_range(fd, *ranges[i])
            if err:
                res.errors.append(err)
            res.done.append(i)
            if not data:
                continue
            want = max(0, sample_budget - len(res.samples))
            lines, records, filtered, samples = fold(data, want)
            del data
            res.lines += lines
            res.parsed += records - filtered
            res.malformed += lines - records
            res.filtered += filtered
            res.samples += [(i, k, s) for k, s in enumerate(samples[:want])]
    finally:
        os.close(fd)


def files_in_processes(sources: list[Source], opts) -> bool:
    """Whether whole files go to several processes: at least two files (rotated sets,
    gzip files, which cannot be split by offset), none of them stdin, together at
    least ``opts.parallel_min_bytes`` on disk, and more than one process allowed."""
    return (opts.processes > 1 and len(sources) > 1 and all(s.size is not None for s in sources)
            and sum(s.size or 0 for s in sources) >= opts.parallel_min_bytes)


def run_files(sources: list[Source], take, opts) -> PartResult:
    """Read the files handed out by ``take()`` (indices into ``sources``), each whole."""
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from proxylab.audit.reduce import Accumulator
    from proxylab.audit.stream import read_source

    acc = Accumulator.for_options(opts)
    res = PartResult()
    res.files = {}
    # chunks of the processes' size: their memory adds up
    opts = replace(opts, chunk_bytes=min(opts.chunk_bytes, opts.parallel_chunk_bytes // 2))
    with ThreadPoolExecutor(max(1, opts.workers), thread_name_prefix="audit") as pool:
        while (i := take()) is not None:
            res.done.append(i)
            res.files[i] = read_source(sources[i], opts, acc, pool, opts.sample_limit)
    acc.compact()
    res.tables = acc.tables
    return res


def ingest_files_parallel(sources: list[Source], opts, progress=None):
    """Several whole files over ``opts.processes`` processes (this one included), one
    file per process at a time, largest first so the last one to finish is short.

    Returns (per-file :class:`~proxylab.audit.stream.SourceCounts` in ``sources``
    order, merged tables). A file whose worker failed is read here."""
    order = sorted(range(len(sources)), key=lambda i: -(sources[i].size or 0))

    def claimed(k: int) -> None:
        if progress is not None:
            progress(sources[order[k]].size or 0)

    parts = _run_pool({"mode": "files", "sources": sources, "order": order, "opts": opts},
                      len(order), opts.processes,
                      lambda take: run_files(sources, _in_order(take, order), opts), claimed)
    done = {i for part in parts for i in part.done}  # file indices
    missing = iter([i for i in range(len(sources)) if i not in done])
    if len(done) != len(sources):  # a worker failed: read its files here
        parts.append(run_files(sources, lambda: next(missing, None), opts))
    from proxylab.audit.reduce import Accumulator

    acc = Accumulator.for_options(opts)
    files = {}
    for part in parts:
        files.update(part.files)
        acc.merge(*part.tables)
    acc.compact()
    return [files[i] for i in range(len(sources))], acc.tables


def _in_order(take, order: list[int]):
    """``take()`` hands out positions in ``order``; this turns them into file indices."""
    def take_file() -> int | None:
        k = take()
        return None if k is None else order[k]
    return take_file


def _worker_main() -> int:
    """``python -m proxylab.audit.parallel``: a job pickled on stdin, a PartResult pickled
    on stdout. Imports first (a prestarted worker does that while its parent starts up);
    no job (stdin closed) = nothing to do."""
    for k, v in PROCESS_ENV.items():  # before polars loads
        os.environ.setdefault(k, v)
    gc.disable()  # a short-lived process of long-lived acyclic objects: collections only cost
    # Imports done before the job arrives: the compiled reader's (a few ms) when it is
    # built, since a large native file is its job; else polars' (the slow part). A job
    # that needs polars after all (files, other formats, --client-cidr) imports it then.
    from proxylab.audit import scan

    if scan.available():
        import proxylab.audit._scan  # noqa: F401
    else:
        import proxylab.audit.reduce  # noqa: F401

    try:
        job = pickle.load(sys.stdin.buffer)
    except EOFError:
        return 0
    if job.get("mode") == "files":
        counter = RangeCounter(job["counter"], len(job["order"]))
        try:
            res = run_files(job["sources"], _in_order(counter.take, job["order"]), job["opts"])
        finally:
            counter.close()
    else:
        counter = RangeCounter(job["counter"], len(job["ranges"]))
        try:
            res = run_ranges(job["path"], job["ranges"], counter.take, job["fmt"], job["opts"],
                             job["sample_budget"])
        finally:
            counter.close()
    pickle.dump(res, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


def ingest_file_parallel(src: Source, fmt: str, opts, processes: int, progress=None):
    """Ingest one plain file with ``processes`` processes (this one included).

    Returns a PartResult whose ``tables`` are the merged aggregates and whose samples
    are the first ``opts.sample_limit`` malformed lines in file order, as a single
    process would report. Workers are ``python -m proxylab.audit.parallel``
    subprocesses (not multiprocessing's spawn, which re-runs the caller's ``__main__``
    script in the child). If a worker cannot be started or fails, this process
    processes the ranges it had taken, so the result is complete either way.
    """
    fd = os.open(src.name, os.O_RDONLY)
    try:
        ranges = plan_ranges(fd, os.fstat(fd).st_size, max(1 << 16, opts.parallel_chunk_bytes))
    finally:
        os.close(fd)
    last = [0]

    def claimed(k: int) -> None:
        if progress is not None and ranges[k][1] > last[0]:
            progress(ranges[k][1] - last[0])
            last[0] = ranges[k][1]

    job = {"path": src.name, "ranges": ranges, "fmt": fmt, "opts": opts,
           "sample_budget": opts.sample_limit}
    parts = _run_pool(job, len(ranges), processes,
                      lambda take: run_ranges(src.name, ranges, take, fmt, opts,
                                              opts.sample_limit), claimed)
    done = {i for part in parts for i in part.done}
    missing = iter([i for i in range(len(ranges)) if i not in done])
    if done != set(range(len(ranges))):  # a worker failed: redo what it had taken
        parts.append(run_ranges(src.name, ranges, lambda: next(missing, None), fmt, opts,
                                opts.sample_limit))
    return _merge(parts, opts)


def _run_pool(job: dict, n: int, processes: int, run_here, claimed) -> list[PartResult]:
    """Hand out ``n`` work items (0..n-1, from one shared counter) to this process
    (``run_here(take)``) and ``processes - 1`` workers (given ``job`` plus the
    counter's path); ``claimed(k)`` is told each item this process takes, in order.
    Returns the PartResults that came back; a worker that fails or hangs is killed,
    and the items it took are missing from every ``done`` list."""
    with tempfile.TemporaryDirectory(prefix="proxylab-audit-") as tmp:
        counter = RangeCounter(os.path.join(tmp, "next-range"), n)
        payload = pickle.dumps({**job, "counter": counter.path})
        workers: list[subprocess.Popen] = []
        try:
            for _ in range(max(0, processes - 1)):
                try:
                    w = _prestarted.pop(0) if _prestarted else _spawn_worker()
                except OSError:
                    break
                workers.append(w)
                try:
                    w.stdin.write(payload)
                    w.stdin.close()
                except OSError:
                    pass  # it died at once: its items are redone by the caller
                w.stdin = None  # closed: communicate() below only reads

            def take() -> int | None:
                i = counter.take()
                if i is not None:
                    claimed(counter.taken() - 1)
                return i

            t0 = time.monotonic()
            parts = [run_here(take)]
            # A worker has at most one item left when this process runs out: waiting
            # longer than this process took for all of its own means it is stuck.
            limit = max(STUCK_AFTER_S, 10 * (time.monotonic() - t0))
            for w in workers:
                try:
                    out, _ = w.communicate(timeout=limit)
                except subprocess.TimeoutExpired:
                    w.kill()  # reaped below; its items are redone
                    continue
                if w.returncode == 0 and out:
                    try:
                        parts.append(pickle.loads(out))
                    except Exception:  # noqa: BLE001 - a broken result: its items are redone
                        pass
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
                _finish(w)
            counter.close()
    return parts


def _merge(parts: list[PartResult], opts) -> PartResult:
    from proxylab.audit.reduce import Accumulator

    acc = Accumulator.for_options(opts)
    out = PartResult()
    for part in parts:
        out.done += part.done
        out.lines += part.lines
        out.parsed += part.parsed
        out.malformed += part.malformed
        out.filtered += part.filtered
        out.samples += part.samples
        out.errors += part.errors
        if part.raw is not None:
            acc.merge_raw(*part.raw)
        else:
            acc.merge(*part.tables)
    out.samples = sorted(out.samples)[: opts.sample_limit]
    acc.compact()
    out.tables = acc.tables
    return out


if __name__ == "__main__":
    # Run the worker from the module proper, so what it pickles names
    # proxylab.audit.parallel.PartResult rather than __main__.PartResult.
    from proxylab.audit import parallel as _module

    sys.exit(_module._worker_main())
