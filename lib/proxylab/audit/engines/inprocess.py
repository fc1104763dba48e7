"""The default engine: the in-process streaming reader (:mod:`proxylab.audit.ingest`).

Registered once per native-format reader (``c``, compiled, the default when built;
``polars``; ``arrow``), so ``--engine`` keeps naming the readers it named before there
were other engines."""

from __future__ import annotations

from dataclasses import replace

from proxylab.audit.engines.base import AuditEngine, EngineUnavailable


class InProcessEngine(AuditEngine):
    in_process = True

    def __init__(self, reader: str = "polars") -> None:
        self.name = reader
        self.reader = reader

    def require(self) -> None:
        from proxylab.audit.scan import NOT_BUILT, READER, available

        if self.reader == READER and not available():
            raise EngineUnavailable(NOT_BUILT)

    def aggregate(self, paths, opts, progress=None):
        from proxylab.audit.ingest import ingest

        return ingest(paths, replace(opts, engine=self.reader), progress=progress)
