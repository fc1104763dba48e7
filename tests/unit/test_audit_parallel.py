"""Several-process ingestion of one plain file: byte ranges cut at line boundaries, and
merged results equal to the single-process ones (which test_audit_ingest checks
against an independent per-line computation)."""

from __future__ import annotations

import os
import re
import sys

import pytest

from proxylab.audit import parallel
from proxylab.audit.ingest import IngestOptions, ingest
from proxylab.audit.parallel import RangeCounter
from proxylab.audit.sources import expand_paths, line_boundary, plan_ranges, read_range
from proxylab.audit.synth import SynthOptions, write_log

GOOD = ("1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT "
        "h.example.com:443 - HIER_DIRECT/198.18.1.10 -\n")


def ranges_of(data: bytes, chunk: int, tmp_path) -> list[tuple[int, int]]:
    p = tmp_path / "f.log"
    p.write_bytes(data)
    fd = os.open(p, os.O_RDONLY)
    try:
        return plan_ranges(fd, len(data), chunk)
    finally:
        os.close(fd)


def check_ranges(data: bytes, ranges: list[tuple[int, int]]) -> None:
    """Contiguous, non-empty, covering, each starting at a line start and ending after a
    newline (or at the end): so the lines of the ranges are exactly the file's lines."""
    assert [s for s, _ in ranges] == [0] + [e for _, e in ranges[:-1]]
    assert (ranges[-1][1] if ranges else 0) == len(data)
    for s, e in ranges:
        assert e > s
        assert s == 0 or data[s - 1 : s] == b"\n"
        assert e == len(data) or data[e - 1 : e] == b"\n"
    assert [ln for s, e in ranges for ln in data[s:e].splitlines()] == data.splitlines()


@pytest.mark.parametrize("chunk", [1, 7, 64, 100, 1000, 1 << 20])
def test_ranges_cover_every_line_once(tmp_path, chunk):
    lines = [f"{i} " + "x" * (i * 37 % 150) + "\n" for i in range(200)]
    data = "".join(lines).encode()
    check_ranges(data, ranges_of(data, chunk, tmp_path))


def test_line_straddling_the_split_point_goes_to_the_range_it_starts_in(tmp_path):
    data = b"aaaa\nbbbbbbbbbb\ncc\n"
    # target offset 7 is inside "bbbbbbbbbb" (bytes 5..15): the first range runs to its end
    assert ranges_of(data, 7, tmp_path) == [(0, 16), (16, 19)]
    # a target exactly at a line start cuts there
    assert ranges_of(data, 5, tmp_path) == [(0, 5), (5, 16), (16, 19)]


def test_line_boundary(tmp_path):
    data = b"ab\ncd\n\nef"
    p = tmp_path / "b.log"
    p.write_bytes(data)
    fd = os.open(p, os.O_RDONLY)
    try:
        got = [line_boundary(fd, off, len(data), probe=2) for off in range(len(data) + 1)]
    finally:
        os.close(fd)
    assert got == [0, 3, 3, 3, 6, 6, 6, 7, 9, 9]


@pytest.mark.parametrize("data", [b"", b"x", b"\n", b"\n\n", GOOD.encode(),
                                  GOOD.encode().rstrip(b"\n"), b"a\nb"])
def test_tiny_files(tmp_path, data):
    ranges = ranges_of(data, 4, tmp_path)
    if data:
        check_ranges(data, ranges)
    else:
        assert ranges == []


def test_one_line_longer_than_everything(tmp_path):
    data = b"z" * 5000 + b"\nshort\n"
    ranges = ranges_of(data, 10, tmp_path)
    assert ranges == [(0, 5001), (5001, 5007)]


def test_read_range_ends_lines_and_reports_a_shrunk_file(tmp_path):
    p = tmp_path / "r.log"
    p.write_bytes(b"one\ntwo")
    fd = os.open(p, os.O_RDONLY)
    try:
        assert read_range(fd, 0, 4) == (b"one\n", None)
        assert read_range(fd, 4, 7) == (b"two\n", None)  # last line without newline
        data, err = read_range(fd, 4, 12)  # planned on a longer file
        assert data == b"two\n" and "shrank" in err
    finally:
        os.close(fd)


def test_range_counter_hands_out_each_index_once(tmp_path):
    a = RangeCounter(str(tmp_path / "c"), 5)
    b = RangeCounter(str(tmp_path / "c"), 5)
    got = [a.take(), b.take(), b.take(), a.take(), a.take(), b.take(), a.take()]
    assert got == [0, 1, 2, 3, 4, None, None]
    a.close()
    b.close()


@pytest.fixture(scope="module")
def mixed_log(tmp_path_factory):
    p = tmp_path_factory.mktemp("par") / "access.log"
    write_log(str(p), SynthOptions(lines=20000, seed=33, malformed_ratio=0.03))
    # no final newline, so the last range's line is completed by read_range
    p.write_bytes(p.read_bytes().rstrip(b"\n"))
    return p


def par_opts(**kw) -> IngestOptions:
    return IngestOptions(processes=2, parallel_min_bytes=0, parallel_chunk_bytes=16 << 10,
                         **kw)


def assert_same(a, b) -> None:
    assert a.by_request.sort(["hostport", "method", "cs"]).equals(
        b.by_request.sort(["hostport", "method", "cs"]))
    assert a.by_time.sort(["hostport", "bucket"]).equals(b.by_time.sort(["hostport", "bucket"]))
    assert a.by_client.sort("client").equals(b.by_client.sort("client"))
    assert (a.lines, a.parsed, a.malformed, a.filtered) == (b.lines, b.parsed, b.malformed,
                                                             b.filtered)
    # the first malformed lines of the file, in file order, whoever parsed them
    assert [s.line for s in a.samples] == [s.line for s in b.samples]
    assert [s.source for s in a.samples] == [s.source for s in b.samples]


def test_two_processes_equal_one(mixed_log):
    one = ingest([str(mixed_log)], IngestOptions(processes=1))
    two = ingest([str(mixed_log)], par_opts())
    assert one.malformed > 100 and len(one.samples) == 20
    assert_same(two, one)
    assert one.lines == mixed_log.read_bytes().count(b"\n") + 1


def test_two_processes_with_filters(mixed_log):
    text = mixed_log.read_text()
    ts = sorted(float(m) for m in re.findall(r"^(\d+\.\d+) ", text, re.M))
    cidr = __import__("ipaddress").ip_network("10.1.143.0/24")
    kw = dict(since=ts[len(ts) // 3], until=ts[2 * len(ts) // 3], client_cidrs=(cidr,))
    one = ingest([str(mixed_log)], IngestOptions(processes=1, **kw))
    two = ingest([str(mixed_log)], par_opts(**kw))
    assert one.filtered > 0
    assert_same(two, one)


def test_a_failing_worker_is_made_up_for(mixed_log, monkeypatch):
    """A worker that takes ranges and then dies loses nothing: this process redoes the
    ranges it had taken."""
    import subprocess
    import time

    fake = ("import pickle, sys\n"
            "from proxylab.audit.parallel import RangeCounter\n"
            "job = pickle.load(sys.stdin.buffer)\n"
            "c = RangeCounter(job['counter'], len(job['ranges']))\n"
            "print([c.take() for _ in range(3)], file=sys.stderr)\n"
            "sys.exit(5)\n")

    def dying():
        return subprocess.Popen([sys.executable, "-c", fake], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)

    real_run, real_merge, seen = parallel.run_ranges, parallel._merge, []

    def late_run(path, ranges, take, *a):
        if not seen:
            seen.append("late")
            time.sleep(1.5)  # the fake worker takes its ranges meanwhile
        return real_run(path, ranges, take, *a)

    def merge(parts, opts):
        seen.append([len(p.done) for p in parts])
        return real_merge(parts, opts)

    monkeypatch.setattr(parallel, "_spawn_worker", dying)
    monkeypatch.setattr(parallel, "run_ranges", late_run)
    monkeypatch.setattr(parallel, "_merge", merge)
    two = ingest([str(mixed_log)], par_opts())
    monkeypatch.undo()
    one = ingest([str(mixed_log)], IngestOptions(processes=1))
    assert seen[-1][-1] == 3, seen  # the three ranges the worker took were redone here
    assert_same(two, one)


def test_gzip_and_small_files_stay_single_process(mixed_log, tmp_path, monkeypatch):
    import gzip

    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(mixed_log.read_bytes()))
    calls = []
    monkeypatch.setattr(parallel, "ingest_file_parallel",
                        lambda *a, **k: calls.append(a) or pytest.fail("split"))
    ingest([str(gz)], par_opts())
    ingest([str(mixed_log)], IngestOptions(processes=2))  # below parallel_min_bytes
    assert calls == []


def test_worker_and_caller_both_take_ranges(mixed_log, monkeypatch):
    """The caller starts late (as if busy), so the worker process surely takes ranges;
    the merged result is still that of one process."""
    import time

    real_run, real_merge, seen = parallel.run_ranges, parallel._merge, []

    def late_run(path, ranges, take, *a):
        time.sleep(2.0)  # the worker imports (~0.3 s) and starts taking meanwhile
        return real_run(path, ranges, take, *a)

    def merge(parts, opts):
        seen.extend(len(p.done) for p in parts)
        return real_merge(parts, opts)

    monkeypatch.setattr(parallel, "run_ranges", late_run)
    monkeypatch.setattr(parallel, "_merge", merge)
    two = ingest([str(mixed_log)], par_opts())
    monkeypatch.undo()
    one = ingest([str(mixed_log)], IngestOptions(processes=1))
    assert len(seen) == 2 and seen[1] > 0, seen  # the worker's part is there and not empty
    assert_same(two, one)


def test_a_stuck_worker_is_killed_and_made_up_for(mixed_log, monkeypatch):
    import subprocess

    def stuck():
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    monkeypatch.setattr(parallel, "_spawn_worker", stuck)
    monkeypatch.setattr(parallel, "STUCK_AFTER_S", 0.5)
    one = ingest([str(mixed_log)], IngestOptions(processes=1))
    two = ingest([str(mixed_log)], par_opts())
    assert_same(two, one)


def test_rotated_and_gzip_files_in_processes_equal_one_process(tmp_path):
    """Whole files to worker processes (a rotated set with .gz members): the same
    tables, per-file counts and samples (in source order) as one process."""
    import gzip

    from proxylab.audit.synth import iter_lines

    lines = list(iter_lines(SynthOptions(lines=30_000, seed=5, malformed_ratio=0.01)))
    d = tmp_path / "rot"
    d.mkdir()
    (d / "access.log").write_text("".join(lines[20_000:]))
    (d / "access.log.1").write_text("".join(lines[10_000:20_000]))
    with gzip.open(d / "access.log.2.gz", "wt") as fh:
        fh.write("".join(lines[:10_000]))
    one = ingest([str(d)], IngestOptions(processes=1))
    assert not parallel.files_in_processes(expand_paths([str(d)]), IngestOptions())  # < 64 MiB
    many = ingest([str(d)], IngestOptions(processes=2, parallel_min_bytes=1))
    for t in ("by_request", "by_time", "by_client"):
        assert getattr(one, t).equals(getattr(many, t)), t
    assert [vars(s) for s in one.sources] == [vars(s) for s in many.sources]
    assert [(s.source, s.line) for s in one.samples] == [(s.source, s.line) for s in many.samples]
    assert one.malformed > 0 and len(one.samples) == 20


def test_bucket_grows_with_the_span_and_equals_that_bucket_asked_for(tmp_path):
    """400 days of lines: hours would be 9,600 timeline points per host, 6 hours 1,600
    (both over MAX_BUCKETS), so the timeline is daily -- the same as asking for a day,
    in one process and in several; an asked-for bucket is kept."""
    p = tmp_path / "year.log"
    write_log(str(p), SynthOptions(lines=40_000, seconds_per_line=400 * 86400 / 40_000))
    daily = ingest([str(p)], IngestOptions(processes=1, bucket_seconds=86400, bucket_auto=False))
    for opts in (IngestOptions(processes=1, chunk_bytes=1 << 18),
                 IngestOptions(processes=2, parallel_min_bytes=1, parallel_chunk_bytes=1 << 18)):
        auto = ingest([str(p)], opts)
        assert auto.bucket_seconds == 86400
        assert auto.by_time.equals(daily.by_time) and auto.by_request.equals(daily.by_request)
    hourly = ingest([str(p)], IngestOptions(processes=1, bucket_auto=False))
    assert hourly.bucket_seconds == 3600 and hourly.by_time["bucket"].n_unique() > 1500
