"""The audit as SQL: a Squid native access-log table where the logs live, and the
queries that reduce it to the aggregates ``proxylab audit`` computes in-process.

Why: proxy fleets keep months of logs in S3/HDFS; they are queried there (Athena,
Spark, ClickHouse, DuckDB), not copied to a laptop. The SQL yields exactly the
tables :class:`proxylab.audit.ingest.Aggregates` holds (per host:port x method x
code/status; per host:port x time bucket; per client; line counts per source file;
malformed samples), so the report and recommendation code run on them unchanged
(:mod:`proxylab.audit.engines` runs it), plus a per-host table joined with the rules
(:mod:`proxylab.audit.rules`).

The lines are parsed once, into ``squid_fine``: one row per (source, host:port,
method, code/status, client, time bucket) with counts, bytes and first/last time,
the same fine groups the in-process reducer keeps. It is materialised where the
engine allows (a DuckDB temp table, a cached Spark table, a ClickHouse temporary
table), so the queries after it do not read the logs again.

One well-formedness rule: a line is a record iff it matches
:data:`proxylab.grammar.squid.NATIVE_PATTERN` in full (its `` +`` before the elapsed
time is Squid's ``%6tr`` padding) and its time is below ``MAX_EPOCH``. The SQL regex
is that pattern with the group names dropped (every engine here numbers groups the
same way; not all of them take Python's ``(?P<name>``), the fields are taken by
group number from the compiled pattern. ``--since``/``--until`` become the ``keep``
column (a record in the window), as in the in-process reducer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from proxylab.grammar.squid import MAX_EPOCH, NATIVE_PATTERN, NATIVE_RE

ENGINES = ("duckdb", "clickhouse", "athena", "spark")
SAMPLE_CHARS = 300  # as the in-process reducer keeps of a malformed line

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")


def sql_pattern(end: str = "$") -> str:
    r""":data:`NATIVE_PATTERN`, anchored, with unnamed groups (same numbering).

    ``end``: the end anchor. Java's ``$`` also matches before a final ``\r``, so Spark
    gets ``\z`` (the very end of the line), which is what RE2's ``$`` means."""
    pattern = "^" + _NAMED_GROUP.sub("(", NATIVE_PATTERN) + end
    if re.compile(pattern.replace(r"\z", "$")).groups != NATIVE_RE.groups:
        raise AssertionError("dropping group names changed the group numbering")
    return pattern


def group(name: str) -> int:
    """The group number of a field of the native pattern."""
    return NATIVE_RE.groupindex[name]


_SEPARATOR = re.compile(r" \+| ")  # the native pattern's field separators, padding too


def token(*names: str) -> int:
    """The 1-based position, among a record's space-separated tokens, of the token that
    holds exactly these fields (``token("code", "status")``: ``TCP_MISS/200``).

    Why tokens: a record's fields are tokens with no space in them (the grammar says
    so), so once a line is known to match, one split on `` +`` gives every field; one
    regex and one split per line instead of one regex per field (4-8x less work)."""
    pieces = _SEPARATOR.split(NATIVE_PATTERN)
    for k, piece in enumerate(pieces, 1):
        if re.findall(r"\(\?P<(\w+)>", piece) == list(names):
            return k
    raise AssertionError(f"no token of the native pattern holds exactly {names}")


def _quote(text: str, backslash_escapes: bool = False, quote_escape: str = "''") -> str:
    """A SQL string literal: quotes doubled (or backslash-escaped where the engine reads
    ``''`` as two adjacent literals, as Spark does); backslashes doubled too for engines
    whose literals read backslash escapes (ClickHouse, Spark), so the regex arrives as
    written."""
    if backslash_escapes:
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", quote_escape) + "'"


@dataclass(frozen=True)
class Dialect:
    """What differs between engines: reading lines, regex functions, a few casts."""

    name: str
    # One input location: a relation with one string column `{line_col}` ({location},
    # {reader}, {rel}); `file_ddl`, if any, first makes relation {rel} over it.
    file_rel: str
    path_col: str  # the source file of a row when the location is a glob or prefix
    rules_ddl: str  # {rules}: the rules table (parquet)
    full_match: str  # {s} {p}
    split: str  # {s}: the array of its tokens (split on " +")
    element: str  # {a} {i}: 1-based element i of array a (NULL or '' if out of range)
    double: str  # {x} -> DOUBLE
    bigint: str  # {x} -> BIGINT
    find: str  # {s} {t}: 1-based position of t in s, 0 if absent
    substr_from: str  # {s} {i}: from 1-based i to the end
    before: str  # {s} {t}: the part of s before the first t (all of s if none)
    file_ddl: str | None = None
    line_col: str = "line"
    ends_with: str = "substr({s}, length({s}) - length({t}) + 1) = {t}"  # {s} {t}
    view: str = "CREATE OR REPLACE VIEW {name} AS\n{body};"
    table: str = "CREATE OR REPLACE VIEW {name} AS\n{body};"  # materialised, where possible
    ident: str = '"{}"'
    cr: str = "chr(13)"  # a carriage return
    pattern_end: str = "$"
    backslash_escapes: bool = False
    quote_escape: str = "''"

    def q(self, text: str) -> str:
        return _quote(text, self.backslash_escapes, self.quote_escape)

    def i(self, name: str) -> str:
        return self.ident.format(name)


DUCKDB = Dialect(
    "duckdb",
    file_rel=("read_csv({location}, columns={{'line': 'VARCHAR'}}, header=false,\n"
              "  delim='\\0', quote='', escape='', new_line='\\n', auto_detect=false,\n"
              "  compression='auto', null_padding=false, strict_mode=false, filename=true)"),
    path_col="filename",
    rules_ddl="CREATE OR REPLACE VIEW audit_rules AS SELECT * FROM read_parquet({rules});",
    full_match="regexp_full_match({s}, {p})",
    split="string_split_regex({s}, ' +')", element="{a}[{i}]",
    double="CAST({x} AS DOUBLE)", bigint="CAST({x} AS BIGINT)",
    find="strpos({s}, {t})", substr_from="substr({s}, {i})",
    before="split_part({s}, {t}, 1)",
    table="CREATE OR REPLACE TEMP TABLE {name} AS\n{body};",
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
    file_ddl=(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {rel} (line string)\n"
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\001'\n"
        "STORED AS TEXTFILE LOCATION {location};"
    ),
    file_rel="{rel}", path_col='"$path"',
    rules_ddl=("CREATE EXTERNAL TABLE IF NOT EXISTS audit_rules ("
               + _rules_columns({"str": "string", "bool": "boolean"}).replace("{", "{{")
               + ")\nSTORED AS PARQUET LOCATION {rules};"),
    full_match="regexp_like({s}, {p})",
    split="regexp_split({s}, ' +')", element="element_at({a}, {i})",
    double="CAST({x} AS DOUBLE)", bigint="CAST({x} AS BIGINT)",
    find="strpos({s}, {t})", substr_from="substr({s}, {i})",
    before="split_part({s}, {t}, 1)",
)

# ClickHouse: LineAsString reads one line per row (compression from the file name);
# s3() for s3:// and http(s):// locations, file() for the server's local files. The
# fine groups go to a session's temporary table.
CLICKHOUSE = Dialect(
    "clickhouse",
    file_rel="{reader}({location}, 'LineAsString', 'line String')",
    path_col="_path",
    rules_ddl="CREATE OR REPLACE VIEW audit_rules AS SELECT * FROM {reader}({rules}, 'Parquet');",
    full_match="match({s}, {p})",
    split="splitByRegexp(' +', {s})", element="{a}[{i}]",
    double="CAST({x} AS Float64)", bigint="CAST({x} AS Int64)",
    find="position({s}, {t})", substr_from="substring({s}, {i})",
    before="splitByString({t}, {s})[1]", ends_with="endsWith({s}, {t})", cr="char(13)",
    table="CREATE TEMPORARY TABLE {name} ENGINE = Memory AS\n{body};",
    backslash_escapes=True,
)

# Spark SQL: the text source, one row per line (lineSep "\n": by default Hadoop's
# reader also ends a line at a lone "\r", which Squid's lines and the in-process
# reader do not); gzip by the .gz name (Hadoop's codecs). Literals read backslash
# escapes; identifiers are back-quoted. The fine groups are a cached table.
SPARK = Dialect(
    "spark",
    file_ddl=("CREATE OR REPLACE TEMPORARY VIEW {rel} USING text\n"
              "OPTIONS (path {location}, lineSep '\\n');"),
    file_rel="{rel}", line_col="value", path_col="input_file_name()",
    rules_ddl="CREATE OR REPLACE TEMPORARY VIEW audit_rules USING parquet OPTIONS (path {rules});",
    full_match="{s} RLIKE {p}",
    split="split({s}, ' +')", element="try_element_at({a}, {i})",
    double="CAST({x} AS DOUBLE)", bigint="CAST({x} AS BIGINT)",
    find="instr({s}, {t})", substr_from="substr({s}, {i})",
    before="split_part({s}, {t}, 1)",
    view="CREATE OR REPLACE TEMPORARY VIEW {name} AS\n{body};",
    table="CACHE TABLE {name} AS\n{body};",
    ident="`{}`", pattern_end=r"\z", backslash_escapes=True, quote_escape="\\'",
)

DIALECTS = {"duckdb": DUCKDB, "athena": ATHENA, "clickhouse": CLICKHOUSE, "spark": SPARK}


def _reader(location: str) -> str:
    """ClickHouse's table function for a location."""
    return "s3" if re.match(r"(?i)(s3|https?)://", location) else "file"


def _lines_ddl(d: Dialect, location: str | Sequence[str]) -> list[str]:
    """``squid_lines`` (source, line): over one location (a path, glob or prefix: the
    source is the engine's file-name column) or a list of files (each named as given,
    so the per-source counts are keyed as the in-process reader keys them)."""
    locs = [location] if isinstance(location, str) else list(location)
    if not locs:
        raise ValueError("no input location")
    stmts, selects = [], []
    for k, loc in enumerate(locs):
        fmt = {"location": d.q(loc), "reader": _reader(loc), "rel": f"squid_file_{k}"}
        if d.file_ddl:
            stmts.append(d.file_ddl.format(**fmt))
        source = d.path_col if isinstance(location, str) else d.q(loc)
        col = d.line_col
        # A line ends at "\n"; one "\r" before it is part of the line end, as the
        # in-process reader takes it (CRLF logs).
        line = (f"CASE WHEN {d.ends_with.format(s=col, t=d.cr)} "
                f"THEN substr({col}, 1, length({col}) - 1) ELSE {col} END")
        selects.append(f"SELECT {source} AS source, {line} AS line\n"
                       f"FROM {d.file_rel.format(**fmt)}")
    stmts.append(d.view.format(name="squid_lines", body="\nUNION ALL\n".join(selects)))
    return stmts


def _num(x: float) -> str:
    return repr(float(x))


def _parsed_view(d: Dialect, bucket_seconds: int, since: float | None,
                 until: float | None) -> str:
    """``squid_parsed``: one row per line, its source and text, its fields (NULL unless
    it matched), ``ok`` (a record), ``keep`` (a record in the time window), the time
    bucket and ``hostport`` (an absolute URL cut to its authority, as the in-process
    reducer does)."""
    p = d.q(sql_pattern(d.pattern_end))
    tok = {"ts": token("ts"), "client": token("client"), "cs": token("code", "status"),
           "bytes": token("bytes"), "method": token("method"), "url": token("url")}
    fields = ",\n".join(
        f"    CASE WHEN matched THEN {d.element.format(a='tokens', i=k)} END AS f_{n}"
        for n, k in tok.items())
    raw = (f"  SELECT source, line, matched,\n{fields}\n  FROM (\n"
           f"    SELECT source, line, coalesce({d.full_match.format(s='line', p=p)}, false)"
           f" AS matched,\n      {d.split.format(s='line')} AS tokens\n"
           f"    FROM squid_lines) AS m")
    sep = d.q("://")
    rest = (f"CASE WHEN {d.find.format(s='f_url', t=sep)} > 0 THEN "
            f"{d.substr_from.format(s='f_url', i=d.find.format(s='f_url', t=sep) + ' + 3')} "
            "ELSE f_url END")
    typed = (
        f"  SELECT source, line, matched,\n"
        f"    CASE WHEN matched THEN {d.double.format(x='f_ts')} END AS ts,\n"
        f"    f_client AS client, f_cs AS cs,\n"
        f"    CASE WHEN matched THEN {d.bigint.format(x='f_bytes')} END AS bytes,\n"
        f"    f_method AS method, {d.before.format(s=rest, t=d.q('/'))} AS hostport\n"
        f"  FROM (\n{raw}\n  ) AS r")
    window = "".join([f" AND ts >= {_num(since)}" if since is not None else "",
                      f" AND ts < {_num(until)}" if until is not None else ""])
    bucket = d.bigint.format(x=f"floor(ts / {bucket_seconds}) * {bucket_seconds}")
    body = (f"SELECT source, line, client, cs, bytes, method, hostport, ts, ok,\n"
            f"  coalesce(ok{window}, false) AS keep, {bucket} AS bucket\n"
            f"FROM (\n  SELECT t.*, coalesce(matched AND ts < {MAX_EPOCH!r}, false) AS ok\n"
            f"  FROM (\n{typed}\n) AS t\n) AS u")
    return d.view.format(name="squid_parsed", body=body)


def _fine_table(d: Dialect) -> str:
    """``squid_fine``: the fine groups; lines not kept fold into one row per source."""
    kept = ", ".join(f"CASE WHEN keep THEN {c} END AS {c}"
                     for c in ("hostport", "method", "cs", "client", "bucket"))
    body = ("SELECT source, ok, keep, hostport, method, cs, client, bucket, count(*) AS n,\n"
            "  sum(bytes) AS nbytes, min(ts) AS first_ts, max(ts) AS last_ts\n"
            f"FROM (SELECT source, ok, keep, {kept},\n"
            "  bytes, ts FROM squid_parsed) AS k\n"
            "GROUP BY source, ok, keep, hostport, method, cs, client, bucket")
    return d.table.format(name="squid_fine", body=body)


QUERY_NAMES = ("summary", "by_request", "by_time", "by_client", "hosts", "samples")


def queries(d: Dialect, sample_limit: int = 20) -> dict[str, str]:
    """The queries over ``squid_fine`` (``squid_parsed`` for the samples, ``audit_rules``
    for the hosts), by name; plain SQL but for the dialect's string functions."""
    hp = "hostport"
    bracketed = d.before.format(s=d.substr_from.format(s=hp, i=2), t=d.q("]"))
    host = (f"lower(CASE WHEN {hp} LIKE '[%' THEN {bracketed}\n"
            f"    WHEN {hp} LIKE '%:%:%' THEN {hp}\n"
            f"    ELSE {d.before.format(s=hp, t=d.q(':'))} END)")
    ends = d.ends_with.format(s="h.host", t="r.pattern")
    match = "r." + d.i("match")
    return {
        # The in-process reader counts every line, blank ones too, and every line that
        # is not a record as malformed; a record outside the time window as filtered.
        "summary": ("SELECT source, sum(n) AS lines,\n"
                    "  sum(CASE WHEN keep THEN n ELSE 0 END) AS parsed,\n"
                    "  sum(CASE WHEN ok THEN 0 ELSE n END) AS malformed,\n"
                    "  sum(CASE WHEN ok AND NOT keep THEN n ELSE 0 END) AS filtered\n"
                    "FROM squid_fine GROUP BY source"),
        "by_request": ("SELECT hostport, method, cs, sum(n) AS requests, sum(nbytes) AS bytes,\n"
                       "  min(first_ts) AS first_ts, max(last_ts) AS last_ts\n"
                       "FROM squid_fine WHERE keep GROUP BY hostport, method, cs"),
        "by_time": ("SELECT hostport, bucket, sum(n) AS requests, sum(nbytes) AS bytes\n"
                    "FROM squid_fine WHERE keep GROUP BY hostport, bucket"),
        "by_client": ("SELECT client, sum(n) AS requests, sum(nbytes) AS bytes\n"
                      "FROM squid_fine WHERE keep GROUP BY client"),
        # Per host, classified by the rules: an exact row wins, else the longest suffix.
        "hosts": (
            "WITH h AS (\n"
            f"  SELECT {host} AS host,\n"
            "    sum(n) AS requests, sum(nbytes) AS bytes, min(first_ts) AS first_ts,\n"
            "    max(last_ts) AS last_ts\n"
            "  FROM squid_fine WHERE keep GROUP BY 1\n"
            "), m AS (\n"
            "  SELECT h.host AS mhost, r.*, row_number() OVER (PARTITION BY h.host ORDER BY\n"
            f"    CASE WHEN {match} = 'exact' THEN 0 ELSE 1 END, length(r.pattern) DESC) AS rk\n"
            "  FROM h JOIN audit_rules AS r\n"
            f"    ON ({match} = 'exact' AND h.host = r.pattern)\n"
            f"    OR ({match} = 'suffix' AND {ends})\n"
            ")\n"
            "SELECT h.host, h.requests, h.bytes, h.first_ts, h.last_ts,\n"
            "  coalesce(m.is_aws, false) AS is_aws, m.service, m.region, m.partition,\n"
            "  coalesce(m.flavour, 'non-aws') AS flavour, m.no_proxy, m.endpoint_kind,\n"
            "  m.endpoint_service, m.endpoint_url_env\n"
            "FROM h LEFT JOIN m ON m.mhost = h.host AND m.rk = 1\n"
            "ORDER BY h.requests DESC, h.host"
        ),
        # Malformed lines, as the in-process reader samples them (which ones: the
        # engine's order; a second pass over the logs, so run only when there are some).
        "samples": (f"SELECT source, substr(line, 1, {SAMPLE_CHARS}) AS line\n"
                    f"FROM squid_parsed WHERE NOT ok LIMIT {int(sample_limit)}"),
    }


def script(engine: str, location: str | Sequence[str], rules: str = "proxylab-rules.parquet",
           bucket_seconds: int = 3600, since: float | None = None,
           until: float | None = None, sample_limit: int = 20) -> str:
    """The whole SQL for one engine: DDL, then each query, named in a comment.

    ``location``: a path, glob or prefix (sources named by the engine's file-name
    column), or a list of files (each a source, named as given)."""
    d = _dialect(engine)
    where = location if isinstance(location, str) else ", ".join(location)
    parts = [
        f"-- proxylab audit sql --engine {engine}: Squid native access logs at {where}",
        f"-- rules: proxylab audit rules --format parquet --out {rules}",
        *_lines_ddl(d, location),
        d.rules_ddl.format(rules=d.q(rules), reader=_reader(rules)),
        _parsed_view(d, bucket_seconds, since, until),
        _fine_table(d),
    ]
    for name, q in queries(d, sample_limit).items():
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
