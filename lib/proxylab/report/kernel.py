"""One kernel, and one kernel client, for the report's four notebooks (report/render.py).

Starting a kernel and importing pandas and matplotlib into it cost more than 03 and 04
spend on a seed-sized capture set, and a kernel kept between notebooks also keeps what
:func:`proxylab.analysis.derive` already derived, so 04 does not parse and analyse
again what 03 did. Each notebook still starts from an empty namespace, as it would in
a kernel of its own.

Where the seconds went before (4 captures, 2 cores): the kernel's imports came after
papermill's, one after the other; and every notebook connected two new clients (one to
reset the namespace, one for papermill), each paying jupyter_client's ready check
(``wait_for_ready``: a kernel_info round trip and up to 0.2 s for IOPub to deliver,
twice when the new subscription misses the first status message) - about 0.4 s per
notebook. Now the kernel imports the notebooks' modules while this process imports
papermill (:meth:`SharedKernel.warm_up`), and one client, connected once, resets and
runs all four (:data:`ENGINE`, a papermill engine: papermill's own ``nbclient`` engine
handed the shared client).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from proxylab.errors import UserError

ENGINE = "proxylab-shared-kernel"  # the papermill engine name (registered by papermill())
RESET = "get_ipython().reset(new_session=True)"


class SharedKernel:
    """The report's kernel: started by :func:`shared_kernel`; :meth:`run` executes one
    notebook with papermill through the client the notebooks share."""

    def __init__(self, name: str, km: Any):
        self.name, self.km = name, km
        self.kc: Any = None  # made by the first notebook's papermill client, then kept
        self._warm: Any = None

    def warm_up(self, modules: Sequence[str]) -> None:
        """Have the kernel import ``modules`` as soon as it is up, without waiting: the
        request queues ahead of papermill's, and the caller imports papermill meanwhile.
        Silent and out of history, names bound nowhere, so the first notebook still
        starts from an empty namespace; a module that fails to import fails again, with
        its traceback, in the notebook that imports it."""
        code = ("def _proxylab_warm_up():\n    import importlib\n"
                f"    for m in {tuple(modules)!r}:\n"
                "        try:\n            importlib.import_module(m)\n"
                "        except Exception:\n            pass\n"
                "_proxylab_warm_up()\ndel _proxylab_warm_up\n")
        kc = self.km.blocking_client()
        kc.start_channels()
        kc.execute(code, silent=True, store_history=False)
        self._warm = kc

    def run(self, pm: Any, src: Path, target: Path, parameters: dict[str, Any],
            **kwargs: Any) -> None:
        """``papermill.execute_notebook`` on this kernel, from an empty namespace
        (``pm`` is :func:`papermill`'s module, with the engine registered)."""
        pm.execute_notebook(str(src), str(target), parameters=parameters,
                            kernel_name=self.name, km=self.km, engine_name=ENGINE,
                            shared_kernel=self, **kwargs)

    def reset(self, kc: Any) -> None:
        """Forget the previous notebook's variables (modules stay imported); the
        client is connected (its ready check passed), so this is one round trip."""
        from jupyter_core.utils import run_sync

        self._stop_warm_up()  # answered by now: the kernel took it first
        reply = run_sync(kc.execute_interactive)(
            RESET, silent=True, store_history=False, timeout=60, output_hook=lambda msg: None)
        content = dict(reply["content"])
        if content.get("status") != "ok":
            raise UserError("the report kernel could not be reset between notebooks: "
                            f"{content.get('evalue', content)}")

    def stop(self) -> None:
        """End the kernel at once, when the last notebook is written: every output is
        in the executed copies, and nothing in the kernel is kept (the derived tables
        were cached when 03 made them). A polite shutdown makes the kernel tear down
        everything it holds (0.4 s for 4 runs, 1.2 s and ~280 MB for 400), while
        Chromium, started next, prints the PDF beside it; a kill frees it at once and
        reaps it."""
        from jupyter_core.utils import run_sync

        self._stop_clients()
        if run_sync(self.km.is_alive)():
            run_sync(self.km.shutdown_kernel)(now=True)

    def close(self) -> None:
        """The polite shutdown, where :meth:`stop` was not reached (an error)."""
        from jupyter_core.utils import run_sync

        self._stop_clients()
        if run_sync(self.km.is_alive)():
            run_sync(self.km.shutdown_kernel)(now=False)

    def _stop_warm_up(self) -> None:
        if self._warm is not None:
            self._warm.stop_channels()
            self._warm = None

    def _stop_clients(self) -> None:
        self._stop_warm_up()
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None


@contextlib.contextmanager
def shared_kernel(name: str, cwd: Path, warm_up: Sequence[str] = ()) -> Iterator[SharedKernel]:
    """Start the kernel the notebooks share (importing ``warm_up`` while the caller
    goes on); always shut it down (even on an error)."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    km = AsyncKernelManager(kernel_name=name)
    run_sync(km.start_kernel)(cwd=str(cwd))
    kernel = SharedKernel(name, km)
    try:
        if warm_up:
            kernel.warm_up(warm_up)
        yield kernel
    finally:
        kernel.close()


def papermill() -> Any:
    """papermill with :data:`ENGINE` registered, imported without the second nbformat
    spends building a grammar it never uses: nbformat imports jsonschema, and
    jsonschema's format checkers import ``rfc3987_syntax`` when it is installed (it
    comes with jupyter-events' ``jsonschema[format-nongpl]``), which builds a Lark
    parser for IRIs at import (0.6-1 s here). nbformat's schemas check no ``format``,
    so the checker is not missed; a process that imported it already keeps it."""
    if "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # ImportError
        try:
            import jsonschema  # noqa: F401
        finally:
            del sys.modules["rfc3987_syntax"]
    import papermill as pm
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE, _engine())
    return pm


@functools.cache
def _engine() -> type:
    """papermill's ``nbclient`` engine whose client is the shared kernel's: the first
    notebook's client connects (and passes the ready check) once, the others reuse it,
    each resetting the namespace first."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine

    class Client(PapermillNotebookClient):  # type: ignore[misc]
        def __init__(self, nb_man: Any, shared_kernel: SharedKernel, **kw: Any):
            super().__init__(nb_man, **kw)
            self.shared = shared_kernel
            self.kc = shared_kernel.kc  # None the first time: nbclient connects one

        def papermill_execute_cells(self) -> None:
            self.shared.kc = self.kc  # nbclient leaves a client it was given km for open
            self.shared.reset(self.kc)
            super().papermill_execute_cells()

    class Engine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str,
                                     log_output: bool = False, stdout_file: Any = None,
                                     stderr_file: Any = None, start_timeout: int = 60,
                                     execution_timeout: Any = None, **kwargs: Any) -> Any:
            # NBClientEngine's argument handling, with Client for PapermillNotebookClient
            from papermill.log import logger
            from papermill.utils import merge_kwargs, remove_args

            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
            return Client(nb_man, **final_kwargs).execute()

    return Engine
