"""The audit-engine protocol, and the part every SQL engine shares.

An engine is asked three things, in this order, so that nothing starts before it can
finish: :meth:`AuditEngine.require` (is what it needs here: a module, a JDK, a server
URL? else :class:`EngineUnavailable` saying how to get it), :meth:`AuditEngine.check`
(can it honour these inputs and options? else :class:`EngineRefused`),
:meth:`AuditEngine.aggregate` (the :class:`~proxylab.audit.ingest.Aggregates`).

:class:`SqlEngine` runs :func:`proxylab.audit.sql.script` on any engine that can
execute a statement and return a result as Arrow; a subclass supplies the session.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable

from proxylab.errors import UserError


class EngineUnavailable(UserError):
    """The engine cannot run on this machine as it is (missing module, JDK, URL)."""


class EngineRefused(UserError):
    """The engine cannot do what was asked (an option or input it does not support)."""


class AuditEngine(ABC):
    """One way to compute the audit's aggregates."""

    name: str = ""
    in_process = False  # the streaming reader of this process (the CLI's progress bar, --jobs)

    def configure(self, **options) -> AuditEngine:
        """This engine with the options that concern it (``spark_master``,
        ``clickhouse_url``, ...; None = unset); others are ignored."""
        return self

    def require(self) -> None:  # noqa: B027 - optional: most engines need nothing
        """Raise :class:`EngineUnavailable` when this engine cannot run here."""

    def check(self, paths: list[str], opts) -> None:  # noqa: B027 - optional
        """Raise :class:`EngineRefused` for inputs or options this engine cannot honour."""

    @abstractmethod
    def aggregate(self, paths: list[str], opts, progress: Callable[[int], None] | None = None):
        """The :class:`~proxylab.audit.ingest.Aggregates` of ``paths`` under ``opts``."""

    def refuse(self, what: str, instead: str) -> EngineRefused:
        return EngineRefused(f"audit engine {self.name!r} cannot {what}; {instead}")


def import_or_explain(module: str, engine: str, extra: str):
    """Import an optional engine's module, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EngineUnavailable(
            f"audit engine {engine!r} needs the Python package {module!r} ({exc}): "
            f"pip install 'proxylab[{extra}]' (or pip install {module})") from None


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class EngineFailed(UserError):
    """The engine started but could not finish (a corrupt input, a server error)."""


class SqlEngine(AuditEngine):
    """An engine that runs the generated SQL (:mod:`proxylab.audit.sql`)."""

    dialect: str = ""
    # DuckDB's CSV reader ends a line at any "\r" too (new_line is not obeyed), so a
    # CRLF log would gain a blank line per line: refused rather than miscounted.
    carriage_returns = True
    local_files = True  # inputs are files on this machine (expanded and checked here)

    @abstractmethod
    def session(self):
        """A context manager yielding an object with ``execute(sql)`` and
        ``arrow(sql) -> pyarrow.Table``."""

    def check(self, paths: list[str], opts) -> None:
        if opts.client_cidrs:
            raise self.refuse("filter by --client-cidr (client-address matching is not "
                              "portable SQL)", "use the in-process engine (--engine polars)")
        if opts.log_format not in ("auto", "native"):
            raise self.refuse(f"read Squid {opts.log_format!r} logs (its SQL reads the "
                              "native format)", "use the in-process engine (--engine polars)")
        if "-" in paths:
            raise self.refuse("read standard input", "pass file paths or locations")
        if self.local_files:
            self.locations(paths)  # raises for a missing, gzip-misnamed or non-native file

    def locations(self, paths: list[str]) -> list[str] | str:
        """What the SQL reads: the expanded local files (each a source), or, for a single
        URL/glob the engine resolves itself, that location."""
        from proxylab.audit.sources import expand_paths

        if not self.local_files or all(_URL.match(p) for p in paths):
            return paths[0] if len(paths) == 1 else list(paths)
        if any(_URL.match(p) for p in paths):
            raise self.refuse("mix local files and URLs in one audit", "run them apart")
        files = [s.name for s in expand_paths(paths)]
        for f in files:
            _check_local_file(self, f)
        return files

    def aggregate(self, paths: list[str], opts, progress=None):
        import polars as pl

        from proxylab.audit import sql as auditsql
        from proxylab.audit.aggfile import from_frames

        locs = self.locations(paths)
        text = auditsql.script(self.dialect, locs, "", opts.bucket_seconds, opts.since,
                               opts.until, opts.sample_limit)
        stmts = auditsql.statements(text)
        n = len(auditsql.QUERY_NAMES)
        ddl, qs = stmts[:-n], dict(zip(auditsql.QUERY_NAMES, stmts[-n:], strict=True))
        try:
            with self.session() as s:
                for stmt in ddl:
                    if "audit_rules" not in stmt:  # the recommendations classify in Python
                        s.execute(stmt)
                frames = {k: pl.from_arrow(s.arrow(qs[k]))
                          for k in ("summary", "by_request", "by_time", "by_client")}
                summary = frames["summary"]
                malformed = (int(summary["malformed"].cast(pl.Int64).sum() or 0)
                             if "malformed" in summary.columns else 0)
                samples = (pl.from_arrow(s.arrow(qs["samples"]))
                           if malformed and opts.sample_limit else None)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - the engine's own error, said plainly
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]
            where = locs if isinstance(locs, str) else ", ".join(locs)
            raise EngineFailed(f"audit engine {self.name!r} failed on {where}: {first}") from exc
        return from_frames(frames, samples, locs, opts.bucket_seconds)


def _check_local_file(engine: AuditEngine, path: str) -> None:
    """The SQL engines read gzip by the .gz name and the native format only: a file
    that would be misread is refused rather than counted as all malformed."""
    import gzip

    from proxylab.audit.parse import NATIVE, detect_format

    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    if gz != path.endswith(".gz"):
        raise engine.refuse(
            f"read {path}: it is {'gzip' if gz else 'not gzip'} but named "
            f"{'without' if gz else 'with'} .gz (SQL engines decompress by the name)",
            "rename it, or use the in-process engine (--engine polars)")
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            sample = fh.read(256 * 1024)
    except (OSError, EOFError):
        return  # a truncated gzip: the engine reports it
    if not getattr(engine, "carriage_returns", True) and b"\r" in sample:
        raise engine.refuse(f"read {path}: it has carriage returns (CRLF line ends?), "
                            "which its reader takes for line ends",
                            "use --engine chdb or the in-process engine (--engine polars)")
    if sample.strip() and detect_format(sample) != NATIVE:
        raise engine.refuse(f"read {path}: it is in Squid's {detect_format(sample)} format, "
                            "its SQL reads the native one",
                            "use the in-process engine (--engine polars)")


def arrow_file(data: bytes):
    """ClickHouse's ``Arrow`` output as a table (no bytes at all: no result set)."""
    import pyarrow as pa

    if not data:
        return pa.table({})
    return pa.ipc.open_file(pa.py_buffer(data)).read_all()
