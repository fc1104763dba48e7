"""Audit engines: on the benchmark-shaped logs (plain, gzip, rotated), DuckDB, chDB
(the ClickHouse dialect in-process), Spark local mode and a ClickHouse HTTP server give
the aggregates the in-process `proxylab audit --format json` gives (the oracle: a
different reader, the streaming polars one); the aggregates file carries them to the
recommendation step unchanged; each engine refuses what it cannot do, saying why.

Spark needs a JDK: without one its tests say how to install it (`make jdk` or
`proxylab setup jdk`) instead of running; with one, a single Spark session serves the
whole module (start-up ~10-20 s, paid once).
"""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from proxylab.audit.synth import SynthOptions, write_log
from proxylab.cli import main
from proxylab.errors import UserError

JDK_HOWTO = ("no JDK on this machine, so the Spark engine's test cannot run: install one "
             "with `make jdk` (= `proxylab setup jdk`: apt-get install default-jdk-headless)")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Small logs of the benchmark generator's shapes (benchmarks/gen_squid_log.py)."""
    d = tmp_path_factory.mktemp("enginelogs")
    plain, gz = d / "access.log", d / "access.log.3.gz"
    write_log(str(plain), SynthOptions(lines=12_000, seed=11, malformed_ratio=0.01))
    write_log(str(gz), SynthOptions(lines=8_000, seed=12, malformed_ratio=0.01))
    rotated = d / "rotated"
    rotated.mkdir()
    write_log(str(rotated / "access.log"), SynthOptions(lines=5_000, seed=13))
    write_log(str(rotated / "access.log.1"), SynthOptions(lines=5_000, seed=14,
                                                          malformed_ratio=0.02))
    write_log(str(rotated / "access.log.2.gz"), SynthOptions(lines=5_000, seed=15))
    (rotated / "access.log.3").write_bytes(b"")  # an empty rotation: a source of 0 lines
    return {"plain": str(plain), "gzip": str(gz), "rotated": str(rotated)}


_oracle_cache: dict = {}


def cli_json(args: list[str]) -> dict:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["audit", "--format", "json", "--no-progress", *args]) == 0
    return json.loads(buf.getvalue())


def oracle(path: str, *extra: str) -> dict:
    key = (path, extra)
    if key not in _oracle_cache:
        _oracle_cache[key] = cli_json([path, *extra])
    return _oracle_cache[key]


def as_json(agg) -> dict:
    from proxylab.audit.report import build_result, to_json_obj

    return json.loads(json.dumps(to_json_obj(build_result(agg)), default=str))


def assert_same_audit(got: dict, expected: dict) -> None:
    # summary: lines, parsed, malformed, filtered, first/last, and per source file
    assert got["summary"] == expected["summary"]
    assert got["hosts"] == expected["hosts"]  # per host: methods, statuses, codes, bytes
    assert got["timeline"] == expected["timeline"]
    assert got["services"] == expected["services"]
    assert got["recommendations"] == expected["recommendations"]

    def key(c):
        return (c["client"], c["requests"], c["bytes"])

    assert sorted(got["clients"], key=key) == sorted(expected["clients"], key=key)
    # samples: the same number, each a line the in-process reader also found malformed
    assert len(got["malformed_samples"]) == len(expected["malformed_samples"])


@pytest.fixture(scope="module")
def spark_engine():
    pytest.importorskip("pyspark", reason="pyspark is an extra: pip install -e '.[spark]'")
    from proxylab.audit.engines.spark import SparkEngine, java_home

    if java_home() is None:
        pytest.skip(JDK_HOWTO)
    engine = SparkEngine("local[2]")
    spark = engine.spark()  # the module's one session
    yield engine
    spark.stop()


def _engine(name: str, request):
    if name == "spark":
        return request.getfixturevalue("spark_engine")
    pytest.importorskip(name, reason=f"{name} is an extra: pip install -e '.[{name}]'")
    from proxylab.audit.engines import get_engine

    return get_engine(name)


@pytest.mark.parametrize("kind", ["plain", "gzip", "rotated"])
@pytest.mark.parametrize("name", ["duckdb", "chdb", "spark"])
def test_engine_aggregates_equal_the_in_process_audit(name, kind, logs, request):
    from proxylab.audit.engines import run_engine
    from proxylab.audit.options import IngestOptions

    engine = _engine(name, request)
    expected = oracle(logs[kind])
    assert expected["summary"]["malformed"] > 0 or kind == "rotated"
    got = as_json(run_engine(engine, [logs[kind]], IngestOptions()))
    assert_same_audit(got, expected)
    if kind == "rotated":
        names = [s["name"] for s in got["summary"]["sources"]]
        assert len(names) == 4 and names[-1].endswith("access.log.3")


@pytest.mark.parametrize("name", ["duckdb", "chdb", "spark"])
def test_engine_time_window_and_bucket_equal_the_in_process_audit(name, logs, request):
    from proxylab.audit.engines import run_engine
    from proxylab.audit.options import IngestOptions, parse_time

    engine = _engine(name, request)
    full = oracle(logs["plain"])
    since, until = full["summary"]["first_seen"], full["summary"]["last_seen"]
    # a window strictly inside the log: some records are filtered out on both sides
    t0, t1 = parse_time(since), parse_time(until)
    lo, hi = t0 + (t1 - t0) / 4, t0 + (t1 - t0) * 3 / 4
    expected = oracle(logs["plain"], "--since", repr(lo), "--until", repr(hi), "--bucket", "600")
    assert expected["summary"]["filtered_out"] > 0
    opts = IngestOptions(since=lo, until=hi, bucket_seconds=600)
    assert_same_audit(as_json(run_engine(engine, [logs["plain"]], opts)), expected)


EDGE_LINES = [
    "1748149505.823 {pad}135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT "
    "sts.amazonaws.com:443 - HIER_DIRECT/1.2.3.4 -".format(pad=" " * n) for n in range(6)
] + [
    "1748149505.823 135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT sts.amazonaws.com:443 - "
    "HIER_DIRECT/1.2.3.4 - ",  # trailing space
    "1748149505.823 135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT sts.amazonaws.com:443 - "
    "HIER_DIRECT/1.2.3.4 -\r",  # CRLF line end: one "\r" is part of the line end
    "1748149505.823 135 10.1.143.211 TCP_MISS/200 19 GET http://[2001:db8::1]:8080/x - "
    "HIER_DIRECT/2001:db8::1 text/html",  # bracketed IPv6 authority
    "1748149505.823 135 10.1.143.211 TCP_TUNNEL/20 19109 CONNECT sts.amazonaws.com:443 - "
    "HIER_DIRECT/1.2.3.4 -",  # status not 3 digits
    "9300000000 135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT sts.amazonaws.com:443 - "
    "HIER_DIRECT/1.2.3.4 -",  # beyond MAX_EPOCH
    "",  # blank: a line, not a record
]


@pytest.mark.parametrize("name", ["duckdb", "chdb", "spark"])
def test_engine_edge_lines_follow_the_grammar(name, tmp_path, request):
    from proxylab.audit.engines import run_engine
    from proxylab.audit.options import IngestOptions

    engine = _engine(name, request)
    path = tmp_path / "edge.log"
    lines = list(EDGE_LINES)
    if name == "duckdb":  # its CSV reader takes "\r" for a line end: refused, not miscounted
        path.write_bytes(("\n".join(lines) + "\n").encode())
        with pytest.raises(UserError, match="carriage returns.*--engine chdb"):
            run_engine(engine, [str(path)], IngestOptions())
        lines = [ln for ln in lines if "\r" not in ln]
    path.write_bytes(("\n".join(lines) + "\n").encode())
    expected = cli_json([str(path)])
    assert (expected["summary"]["lines"], expected["summary"]["parsed"]) == (
        len(lines), 8 - (len(lines) < len(EDGE_LINES)))
    assert_same_audit(as_json(run_engine(engine, [str(path)], IngestOptions())), expected)


def test_engines_refuse_what_they_cannot_do(logs, tmp_path, monkeypatch):
    from proxylab.audit.engines import aggregate
    from proxylab.audit.options import IngestOptions

    pytest.importorskip("duckdb")
    with pytest.raises(UserError, match="--client-cidr.*--engine polars"):
        aggregate("duckdb", [logs["plain"]], IngestOptions(
            client_cidrs=(__import__("ipaddress").ip_network("10.0.0.0/8"),)))
    with pytest.raises(UserError, match="standard input"):
        aggregate("duckdb", ["-"])
    misnamed = tmp_path / "access.log.1"
    misnamed.write_bytes(gzip.compress(b"x\n"))
    with pytest.raises(UserError, match="gzip but named without .gz"):
        aggregate("duckdb", [str(misnamed)])
    common = tmp_path / "common.log"
    common.write_text('10.0.0.1 - - [25/May/2025:05:05:05 +0000] "GET http://a.b/ HTTP/1.1" '
                      "200 12 TCP_MISS:HIER_DIRECT\n" * 3)
    with pytest.raises(UserError, match="common format.*--engine polars"):
        aggregate("duckdb", [str(common)])
    truncated = tmp_path / "cut.log.gz"
    truncated.write_bytes(Path(logs["gzip"]).read_bytes()[:20_000])
    with pytest.raises(UserError, match=r"audit engine 'duckdb' failed on .*cut.log.gz: .*GZIP"):
        aggregate("duckdb", [str(truncated)])
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    with pytest.raises(UserError, match="--clickhouse-url"):
        aggregate("clickhouse", ["logs/*.gz"])
    with pytest.raises(UserError, match="no audit engine 'spork'; did you mean 'spark'"):
        aggregate("spork", [logs["plain"]])


def test_spark_without_a_jdk_says_how_to_install_one(monkeypatch):
    pytest.importorskip("pyspark", reason="pyspark is an extra: pip install -e '.[spark]'")
    from proxylab.audit.engines import spark

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(UserError, match=r"proxylab setup jdk.*default-jdk-headless"):
        spark.SparkEngine().require()


def test_a_registered_engine_is_used_by_name(logs):
    """Third-party engines plug in as papermill's do: register a name, run by name."""
    from proxylab.audit.engines import AuditEngine, aggregate, audit_engines
    from proxylab.audit.ingest import ingest

    seen = []

    class Recording(AuditEngine):
        name = "recording"

        def aggregate(self, paths, opts, progress=None):
            seen.append(paths)
            return ingest(paths, opts)

    audit_engines.register("recording", Recording)
    try:
        agg = aggregate("recording", [logs["plain"]])
    finally:
        audit_engines._engines.pop("recording")
    assert seen == [[logs["plain"]]] and agg.lines == oracle(logs["plain"])["summary"]["lines"]


# ------------------------------------------------------------------ aggregates file


def test_aggregates_file_carries_any_engines_aggregates_to_the_report(logs, tmp_path):
    pytest.importorskip("chdb")
    saved = tmp_path / "agg.json.gz"
    expected = cli_json([logs["rotated"], "--engine", "chdb", "--save-aggregates", str(saved)])
    obj = json.loads(gzip.decompress(saved.read_bytes()))
    assert (obj["format"], obj["version"], obj["engine"]) == (
        "proxylab.audit.aggregates", 1, "chdb")
    assert_same_audit(cli_json(["--from-aggregates", str(saved)]), expected)
    assert_same_audit(expected, oracle(logs["rotated"]))


def test_aggregates_file_of_another_format_or_version_is_refused(tmp_path):
    from proxylab.audit import aggfile

    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"format": aggfile.FORMAT, "version": aggfile.VERSION + 1}))
    with pytest.raises(UserError, match="version 2; this proxylab reads up to version 1"):
        aggfile.read(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(UserError, match="not a proxylab aggregates file"):
        aggfile.read(bad)
    bad.write_text("{nope")
    with pytest.raises(UserError, match="not a JSON aggregates file"):
        aggfile.read(bad)


def test_query_results_directory_reads_as_aggregates(logs, tmp_path):
    """Results of the printed SQL saved as CSV (as from the Athena console) are
    aggregates too."""
    duckdb = pytest.importorskip("duckdb")
    from proxylab.audit import aggfile
    from proxylab.audit import sql as auditsql

    stmts = auditsql.statements(auditsql.script("duckdb", logs["gzip"], bucket_seconds=3600))
    n = len(auditsql.QUERY_NAMES)
    con = duckdb.connect()
    for s in stmts[:-n]:
        if "audit_rules" not in s:
            con.execute(s)
    for name, q in zip(auditsql.QUERY_NAMES, stmts[-n:], strict=True):
        if name != "hosts":
            con.sql(q).write_csv(str(tmp_path / f"{name}.csv"))
    got = as_json(aggfile.read(tmp_path, 3600))
    expected = oracle(logs["gzip"])
    for k in ("hosts", "timeline", "recommendations"):
        assert got[k] == expected[k]
    assert got["summary"]["lines"] == expected["summary"]["lines"]


def test_notebook_helper_reads_an_aggregates_file(logs, tmp_path):
    from proxylab.audit import aggfile, nb
    from proxylab.audit.ingest import ingest

    path = aggfile.write(ingest([logs["plain"]]), tmp_path / "agg.json", "polars")
    res = nb.audit([], aggregates=str(path), check_botocore=False)
    assert res.summary["lines"] == oracle(logs["plain"])["summary"]["lines"]
    assert [h["host"] for h in res.host_rows] == [h["host"] for h in oracle(logs["plain"])["hosts"]]


# ------------------------------------------------------------------ ClickHouse over HTTP


class _ChdbHttp(BaseHTTPRequestHandler):
    """ClickHouse's HTTP interface (POST a statement; session_id; default_format) in
    front of chDB: the real ClickHouse engine, on the loopback, for the HTTP client."""

    sessions: dict = {}
    stall = threading.Event()

    def do_POST(self):  # noqa: N802 - http.server's name
        q = parse_qs(urlsplit(self.path).query)
        sql = self.rfile.read(int(self.headers["Content-Length"])).decode()
        if self.stall.is_set():
            import time

            time.sleep(3)  # never answers in time: the client's timeout fires
            return
        from chdb import session

        sid = q.get("session_id", [""])[0]
        s = self.sessions.setdefault(sid, session.Session())
        try:
            fmt = q.get("default_format", [None])[0]
            res = s.query(sql, fmt) if fmt else s.query(sql)
            body, code = (res.bytes() if fmt else b""), 200
        except Exception as exc:  # noqa: BLE001 - the server's error answer
            body, code = f"Code: 62. DB::Exception: {exc}".encode(), 500
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def clickhouse_url():
    pytest.importorskip("chdb")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChdbHttp)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=10)
        _ChdbHttp.stall.clear()
        for s in _ChdbHttp.sessions.values():
            s.close()
        _ChdbHttp.sessions.clear()


def test_clickhouse_server_engine_equals_the_in_process_audit(logs, clickhouse_url):
    # the server reads the files itself: here it is on this machine, so a glob it resolves
    got = cli_json([logs["rotated"] + "/access.log*", "--engine", "clickhouse",
                    "--clickhouse-url", clickhouse_url, "--clickhouse-timeout", "60"])
    expected = oracle(logs["rotated"])
    for k in ("hosts", "timeline", "services", "recommendations"):
        assert got[k] == expected[k]
    for k in ("lines", "parsed", "malformed", "first_seen", "last_seen"):
        assert got["summary"][k] == expected["summary"][k]
    # the engine names the sources behind the glob (the empty rotation has no line)
    assert {s["name"] for s in got["summary"]["sources"]} == {
        s["name"] for s in expected["summary"]["sources"] if s["lines"]}


def test_clickhouse_server_that_does_not_answer_times_out(logs, clickhouse_url):
    from proxylab.audit.engines import aggregate

    _ChdbHttp.stall.set()
    with pytest.raises(UserError, match="did not answer within 0.5 s"):
        aggregate("clickhouse", [logs["plain"]], clickhouse_url=clickhouse_url,
                  clickhouse_timeout=0.5)


def test_cli_input_is_logs_or_aggregates_not_both(logs, tmp_path, capsys):
    from proxylab.audit import aggfile
    from proxylab.audit.ingest import ingest

    saved = aggfile.write(ingest([logs["gzip"]]), tmp_path / "a.json", "polars")
    for args, said in [([], "no input"),
                       ([logs["gzip"], "--from-aggregates", str(saved)], "not both"),
                       (["--from-aggregates", str(saved), "--since", "0"], "already reduced")]:
        capsys.readouterr()
        assert main(["audit", *args]) == 2
        assert said in capsys.readouterr().err


def test_spark_cluster_master_comes_from_sparks_own_settings(tmp_path, monkeypatch):
    """A cluster named in spark-defaults.conf (or PYSPARK_SUBMIT_ARGS) is used, and its
    inputs are handed to it unread (they are on the cluster's file system)."""
    from proxylab.audit.engines.spark import SparkEngine

    for var in ("PYSPARK_SUBMIT_ARGS", "PROXYLAB_SPARK_MASTER", "SPARK_REMOTE", "SPARK_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert SparkEngine().master is None and SparkEngine().local_files
    (tmp_path / "spark-defaults.conf").write_text("spark.executor.memory 2g\n"
                                                  "spark.master   spark://head:7077\n")
    engine = SparkEngine()
    assert engine.master == "spark://head:7077" and not engine.local_files
    assert engine.locations(["hdfs:///squid/2026/*.gz"]) == "hdfs:///squid/2026/*.gz"
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", "--master yarn pyspark-shell")
    assert SparkEngine().master == "yarn"
    assert SparkEngine("local[2]").local_files
