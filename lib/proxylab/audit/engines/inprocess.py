"""The default engine: the in-process streaming reader (:mod:`proxylab.audit.ingest`).

Registered twice, once per native-format reader (``polars``, the default, and
``arrow``), so ``--engine`` keeps naming the readers it named before there were other
engines."""

from __future__ import annotations

from dataclasses import replace

from proxylab.audit.engines.base import AuditEngine


class InProcessEngine(AuditEngine):
    in_process = True

    def __init__(self, reader: str = "polars") -> None:
        self.name = reader
        self.reader = reader

    def aggregate(self, paths, opts, progress=None):
        from proxylab.audit.ingest import ingest

        return ingest(paths, replace(opts, engine=self.reader), progress=progress)
