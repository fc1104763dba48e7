"""The compiled reader (``--engine c``) gives the polars reader's aggregates, whole.

The oracle is the polars reader, itself held line for line to the grammar
(test_squid_grammar_property.py, which also compares the two readers chunk by chunk
on damaged lines) and to a naive per-line reference (test_audit_ingest.py, which runs
the default reader). Here: every way a log reaches a reader (plain, gzip, rotated sets,
several processes, small chunks), the filters, the timeline's bucket, and the fields
the C code computes itself (numbers at their limits, times past 2^53 as digits).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace

import pytest
from test_squid_grammar_property import assert_same_chunk

from proxylab.audit import scan
from proxylab.audit.engines import DEFAULT, get_engine
from proxylab.audit.engines.base import EngineUnavailable
from proxylab.audit.ingest import IngestOptions, ingest
from proxylab.audit.options import parse_time
from proxylab.audit.reduce import process_chunk
from proxylab.audit.synth import SynthOptions, iter_lines, write_log
from proxylab.cli import main

if not scan.available():  # make venv builds it; say how instead of skipping
    pytest.fail("the compiled audit reader is not built: run `make venv` (needs gcc: "
                "apt-get install gcc)", pytrace=False)


def same(a, b) -> None:
    """Two Aggregates: every count, sample and table equal (tables are sorted totally)."""
    assert [vars(s) for s in a.sources] == [vars(s) for s in b.sources]
    assert [vars(s) for s in a.samples] == [vars(s) for s in b.samples]
    assert a.bucket_seconds == b.bucket_seconds
    for x, y in ((a.by_request, b.by_request), (a.by_time, b.by_time),
                 (a.by_client, b.by_client)):
        assert x.equals(y)


def both(paths, **kw):
    got = ingest([str(p) for p in paths], IngestOptions(engine="c", **kw))
    want = ingest([str(p) for p in paths], IngestOptions(engine="polars", **kw))
    same(got, want)
    return got


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("scan")
    rot = d / "rotated"
    rot.mkdir()
    out = {"plain": d / "access.log", "gz": d / "access.log.gz", "month": d / "month.log"}
    write_log(str(out["plain"]), SynthOptions(lines=40_000, seed=3, malformed_ratio=0.01))
    write_log(str(out["gz"]), SynthOptions(lines=8000, seed=4, malformed_ratio=0.01))
    # 80 days: more hours than MAX_BUCKETS, so the timeline's bucket grows
    write_log(str(out["month"]), SynthOptions(lines=20_000, seed=5, malformed_ratio=0.01,
                                              seconds_per_line=80 * 86400 / 20_000))
    for k, name in enumerate(["access.log", "access.log.1", "access.log.2.gz"]):
        write_log(str(rot / name), SynthOptions(lines=5000 + k, seed=6 + k,
                                                malformed_ratio=0.01))
    out["rotated"] = rot
    return out


def test_default_engine_is_the_compiled_reader():
    assert DEFAULT == "c" and IngestOptions().engine == "c"


@pytest.mark.parametrize("kind", ["plain", "gz", "month"])
def test_files_as_polars_reads_them(logs, kind):
    agg = both([logs[kind]])
    assert agg.malformed > 0 and agg.samples
    if kind == "month":
        assert agg.bucket_seconds > 3600


def test_small_chunks_and_processes(logs):
    both([logs["plain"]], chunk_bytes=64 << 10)
    agg = both([logs["plain"]], processes=2, parallel_min_bytes=1, parallel_chunk_bytes=256 << 10)
    assert agg.lines == 40_000


def test_rotated_set_in_processes(logs):
    both([logs["rotated"]], processes=2, parallel_min_bytes=1)


def test_window_and_bucket(logs):
    lines = list(iter_lines(SynthOptions(lines=200, seed=3)))
    ts = sorted(float(ln.split()[0]) for ln in lines)
    since, until = ts[50], ts[150]  # boundaries on real record times: >= and <
    agg = both([logs["plain"]], since=since, until=until, bucket_seconds=600, bucket_auto=False)
    assert agg.filtered > 0 and agg.bucket_seconds == 600
    both([logs["plain"]], since=parse_time("2025-05-25T06:00Z"))


def test_client_cidr_goes_to_polars(logs):
    from ipaddress import ip_network

    opts = IngestOptions(engine="c", client_cidrs=(ip_network("10.0.0.0/8"),))
    assert not scan.handles("native", opts)
    assert scan.handles("native", replace(opts, client_cidrs=()))
    assert not scan.handles("common", replace(opts, client_cidrs=()))
    both([logs["gz"]], client_cidrs=(ip_network("10.0.0.0/8"),))


@pytest.mark.parametrize("line", [
    # time digits past 2^53 (strtod's path) and at every fraction length
    "1748149505.823456789 1 10.0.0.1 TCP_MISS/200 5 GET http://a.example/x - HIER_DIRECT/1.2.3.4 -",
    "9199999999.999999999 1 10.0.0.1 TCP_MISS/200 5 GET a.example:443 - HIER_NONE/ -",
    "1748149505 1 10.0.0.1 TCP_MISS/200 5 GET a.example:443 - HIER_NONE/- -",
    "1748149505.1 1 10.0.0.1 TCP_MISS/200 5 GET a.example:443 - HIER_NONE/- -",
    "0000000001.5        999999999999999999 - NONE_NONE/000 999999999999999999 - - - H/x -",
    "1748149505.823 1 10.0.0.1 TCP_MISS/200 5 GET http:// - HIER_DIRECT/1.2.3.4 -",
    "1748149505.823 1 10.0.0.1 TCP_MISS/200 5 GET ftp://u@h:21://x/y/z - HIER_DIRECT/1.2.3.4 -",
    # malformed at the limits
    "9200000000 1 10.0.0.1 TCP_MISS/200 5 GET a.example:443 - HIER_NONE/- -",
    "1748149505.8234567891 1 10.0.0.1 TCP_MISS/200 5 GET a:443 - HIER_NONE/- -",
    "17481495050 1 10.0.0.1 TCP_MISS/200 5 GET a:443 - HIER_NONE/- -",
    "1748149505.823 1 10.0.0.1 TCP_MISS/200 1000000000000000000 GET a:443 - HIER_NONE/- -",
    "1748149505.823 1 10.0.0.1 TCP_MISS/2000 5 GET a:443 - HIER_NONE/- -",
    "1748149505.823 1 10.0.0.1 TCP_MISS/200 5 GET a:443 - HIER_NONE/- - ",
    "1748149505.823 1 10.0.0.1 TCP_MISS/200 5 GET a:443 - hier/- -",
])
def test_edge_lines(line):
    for ending in ("\n", "\r\n", "\r\r\n"):
        data = (line + ending) * 3 + "\n" + line + ending  # and a blank line
        got = process_chunk(data.encode(), "native", IngestOptions(engine="c"), want_samples=9)
        buf = bytes(bytearray(data.encode()))
        want = process_chunk(buf, "native", IngestOptions(engine="polars"), want_samples=9)
        assert_same_chunk(got, want)


def test_cli_json_is_the_same(logs, capsys):
    docs = []
    for engine in ("c", "polars"):
        assert main(["audit", str(logs["plain"]), "--format", "json", "--no-progress",
                     "--engine", engine]) == 0
        docs.append(json.loads(capsys.readouterr().out))
    assert docs[0] == docs[1]


def test_unbuilt_reader_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setattr(scan, "available", lambda: False)
    with pytest.raises(EngineUnavailable, match="make venv"):
        get_engine("c").require()
    p = tmp_path / "a.log.gz"
    p.write_bytes(gzip.compress(b""))
    assert ingest([str(p)], IngestOptions(engine="polars")).lines == 0


def test_month_in_processes_grows_the_bucket_in_each_and_merges(logs):
    agg = both([logs["month"]], processes=2, parallel_min_bytes=1,
               parallel_chunk_bytes=128 << 10)
    assert agg.bucket_seconds > 3600


def _folded(raw) -> dict:
    from proxylab.audit.reduce import frames

    req, tim, cli = frames(raw)
    return {"req": req.sort(["hostport", "method", "cs"]), "tim": tim.sort(["hostport", "bucket"]),
            "cli": cli.sort("client")}


def _equal(a: dict, b: dict) -> None:
    for k in a:
        assert a[k].equals(b[k]), k


def test_folder_add_take_and_rebucket_equal_polars_folds(logs):
    """add(take()) of two halves = one folder fed both; rebucket = the accumulator's
    polars re-bucketing; two threads feeding one folder = one thread (its lock)."""
    import threading

    from proxylab.audit.reduce import Accumulator, frames

    data = logs["month"].read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    halves = [data[:cut], data[cut:]]
    opts = IngestOptions(engine="c")
    whole = scan.folder(opts)
    for h in halves:
        scan.feed(whole, h, 0)
    parts = [scan.folder(opts) for _ in halves]
    for f, h in zip(parts, halves, strict=True):
        scan.feed(f, h, 0)
    merged = scan.folder(opts)
    for f in parts:
        merged.add(*f.take())
    assert parts[0].size == 0
    want = whole.take()
    _equal(_folded(merged.take()), _folded(want))

    acc = Accumulator(bucket=3600)
    acc.merge(*frames(want))
    acc.compact()
    acc._grow(86400)
    again = scan.folder(opts)
    again.add(*want)
    again.rebucket(86400)
    assert again.bucket == 86400 and again.buckets == acc.tim["bucket"].n_unique()
    got = _folded(again.take())
    assert got["tim"].equals(acc.tim.sort(["hostport", "bucket"]))
    with pytest.raises(ValueError, match="multiple"):
        again.rebucket(5000)

    shared = scan.folder(opts)
    chunks = [data[i: data.index(b"\n", i + 50_000) + 1]
              for i in range(0, len(data) - 60_000, 50_000)]
    chunks = [c[c.index(b"\n") + 1:] if k else c for k, c in enumerate(chunks)]
    serial = scan.folder(opts)
    for c in chunks:
        scan.feed(serial, c, 0)
    threads = [threading.Thread(target=lambda part=chunks[k::2]: [scan.feed(shared, c, 0)
                                                                  for c in part])
               for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _equal(_folded(shared.take()), _folded(serial.take()))


def test_folder_refuses_what_it_cannot_fold():
    from proxylab.audit._scan import Folder

    with pytest.raises(ValueError):
        Folder(0, None, None, 9.2e9)
    f = Folder(3600, None, None, 9.2e9)
    with pytest.raises(ValueError, match="take"):
        f.add((["a"], [], [], b"", b"", b"", b""), ([], b"", b"", b""), ([], b"", b""))
    with pytest.raises(RuntimeError, match="__init__"):
        Folder.__new__(Folder).take()
