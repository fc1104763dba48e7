"""The generated SQL run in this process: DuckDB (its own dialect) and chDB
(ClickHouse's engine as a library, so the ClickHouse dialect runs here exactly as a
ClickHouse server would run it, without one)."""

from __future__ import annotations

from contextlib import contextmanager

from proxylab.audit.engines.base import SqlEngine, arrow_file, import_or_explain


class DuckDBEngine(SqlEngine):
    name = dialect = "duckdb"
    carriage_returns = False

    def require(self) -> None:
        import_or_explain("duckdb", self.name, "duckdb")

    @contextmanager
    def session(self):
        import duckdb

        con = duckdb.connect()
        try:
            yield _DuckDB(con)
        finally:
            con.close()


class _DuckDB:
    def __init__(self, con) -> None:
        self.con = con

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def arrow(self, sql: str):
        return self.con.sql(sql).to_arrow_table()


class ChdbEngine(SqlEngine):
    name = "chdb"
    dialect = "clickhouse"

    def require(self) -> None:
        import_or_explain("chdb", self.name, "chdb")

    @contextmanager
    def session(self):
        from chdb import session

        s = session.Session()
        try:
            yield _Chdb(s)
        finally:
            s.close()


class _Chdb:
    def __init__(self, s) -> None:
        self.s = s

    def execute(self, sql: str) -> None:
        self.s.query(sql)

    def arrow(self, sql: str):
        return arrow_file(self.s.query(sql, "Arrow").bytes())
