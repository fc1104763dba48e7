"""`proxylab audit` aggregates equal an independent line-by-line computation.

The reference below is deliberately naive Python (str.split per line), sharing no
code with the polars engine, run over seeded synthetic logs with padding widths
1-8, failures and malformed lines, as plain, gzip, rotated directories, globs and
stdin.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
from collections import Counter, defaultdict

import pytest

from proxylab.audit.ingest import IngestOptions, ingest
from proxylab.audit.synth import SynthOptions, iter_lines, write_log
from proxylab.cli import main

CS = re.compile(r"^[A-Z][A-Z0-9_]*/\d{3}$")


def reference(lines, since=None, until=None, clients=None):
    """host -> {"requests", "bytes", "statuses"}, plus (lines, malformed) — per line."""
    hosts: dict = defaultdict(lambda: {"requests": 0, "bytes": 0, "statuses": Counter()})
    n = bad = 0
    for line in lines:
        n += 1
        f = line.rstrip("\n").split()
        if (len(f) != 10 or line.startswith(" ") or not CS.match(f[3]) or not f[4].isdigit()
                or not re.fullmatch(r"\d+\.\d+", f[0])):
            bad += 1
            continue
        ts = float(f[0])
        if (since is not None and ts < since) or (until is not None and ts >= until):
            continue
        if clients is not None and f[2] not in clients:
            continue
        url = f[6]
        hp = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else url
        host = hp.rsplit(":", 1)[0] if hp.count(":") == 1 else hp
        h = hosts[host.lower()]
        h["requests"] += 1
        h["bytes"] += int(f[4])
        h["statuses"][f[3].split("/")[1]] += 1
    return {k: {**v, "statuses": dict(v["statuses"])} for k, v in hosts.items()}, n, bad


def audit_json(capsys, *args) -> dict:
    rc = main(["audit", *args, "--format", "json", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def hosts_of(doc: dict) -> dict:
    return {h["host"]: {"requests": h["requests"], "bytes": h["bytes"],
                        "statuses": h["statuses"]} for h in doc["hosts"]}


def read_text(path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return fh.readlines()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("audit")
    rot = d / "rotated"
    rot.mkdir()
    files = {
        "plain": d / "access.log",
        "gz": d / "access.log.gz",
        "rot0": rot / "access.log",
        "rot1": rot / "access.log.1",
        "rot2": rot / "access.log.2.gz",
    }
    for i, path in enumerate(files.values()):
        write_log(str(path), SynthOptions(lines=6000 + 1000 * i, seed=10 + i,
                                          malformed_ratio=0.02))
    return files


def test_plain_file_matches_reference(logs, capsys):
    doc = audit_json(capsys, str(logs["plain"]))
    ref, n, bad = reference(read_text(logs["plain"]))
    assert hosts_of(doc) == ref
    assert doc["summary"]["lines"] == n and doc["summary"]["malformed"] == bad > 0
    assert len(doc["malformed_samples"]) > 0


def test_gzip_matches_reference(logs, capsys):
    doc = audit_json(capsys, str(logs["gz"]))
    ref, n, bad = reference(read_text(logs["gz"]))
    assert hosts_of(doc) == ref
    assert (doc["summary"]["lines"], doc["summary"]["malformed"]) == (n, bad)


def test_rotated_directory_and_glob_match_reference(logs, capsys):
    lines = [ln for k in ("rot0", "rot1", "rot2") for ln in read_text(logs[k])]
    ref, n, _ = reference(lines)
    by_dir = audit_json(capsys, str(logs["rot0"].parent))
    assert hosts_of(by_dir) == ref and by_dir["summary"]["lines"] == n
    by_glob = audit_json(capsys, str(logs["rot0"].parent / "access.log*"))
    assert hosts_of(by_glob) == ref
    assert len(by_glob["summary"]["sources"]) == 3


def test_stdin(logs, capsys, monkeypatch):
    data = logs["gz"].read_bytes()

    class FakeStdin:
        buffer = io.BufferedReader(io.BytesIO(data))

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    doc = audit_json(capsys, "-")
    assert hosts_of(doc) == reference(read_text(logs["gz"]))[0]


def test_small_chunks_give_the_same_aggregates(logs):
    """Chunk boundaries (and carried partial lines) must not change any count."""
    big = ingest([str(logs["plain"])])
    small = ingest([str(logs["plain"])], IngestOptions(chunk_bytes=4096))
    key = ["hostport", "method", "cs"]
    assert big.by_request.sort(key).equals(small.by_request.sort(key))
    assert big.by_time.sort(["hostport", "bucket"]).equals(
        small.by_time.sort(["hostport", "bucket"]))
    assert (big.lines, big.malformed) == (small.lines, small.malformed)


def test_since_until_and_client_cidr_filters(logs, capsys):
    lines = read_text(logs["plain"])
    ts = [float(ln.split()[0]) for ln in lines if re.match(r"^\d+\.\d+ ", ln)]
    since, until = ts[len(ts) // 4], ts[len(ts) // 2]
    doc = audit_json(capsys, str(logs["plain"]), "--since", str(since), "--until", str(until),
                     "--client-cidr", "10.1.143.0/24")
    ref, _, _ = reference(lines, since, until, clients={"10.1.143.211", "10.1.143.212"})
    assert hosts_of(doc) == ref
    assert doc["summary"]["filtered_out"] > 0


def test_padding_widths_and_trailing_line_without_newline(tmp_path, capsys):
    rows = [f"1748149505.{i:03d}{' ' * w}{i} 10.1.143.211 TCP_TUNNEL/200 {100 + w} CONNECT "
            f"h{w}.example.com:443 - HIER_DIRECT/198.18.1.10 -" for i, w in enumerate(range(1, 9))]
    p = tmp_path / "pad.log"
    p.write_text("\n".join(rows))  # no final newline
    doc = audit_json(capsys, str(p))
    assert {h["host"]: h["bytes"] for h in doc["hosts"]} == {
        f"h{w}.example.com": 100 + w for w in range(1, 9)}


def test_seed_line_fields(tmp_path, capsys):
    p = tmp_path / "seed.log"
    p.write_text(
        "1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT www.google.com:443"
        " - HIER_DIRECT/172.217.31.164 -\n"
        "1748149506.001      0 10.1.143.211 TCP_TUNNEL/503 0 CONNECT "
        "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com:443 - HIER_NONE/- -\n"
        "1748149507.100     20 10.1.143.211 TCP_MISS/200 512 GET "
        "http://user@proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com:80/k?x=1 - "
        "HIER_DIRECT/198.18.16.10 text/csv\n")
    doc = audit_json(capsys, str(p))
    h = {x["host"]: x for x in doc["hosts"]}
    assert h["www.google.com"]["statuses"] == {"200": 1} and h["www.google.com"]["ports"] == [443]
    api = h["p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com"]
    assert api["squid_codes"] == {"TCP_TUNNEL": 1} and api["statuses"] == {"503": 1}
    s3 = h["proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com"]
    assert (s3["ports"], s3["methods"], s3["bytes"]) == ([80], ["GET"], 512)
    assert doc["summary"]["first_seen"] == "2025-05-25T05:05:05.823000Z"


def test_common_and_combined_logformats(tmp_path, capsys):
    common = tmp_path / "common.log"
    common.write_text(
        '10.1.143.211 - - [25/May/2025:05:05:05 +0000] "CONNECT www.google.com:443 HTTP/1.1"'
        " 200 19109 TCP_TUNNEL:HIER_DIRECT\n"
        '10.1.143.211 - - [25/May/2025:07:05:05 +0200] "GET http://s3.amazonaws.com/b/k '
        'HTTP/1.1" 403 250 TCP_MISS:HIER_DIRECT\n')
    combined = tmp_path / "combined.log"
    combined.write_text(
        '10.1.143.211 - - [25/May/2025:05:05:05 +0000] "CONNECT sqs.us-east-1.amazonaws.com:443 '
        'HTTP/1.1" 200 42 "-" "Boto3/1.34  Python/3.12" TCP_TUNNEL:HIER_DIRECT\n')
    doc = audit_json(capsys, str(common), str(combined))
    h = {x["host"]: x for x in doc["hosts"]}
    assert h["www.google.com"]["bytes"] == 19109
    assert h["s3.amazonaws.com"]["statuses"] == {"403": 1}
    assert h["sqs.us-east-1.amazonaws.com"]["squid_codes"] == {"TCP_TUNNEL": 1}
    assert [s["format"] for s in doc["summary"]["sources"]] == ["common", "combined"]
    # +0200 is honoured: both common lines fall on 05:05:05Z
    assert doc["summary"]["first_seen"] == doc["summary"]["last_seen"] == "2025-05-25T05:05:05Z"


def test_line_longer_than_a_chunk(tmp_path):
    p = tmp_path / "long.log"
    url = "http://example.com/" + "a" * 10000
    p.write_text("garbage " * 2000 + "\n" + f"1748149505.823 1 10.0.0.1 TCP_MISS/200 7 GET {url}"
                 " - HIER_DIRECT/1.2.3.4 -\n")
    agg = ingest([str(p)], IngestOptions(chunk_bytes=1024))
    assert (agg.lines, agg.parsed, agg.malformed) == (2, 1, 1)
    assert agg.by_request["hostport"].to_list() == ["example.com"]


def test_truncated_and_multi_member_gzip(tmp_path):
    lines = list(iter_lines(SynthOptions(lines=3000, seed=4)))
    whole = gzip.compress("".join(lines[:1500]).encode()) + gzip.compress(
        "".join(lines[1500:]).encode())
    p = tmp_path / "multi.gz"
    p.write_bytes(whole)
    agg = ingest([str(p)])
    assert (agg.lines, agg.parsed, agg.sources[0].error) == (3000, 3000, None)
    t = tmp_path / "trunc.gz"
    t.write_bytes(gzip.compress("".join(lines).encode())[:20000])
    agg = ingest([str(t)])
    assert agg.sources[0].error and "ended before" in agg.sources[0].error
    assert 0 < agg.parsed < 3000 and agg.malformed <= 1


@pytest.mark.parametrize("bad_value", [False, True])
def test_arrow_reader_matches_polars_reader(tmp_path, bad_value):
    """--engine arrow: same counts, including malformed lines and its polars fallback
    (a non-numeric size fails Arrow's typed read for that chunk)."""
    p = tmp_path / "mix.log"
    lines = list(iter_lines(SynthOptions(lines=5000, seed=21, malformed_ratio=0.02)))
    if bad_value:
        lines.insert(100, "1748149505.823 1 10.0.0.1 TCP_MISS/200 12x GET http://a.example/ - "
                          "HIER_DIRECT/1.2.3.4 -\n")
    p.write_text("".join(lines))
    ref, n, bad = reference(lines)
    key = ["hostport", "method", "cs"]
    for engine in ("polars", "arrow"):
        agg = ingest([str(p)], IngestOptions(engine=engine, chunk_bytes=64 << 10))
        assert (agg.lines, agg.malformed) == (n, bad), engine
        assert sum(agg.by_request["requests"]) == sum(h["requests"] for h in ref.values())
        assert agg.samples and all(s.line is not None for s in agg.samples)
    a = ingest([str(p)], IngestOptions(engine="arrow")).by_request.sort(key)
    b = ingest([str(p)], IngestOptions(engine="polars")).by_request.sort(key)
    assert a.equals(b)
