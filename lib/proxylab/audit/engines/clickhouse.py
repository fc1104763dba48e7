"""The generated ClickHouse SQL run on a ClickHouse server, over its HTTP interface.

The server reads the logs itself, so every input is a location on the server's side:
a path under its ``user_files`` (a glob is fine), or an ``s3://``/``https://`` URL.
The URL comes from ``--clickhouse-url`` or ``CLICKHOUSE_URL`` (``http://host:8123``;
user and password in it, or ``CLICKHOUSE_USER``/``CLICKHOUSE_PASSWORD``). One HTTP
session (``session_id``) holds the temporary table of fine groups; every request has
a timeout (``--clickhouse-timeout`` / ``CLICKHOUSE_TIMEOUT``, default 600 s, as a big
scan takes minutes), and the views made are dropped at the end.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from contextlib import contextmanager

from proxylab.audit.engines.base import EngineUnavailable, SqlEngine, arrow_file

DEFAULT_TIMEOUT = 600.0


class ClickHouseEngine(SqlEngine):
    name = dialect = "clickhouse"
    local_files = False

    def __init__(self, url: str | None = None, timeout: float | None = None) -> None:
        self.url = url or os.environ.get("CLICKHOUSE_URL") or None
        self.timeout = float(timeout or os.environ.get("CLICKHOUSE_TIMEOUT") or DEFAULT_TIMEOUT)

    def configure(self, clickhouse_url: str | None = None,
                  clickhouse_timeout: float | None = None, **_ignored) -> ClickHouseEngine:
        if clickhouse_url is None and clickhouse_timeout is None:
            return self
        return ClickHouseEngine(clickhouse_url or self.url, clickhouse_timeout or self.timeout)

    def require(self) -> None:
        if not self.url:
            raise EngineUnavailable(
                "audit engine 'clickhouse' runs the audit on a ClickHouse server: give its "
                "HTTP URL with --clickhouse-url http://HOST:8123 or CLICKHOUSE_URL (the paths "
                "are then locations on the server: user_files paths or s3:// URLs); "
                "--engine chdb runs the same SQL in this process")
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise EngineUnavailable(f"--clickhouse-url {self.url!r}: expected http(s)://HOST:PORT")

    @contextmanager
    def session(self):
        s = _HttpSession(self.url, self.timeout)
        try:
            yield s
        finally:
            for view in ("squid_parsed", "squid_lines"):
                try:
                    s.execute(f"DROP VIEW IF EXISTS {view}")
                except EngineUnavailable:
                    pass


class _HttpSession:
    """POSTs each statement; results as Arrow (``default_format``)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.user = urllib.parse.unquote(parts.username or "") or os.environ.get(
            "CLICKHOUSE_USER")
        self.password = urllib.parse.unquote(parts.password or "") or os.environ.get(
            "CLICKHOUSE_PASSWORD")
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
        self.params = dict(urllib.parse.parse_qsl(parts.query))
        self.params["session_id"] = f"proxylab-audit-{uuid.uuid4().hex}"
        self.timeout = timeout

    def _post(self, sql: str, fmt: str | None) -> bytes:
        import urllib.error
        import urllib.request

        params = dict(self.params)
        if fmt:
            params["default_format"] = fmt
        req = urllib.request.Request(self.base + "?" + urllib.parse.urlencode(params),
                                     data=sql.encode("utf-8"), method="POST")
        if self.user:
            req.add_header("X-ClickHouse-User", self.user)
        if self.password:
            req.add_header("X-ClickHouse-Key", self.password)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")[:2000]
            raise EngineUnavailable(f"ClickHouse at {self.base} refused the audit SQL "
                                    f"(HTTP {exc.code}): {body.strip()}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise EngineUnavailable(f"ClickHouse at {self.base} did not answer within "
                                    f"{self.timeout:g} s: {exc}") from None

    def execute(self, sql: str) -> None:
        self._post(sql, None)

    def arrow(self, sql: str):
        return arrow_file(self._post(sql, "Arrow"))
