"""The audit as SQL: a Squid native access-log table where the logs live, and the
queries that reduce it to the aggregates ``proxylab audit`` computes in-process.

Why: proxy fleets keep months of logs in S3/HDFS; they are queried there (Athena,
Spark, ClickHouse, DuckDB), not copied to a laptop. The SQL yields exactly the
tables :class:`proxylab.audit.ingest.Aggregates` holds (per host:port x method x
code/status; per host:port x time bucket; per client; line counts), so the report
and recommendation code can run on them unchanged (:func:`duckdb_aggregates`), plus
a per-host table joined with the rules (:mod:`proxylab.audit.rules`).

One well-formedness rule: a line is a record iff it matches
:data:`proxylab.grammar.squid.NATIVE_PATTERN` in full (its `` +`` before the elapsed
time is Squid's ``%6tr`` padding) and its time is below ``MAX_EPOCH``. The SQL regex
is that pattern with the group names dropped (every engine here numbers groups the
same way; not all of them take Python's ``(?P<name>``), the fields are taken by
group number from the compiled pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxylab.grammar.squid import MAX_EPOCH, NATIVE_PATTERN, NATIVE_RE

ENGINES = ("duckdb", "clickhouse", "athena", "spark")

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")


def sql_pattern() -> str:
    """:data:`NATIVE_PATTERN`, anchored, with unnamed groups (same numbering)."""
    pattern = "^" + _NAMED_GROUP.sub("(", NATIVE_PATTERN) + "$"
    if re.compile(pattern).groups != NATIVE_RE.groups:
        raise AssertionError("dropping group names changed the group numbering")
    return pattern


def group(name: str) -> int:
    """The group number of a field of the native pattern."""
    return NATIVE_RE.groupindex[name]


def _quote(text: str, backslash_escapes: bool = False) -> str:
    """A SQL string literal: quotes doubled; backslashes doubled too for engines whose
    literals read backslash escapes (ClickHouse), so the regex arrives as written."""
    if backslash_escapes:
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Dialect:
    """What differs between engines: reading lines, regex functions, a few casts."""

    name: str
    lines_ddl: str  # {location}: a relation with one string column `line` (NULL/'' blank)
    rules_ddl: str  # {rules}: the rules table (parquet)
    full_match: str  # {s} {p}
    extract: str  # {s} {p} {i}
    double: str  # {x} -> DOUBLE
    bigint: str  # {x} -> BIGINT
    find: str  # {s} {t}: 1-based position of t in s, 0 if absent
    substr_from: str  # {s} {i}: from 1-based i to the end
    before: str  # {s} {t}: the part of s before the first t (all of s if none)
    ends_with: str = "substr({s}, length({s}) - length({t}) + 1) = {t}"  # {s} {t}
    view: str = "CREATE OR REPLACE VIEW {name} AS\n{body};"
    backslash_escapes: bool = False

    def q(self, text: str) -> str:
        return _quote(text, self.backslash_escapes)


DUCKDB = Dialect(
    "duckdb",
    lines_ddl=(
        "CREATE OR REPLACE VIEW squid_lines AS\n"
        "SELECT line FROM read_csv({location}, columns={{'line': 'VARCHAR'}}, header=false,\n"
        "  delim='\\0', quote='', escape='', auto_detect=false, compression='auto',\n"
        "  null_padding=false, strict_mode=false);"
    ),
    rules_ddl="CREATE OR REPLACE VIEW audit_rules AS SELECT * FROM read_parquet({rules});",
    full_match="regexp_full_match({s}, {p})",
    extract="regexp_extract({s}, {p}, {i})",
    double="CAST({x} AS DOUBLE)", bigint="CAST({x} AS BIGINT)",
    find="strpos({s}, {t})", substr_from="substr({s}, {i})",
    before="split_part({s}, {t}, 1)",
    # DuckDB runs on one machine: parse once into a temporary table, not once per query
    # through a view.
    view="CREATE OR REPLACE TEMP TABLE {name} AS\n{body};",
)


def _rules_columns(types: dict[str, str]) -> str:
    from proxylab.audit.rules import BOOL_COLUMNS, COLUMNS

    return ", ".join(f"`{c}` "
                     f"{types['bool'] if c in BOOL_COLUMNS else types['str']}" for c in COLUMNS)


# Athena (Trino SQL over Hive tables): a text table whose one column is the whole line
# (the field delimiter is \001, which printable-ASCII Squid lines never hold); gzip
# objects are read by their .gz name. LOCATION is an S3 prefix; the rules are a
# parquet file under a prefix of their own.
ATHENA = Dialect(
    "athena",
    lines_ddl=(
        "CREATE EXTERNAL TABLE IF NOT EXISTS squid_lines (line string)\n"
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\001'\n"
        "STORED AS TEXTFILE LOCATION {location};"
    ),
    rules_ddl=("CREATE EXTERNAL TABLE IF NOT EXISTS audit_rules ("
               + _rules_columns({"str": "string", "bool": "boolean"}).replace("{", "{{")
               + ")\nSTORED AS PARQUET LOCATION {rules};"),
    full_match="regexp_like({s}, {p})",
    extract="regexp_extract({s}, {p}, {i})",
    double="CAST({x} AS DOUBLE)", bigint="CAST({x} AS BIGINT)",
    find="strpos({s}, {t})", substr_from="substr({s}, {i})",
    before="split_part({s}, {t}, 1)",
)

# ClickHouse: LineAsString reads one line per row (compression from the file name);
# s3() for s3:// and http(s):// locations, file() for the server's local files.
CLICKHOUSE = Dialect(
    "clickhouse",
    lines_ddl=("CREATE OR REPLACE VIEW squid_lines AS\n"
               "SELECT line FROM {reader}({location}, 'LineAsString', 'line String');"),
    rules_ddl="CREATE OR REPLACE VIEW audit_rules AS SELECT * FROM {reader}({rules}, 'Parquet');",
    full_match="match({s}, {p})",
    extract="extractGroups({s}, {p})[{i}]",
    double="CAST({x} AS Float64)", bigint="CAST({x} AS Int64)",
    find="position({s}, {t})", substr_from="substring({s}, {i})",
    before="splitByString({t}, {s})[1]", ends_with="endsWith({s}, {t})",
    backslash_escapes=True,
)

DIALECTS = {"duckdb": DUCKDB, "athena": ATHENA, "clickhouse": CLICKHOUSE}


def _reader(location: str) -> str:
    """ClickHouse's table function for a location."""
    return "s3" if re.match(r"(?i)(s3|https?)://", location) else "file"


def _parsed_view(d: Dialect, bucket_seconds: int) -> str:
    """``squid_parsed``: one row per line, its fields (NULL unless it matched), ``ok``
    (a record), the time bucket and ``hostport`` (an absolute URL cut to its
    authority, as the in-process reducer does)."""
    p = d.q(sql_pattern())
    fields = ",\n".join(f"    {d.extract.format(s='line', p=p, i=group(n))} AS f_{n}"
                         for n in ("ts", "client", "code", "status", "bytes", "method", "url"))
    raw = (f"  SELECT coalesce({d.full_match.format(s='line', p=p)}, false) AS matched,\n"
           f"{fields}\n  FROM squid_lines")
    sep = d.q("://")
    rest = (f"CASE WHEN {d.find.format(s='f_url', t=sep)} > 0 THEN "
            f"{d.substr_from.format(s='f_url', i=d.find.format(s='f_url', t=sep) + ' + 3')} "
            "ELSE f_url END")
    typed = (
        f"  SELECT matched, CASE WHEN matched THEN {d.double.format(x='f_ts')} END AS ts,\n"
        f"    f_client AS client, f_code || '/' || f_status AS cs,\n"
        f"    CASE WHEN matched THEN {d.bigint.format(x='f_bytes')} END AS bytes,\n"
        f"    f_method AS method, {d.before.format(s=rest, t=d.q('/'))} AS hostport\n"
        f"  FROM (\n{raw}\n  ) AS r")
    bucket = d.bigint.format(x=f"floor(ts / {bucket_seconds}) * {bucket_seconds}")
    body = (f"SELECT client, cs, bytes, method, hostport, ts,\n"
            f"  coalesce(matched AND ts < {MAX_EPOCH!r}, false) AS ok,\n"
            f"  {bucket} AS bucket\n"
            f"FROM (\n{typed}\n) AS t")
    return d.view.format(name="squid_parsed", body=body)


QUERY_NAMES = ("summary", "by_request", "by_time", "by_client", "hosts")


def queries(d: Dialect) -> dict[str, str]:
    """The queries over ``squid_parsed`` (and ``audit_rules``), by name; plain SQL but
    for the dialect's string functions."""
    hp = "hostport"
    bracketed = d.before.format(s=d.substr_from.format(s=hp, i=2), t=d.q("]"))
    host = (f"lower(CASE WHEN {hp} LIKE '[%' THEN {bracketed}\n"
            f"    WHEN {hp} LIKE '%:%:%' THEN {hp}\n"
            f"    ELSE {d.before.format(s=hp, t=d.q(':'))} END)")
    ends = d.ends_with.format(s="h.host", t="r.pattern")
    return {
        # The in-process reader counts every line, blank ones too, and every line that
        # is not a record as malformed.
        "summary": ("SELECT count(*) AS lines, sum(CASE WHEN ok THEN 1 ELSE 0 END) AS parsed,\n"
                    "  sum(CASE WHEN ok THEN 0 ELSE 1 END) AS malformed FROM squid_parsed"),
        "by_request": ("SELECT hostport, method, cs, count(*) AS requests, sum(bytes) AS bytes,\n"
                       "  min(ts) AS first_ts, max(ts) AS last_ts\n"
                       "FROM squid_parsed WHERE ok GROUP BY hostport, method, cs"),
        "by_time": ("SELECT hostport, bucket, count(*) AS requests, sum(bytes) AS bytes\n"
                    "FROM squid_parsed WHERE ok GROUP BY hostport, bucket"),
        "by_client": ("SELECT client, count(*) AS requests, sum(bytes) AS bytes\n"
                      "FROM squid_parsed WHERE ok GROUP BY client"),
        # Per host, classified by the rules: an exact row wins, else the longest suffix.
        "hosts": (
            "WITH h AS (\n"
            f"  SELECT {host} AS host,\n"
            "    count(*) AS requests, sum(bytes) AS bytes, min(ts) AS first_ts,\n"
            "    max(ts) AS last_ts\n"
            "  FROM squid_parsed WHERE ok GROUP BY 1\n"
            "), m AS (\n"
            "  SELECT h.host AS mhost, r.*, row_number() OVER (PARTITION BY h.host ORDER BY\n"
            "    CASE WHEN r.\"match\" = 'exact' THEN 0 ELSE 1 END, length(r.pattern) DESC) AS rk\n"
            "  FROM h JOIN audit_rules AS r\n"
            "    ON (r.\"match\" = 'exact' AND h.host = r.pattern)\n"
            f"    OR (r.\"match\" = 'suffix' AND {ends})\n"
            ")\n"
            "SELECT h.host, h.requests, h.bytes, h.first_ts, h.last_ts,\n"
            "  coalesce(m.is_aws, false) AS is_aws, m.service, m.region, m.partition,\n"
            "  coalesce(m.flavour, 'non-aws') AS flavour, m.no_proxy, m.endpoint_kind,\n"
            "  m.endpoint_service, m.endpoint_url_env\n"
            "FROM h LEFT JOIN m ON m.mhost = h.host AND m.rk = 1\n"
            "ORDER BY h.requests DESC, h.host"
        ),
    }


def script(engine: str, location: str, rules: str = "proxylab-rules.parquet",
           bucket_seconds: int = 3600) -> str:
    """The whole SQL for one engine: DDL, then each query, named in a comment."""
    d = _dialect(engine)
    parts = [
        f"-- proxylab audit sql --engine {engine}: Squid native access logs at {location}",
        f"-- rules: proxylab audit rules --format parquet --out {rules}",
        d.lines_ddl.format(location=d.q(location), reader=_reader(location)),
        d.rules_ddl.format(rules=d.q(rules), reader=_reader(rules)),
        _parsed_view(d, bucket_seconds),
    ]
    for name, q in queries(d).items():
        parts.append(f"-- {name}\n{q};")
    return "\n\n".join(parts) + "\n"


def _dialect(engine: str) -> Dialect:
    try:
        return DIALECTS[engine]
    except KeyError:
        raise ValueError(f"engine {engine!r} not supported yet (supported: "
                         f"{', '.join(DIALECTS)})") from None


def statements(sql: str) -> list[str]:
    """Split a :func:`script` into statements (no ``;`` inside its literals but the
    pattern's, which has none)."""
    out = []
    for chunk in sql.split(";\n"):
        body = "\n".join(ln for ln in chunk.splitlines() if not ln.startswith("--")).strip()
        if body:
            out.append(body.rstrip(";"))
    return out


def duckdb_tables(location: str, rules: str | None = None, bucket_seconds: int = 3600,
                  con=None) -> dict:
    """Run the DuckDB script; each query's result as a polars DataFrame, by name."""
    import duckdb
    import polars as pl

    con = con or duckdb.connect()
    sql = script("duckdb", location, rules or "", bucket_seconds)
    stmts = statements(sql)
    n = len(QUERY_NAMES)
    ddl, qs = stmts[: len(stmts) - n], stmts[len(stmts) - n:]
    for s in ddl:
        if rules is None and "audit_rules" in s:
            continue
        con.execute(s)
    out = {}
    for name, q in zip(QUERY_NAMES, qs, strict=True):
        if rules is None and name == "hosts":
            continue
        out[name] = pl.from_arrow(con.sql(q).to_arrow_table())
    return out


def duckdb_aggregates(location: str, bucket_seconds: int = 3600):
    """The DuckDB script's results as :class:`proxylab.audit.ingest.Aggregates`, for
    the report and recommendation code (one source: the location)."""
    import polars as pl

    from proxylab.audit.ingest import Aggregates, SourceStats

    t = duckdb_tables(location, None, bucket_seconds)
    s = t["summary"].row(0, named=True)
    req = t["by_request"].rename({"first_ts": "first", "last_ts": "last"}).with_columns(
        pl.col("requests", "bytes").cast(pl.Int64))
    tim = t["by_time"].with_columns(pl.col("requests", "bytes", "bucket").cast(pl.Int64))
    cli = t["by_client"].with_columns(pl.col("requests", "bytes").cast(pl.Int64))
    src = SourceStats(location, lines=int(s["lines"]), parsed=int(s["parsed"]),
                      malformed=int(s["malformed"]))
    return Aggregates(
        by_request=req.sort(["requests", "hostport"], descending=[True, False]),
        by_time=tim.sort(["bucket", "hostport"]),
        by_client=cli.sort(["requests", "client"], descending=[True, False]),
        sources=[src], bucket_seconds=bucket_seconds)
