"""The audit as SQL: the printed SQL follows the grammar (padding, malformed lines), the
rules table joined in SQL classifies every host as the in-process classifier does, and
the Athena/ClickHouse/Spark dialects parse. (Each engine's aggregates against the
in-process audit's: test_audit_engines.py.)"""

from __future__ import annotations

import csv
import io
import json

import pytest

from proxylab.audit.synth import SynthOptions, write_log
from proxylab.cli import main

duckdb = pytest.importorskip("duckdb", reason="duckdb is a test dependency: pip install -e .[test]")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("sqllogs")
    plain, gz = d / "access.log", d / "access.log.1.gz"
    write_log(str(plain), SynthOptions(lines=30_000, seed=7, malformed_ratio=0.01))
    write_log(str(gz), SynthOptions(lines=20_000, seed=8, malformed_ratio=0.01))
    return {"plain": plain, "gzip": gz}


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("rules") / "rules.parquet"
    assert main(["audit", "rules", "--format", "parquet", "--out", str(out)]) == 0
    return out


def _cli_json(capsys, path) -> dict:
    capsys.readouterr()
    assert main(["audit", "--format", "json", "--no-progress", str(path)]) == 0
    return json.loads(capsys.readouterr().out)


def duckdb_tables(location: str, rules: str | None = None) -> dict:
    """Every query of the printed DuckDB script, run as printed (rules joined if given)."""
    import polars as pl

    from proxylab.audit.sql import QUERY_NAMES, script, statements

    stmts = statements(script("duckdb", location, rules or ""))
    n = len(QUERY_NAMES)
    con = duckdb.connect()
    for s in stmts[:-n]:
        if rules or "audit_rules" not in s:
            con.execute(s)
    return {name: pl.from_arrow(con.sql(q).to_arrow_table())
            for name, q in zip(QUERY_NAMES, stmts[-n:], strict=True)
            if rules or name != "hosts"}


def test_padding_and_malformed_lines_follow_the_grammar(tmp_path, capsys):
    good = ("1748149505.823 {pad}135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT "
            "sts.amazonaws.com:443 - HIER_DIRECT/1.2.3.4 -")
    lines = [good.format(pad=" " * n) for n in range(0, 6)] + [
        good.format(pad="") + " ",  # trailing space
        good.format(pad="").replace(" 19109 ", "  19109 "),  # padding elsewhere
        good.format(pad="").replace("sts", "st\u00e9"),  # not ASCII
        good.format(pad="").replace("1748149505.823", "9300000000"),  # beyond MAX_EPOCH
        good.format(pad="").replace("/200", "/20"),  # status not 3 digits
        "",  # blank: a line, not a record
    ]
    path = tmp_path / "edge.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = duckdb_tables(str(path))["summary"].row(0, named=True)
    expected = _cli_json(capsys, path)["summary"]
    assert (summary["lines"], summary["parsed"], summary["malformed"]) == (
        expected["lines"], expected["parsed"], expected["malformed"]) == (12, 6, 6)


def test_rules_joined_in_sql_classify_like_the_audit(logs, rules_file, capsys):
    expected = _cli_json(capsys, logs["plain"])
    hosts = duckdb_tables(str(logs["plain"]), str(rules_file))["hosts"].to_dicts()
    by_host = {h["host"]: h for h in expected["hosts"]}
    assert len(hosts) == len(by_host)
    covered = {h: e["suffix"] for r in expected["recommendations"]["regions"]
               for e in r["entries"] for h in e["hosts"]}
    for h in hosts:
        exp = by_host[h["host"]]
        assert (h["requests"], h["bytes"]) == (exp["requests"], exp["bytes"])
        if exp["flavour"].startswith("vpce"):
            continue  # endpoint-specific names: no rule row (see proxylab.audit.rules)
        assert (h["is_aws"], h["service"], h["region"], h["partition"], h["flavour"]) == (
            exp["is_aws"], exp["service"], exp["region"], exp["partition"], exp["flavour"]
        ), h["host"]
        assert h["no_proxy"] == covered.get(h["host"]), h["host"]


def test_rules_carry_the_botocore_version(rules_file, capsys):
    import botocore
    import pyarrow.parquet as pq

    t = pq.read_table(rules_file)
    assert t.schema.metadata[b"proxylab.botocore_version"] == botocore.__version__.encode()
    assert set(t.column("botocore_version").to_pylist()) == {botocore.__version__}
    capsys.readouterr()
    assert main(["audit", "rules", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == t.num_rows
    s3 = next(r for r in rows if r["pattern"] == ".s3.eu-west-1.amazonaws.com")
    assert (s3["match"], s3["service"], s3["no_proxy"], s3["endpoint_kind"]) == (
        "suffix", "s3", "s3.eu-west-1.amazonaws.com", "gateway")


def test_sql_regex_is_the_grammar_pattern():
    import re

    from proxylab.audit.sql import group, sql_pattern
    from proxylab.grammar.squid import NATIVE_RE

    line = ("1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT "
            "www.google.com:443 - HIER_DIRECT/172.217.31.164 -")
    m = re.fullmatch(sql_pattern(), line)
    assert m is not None and "?P<" not in sql_pattern()
    for name in NATIVE_RE.groupindex:
        assert m.group(group(name)) == NATIVE_RE.fullmatch(line)[name]


def test_audit_sql_cli_prints_ddl_and_queries(capsys):
    capsys.readouterr()
    assert main(["audit", "sql", "--engine", "duckdb", "--location", "s3://b/logs/*.gz"]) == 0
    out = capsys.readouterr().out
    assert "read_csv('s3://b/logs/*.gz'" in out and "-- by_request" in out


@pytest.mark.parametrize("engine,dialect", [("athena", "athena"), ("clickhouse", "clickhouse"),
                                            ("spark", "spark")])
def test_athena_clickhouse_and_spark_sql_parse_in_their_dialect(engine, dialect):
    sqlglot = pytest.importorskip("sqlglot", reason="sqlglot is a test dependency")
    from proxylab.audit.sql import DIALECTS, QUERY_NAMES, script, sql_pattern, statements

    sql = script(engine, "s3://bucket/squid/*.gz", "s3://bucket/rules/")
    stmts = statements(sql)
    for name in QUERY_NAMES:
        assert f"-- {name}\n" in sql
    # lines (one relation, plus its table where the dialect needs one), rules, parsed, fine
    assert len(stmts) == len(QUERY_NAMES) + 4 + bool(DIALECTS[engine].file_ddl)
    parsed = [sqlglot.parse_one(s, read=dialect) for s in stmts]
    assert all(p is not None for p in parsed)
    # the regex literal arrives as the grammar wrote it, whatever the dialect's escaping
    literals = {lit.this for p in parsed for lit in p.find_all(sqlglot.exp.Literal)
                if lit.is_string}
    assert sql_pattern(DIALECTS[engine].pattern_end) in literals
