"""Audit engines: interchangeable backends that turn log locations into
:class:`proxylab.audit.ingest.Aggregates`.

Why a registry: the aggregates are the one contract between reading logs and
everything after it (classification, recommendations, report, notebook), so where
the reading happens is a choice of backend, not a different program. Modelled on
papermill's engines: a name -> engine table (:data:`audit_engines`), built-ins
registered here, third-party engines through the ``proxylab.audit_engines`` entry
point group, and one call (:func:`aggregate`) that picks, checks and runs one.

Each engine implements the whole protocol (:class:`.base.AuditEngine`): it says what
it needs that is missing (a module, a JDK, a server URL) and refuses options it
cannot honour, each with a message that says what to do, before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable

from proxylab.audit.engines.base import AuditEngine, EngineUnavailable
from proxylab.errors import UserError, did_you_mean

ENTRY_POINT_GROUP = "proxylab.audit_engines"
def _default() -> str:
    from proxylab.audit.options import default_reader

    return default_reader()


DEFAULT = _default()


class AuditEngines:
    """The registry: engine names to engine objects (or factories, made on first use)."""

    def __init__(self) -> None:
        self._engines: dict[str, AuditEngine | Callable[[], AuditEngine]] = {}
        self._entry_points_read = False

    def register(self, name: str, engine: AuditEngine | Callable[[], AuditEngine]) -> None:
        self._engines[name] = engine

    def register_entry_points(self) -> None:
        """Engines other packages declare (``[project.entry-points."proxylab.audit_engines"]``).

        Read once, on first need (a name that is not built in, or the full list):
        scanning the installed distributions costs ~15 ms, a tenth of a small audit."""
        if self._entry_points_read:
            return
        self._entry_points_read = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            self._engines.setdefault(ep.name, ep.load())

    def names(self) -> tuple[str, ...]:
        self.register_entry_points()
        return tuple(self._engines)

    def get_engine(self, name: str | None = None) -> AuditEngine:
        name = name or DEFAULT
        if name not in self._engines:
            self.register_entry_points()
        try:
            engine = self._engines[name]
        except KeyError:
            raise UserError(f"no audit engine {name!r}{did_you_mean(name, self.names())} "
                            f"(engines: {', '.join(self.names())})") from None
        if not isinstance(engine, AuditEngine):
            engine = engine()
            self._engines[name] = engine
        return engine


def _builtin() -> AuditEngines:
    from proxylab.audit.engines.clickhouse import ClickHouseEngine
    from proxylab.audit.engines.inprocess import InProcessEngine
    from proxylab.audit.engines.local_sql import ChdbEngine, DuckDBEngine
    from proxylab.audit.engines.spark import SparkEngine

    reg = AuditEngines()
    reg.register("c", InProcessEngine("c"))
    reg.register("polars", InProcessEngine("polars"))
    reg.register("arrow", InProcessEngine("arrow"))
    reg.register("duckdb", DuckDBEngine())
    reg.register("chdb", ChdbEngine())
    reg.register("spark", SparkEngine)
    reg.register("clickhouse", ClickHouseEngine)
    return reg


audit_engines = _builtin()


def get_engine(name: str | None = None) -> AuditEngine:
    return audit_engines.get_engine(name)


def run_engine(engine: AuditEngine, paths: list[str], opts=None, progress=None):
    """Check and run ``engine`` on ``paths`` (the CLI's inputs) under ``opts``
    (:class:`proxylab.audit.options.IngestOptions`): its Aggregates."""
    from proxylab.audit.options import IngestOptions

    opts = opts or IngestOptions()
    engine.require()
    engine.check(paths, opts)
    return engine.aggregate(paths, opts, progress=progress)


def aggregate(name: str | None, paths: list[str], opts=None, progress=None, **options):
    """:func:`run_engine` with the engine of that name, configured with ``options``
    (``spark_master``, ``clickhouse_url``, ``clickhouse_timeout``)."""
    return run_engine(get_engine(name).configure(**options), paths, opts, progress)


__all__ = ["DEFAULT", "AuditEngine", "AuditEngines", "EngineUnavailable", "aggregate",
           "audit_engines", "get_engine",
           "run_engine"]
