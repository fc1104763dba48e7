"""The audit's work as one chDB query (ClickHouse's engine in-process), for
benchmarks/bench_audit.py: ``python benchmarks/chdb_audit.py PATH {grammar,split} [BUCKET]``.

One read of the lines and one query: per host:port x method x status (requests,
bytes, first, last), per host:port x time bucket and per client (GROUPING SETS), plus
the line counts per verdict. ``grammar``: a line is a record iff it matches the
grammar's pattern (:func:`proxylab.audit.sql.sql_pattern`, as ``proxylab audit sql``
has it) and its time is below MAX_EPOCH, so the counts are ``proxylab audit``'s;
``split``: fields split on whitespace, ten of them with a numeric time and bytes --
what a user would write first, and looser than the grammar. PATH may be a glob
(ClickHouse's ``file()``; ``.gz`` files are inflated by name). Prints the result rows
and the parsed/malformed counts.
"""

from __future__ import annotations

import sys

import chdb

from proxylab.audit.sql import sql_pattern
from proxylab.grammar.squid import MAX_EPOCH

GRAMMAR = (
    "extractGroups(line, {p}) AS g, length(g) > 0 AND toFloat64OrZero(g[1]) < {max_epoch} AS ok,"
    " g[1] AS f_ts, g[3] AS client, concat(g[4], '/', g[5]) AS cs, g[6] AS f_bytes,"
    " g[7] AS method, g[8] AS url"
)
SPLIT = (
    "splitByWhitespace(line) AS g, length(g) = 10 AND isNotNull(toFloat64OrNull(g[1]))"
    " AND isFinite(toFloat64OrZero(g[1])) AND isNotNull(toInt64OrNull(g[5])) AS ok,"
    " g[1] AS f_ts, g[3] AS client, g[4] AS cs,"
    " g[5] AS f_bytes, g[6] AS method, g[7] AS url"
)
QUERY = """
SELECT ok, hostport, method, cs, bucket, client, count() AS requests, sum(bytes) AS bytes,
  min(ts) AS first, max(ts) AS last
FROM (
  SELECT {fields}, if(ok, toFloat64(f_ts), NULL) AS ts, if(ok, toInt64(f_bytes), NULL) AS bytes,
    splitByChar('/', if(position(url, '://') > 0, substring(url, position(url, '://') + 3),
                        url))[1] AS hostport,
    toInt64(floor(ts / {bucket}) * {bucket}) AS bucket
  FROM file({path}, 'LineAsString', 'line String'))
GROUP BY GROUPING SETS ((ok), (ok, hostport, method, cs), (ok, hostport, bucket), (ok, client))
"""


def literal(text: str) -> str:
    """A ClickHouse string literal (its literals read backslash escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main(argv: list[str]) -> int:
    path, variant = argv[0], argv[1]
    bucket = int(argv[2]) if len(argv) > 2 else 3600
    fields = (GRAMMAR.format(p=literal(sql_pattern()), max_epoch=MAX_EPOCH)
              if variant == "grammar" else SPLIT)
    rows = chdb.query(QUERY.format(fields=fields, bucket=bucket, path=literal(path)),
                      "CSV").data().splitlines()
    # the (ok) grouping set: every other key is its default ('' / 0)
    counts = {r.split(",")[0]: int(r.split(",")[6]) for r in rows
              if r.split(",")[1:6] == ['""', '""', '""', r"\N", '""']}
    print(f"{len(rows)} rows; parsed {counts.get('1', 0)}, malformed {counts.get('0', 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
