"""Acceptance: the notebooks as a user meets them in JupyterLab.

A real JupyterLab server (the command line `proxylab notebook` builds) is started
headless on a random free 127.0.0.1 port with a token, in a throwaway git repository
holding the notebooks, `.gitattributes` and the clean filter exactly as `make setup`
installs it. Each notebook is executed top to bottom through the server's REST and
websocket API (sessions, kernel channels) against the fixture captures, given as
`"tests/fixtures/captures"` - a path relative to the project root, while the kernel
starts in `notebooks/` - and saved back through the contents API, as JupyterLab's
autosave does. The saved files then hold outputs; what git stores must not.
An executed report notebook (papermill's injected parameters, as `proxylab report`
leaves it in `reports/<name>/notebooks/`) is re-run from its own directory and must
still give the answer, not "No probe steps were captured".
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from proxylab.commands.notebook import command
from proxylab.report.render import NOTEBOOKS, kernel_name, parameters_for

ROOT = Path(__file__).resolve().parents[2]
AUDIT_NB = "05-audit.ipynb"
SQUID_LOG = "tests/fixtures/captures/20261124T153210Z-seed-1-a1b2/proxy_access.log"
# What the user types into each parameters cell (relative to the project root).
OVERRIDES = {name: 'captures = "tests/fixtures/captures"' for name in NOTEBOOKS}
OVERRIDES[AUDIT_NB] = f'paths = ["{SQUID_LOG}"]'
FILTER_CLEAN = "python3 lib/proxylab/report/nbstrip.py"  # as the Makefile's nbfilter writes it
NO_STEPS = "No probe steps were captured"  # the answer when the captures were not found


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, timeout=60).stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A JupyterLab server and the few API calls a browser makes."""

    def __init__(self, root: Path, home: Path):
        self.port, self.token = _free_port(), uuid.uuid4().hex
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "PROXYLAB_ROOT"))}
        env.update(JUPYTER_TOKEN=self.token, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "cfg"),
                   JUPYTER_RUNTIME_DIR=str(home / "run"), IPYTHONDIR=str(home / "ipython"))
        self.log = (home / "server.log").open("wb")
        self.proc = subprocess.Popen(command(root, self.port), env=env, cwd=root,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError("JupyterLab did not start: "
                                         + (home / "server.log").read_text()[-2000:]) from None
                time.sleep(0.5)

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
        return json.loads(text) if text else {}

    def run_notebook(self, path: str, override: str | None) -> dict:
        """Open, execute every code cell in order, save: what a user does with Run All."""
        import websocket

        model = self.api("GET", f"/api/contents/{path}?content=1&type=notebook")
        nb = model["content"]
        session = self.api("POST", "/api/sessions", {
            "path": path, "type": "notebook", "name": Path(path).name,
            "kernel": {"name": kernel_name()}})
        kid = session["kernel"]["id"]
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/api/kernels/{kid}/channels?token={self.token}",
            timeout=120)
        try:
            count = 0
            for cell in nb["cells"]:
                if cell["cell_type"] != "code":
                    continue
                src = "".join(cell["source"]) if isinstance(cell["source"], list) \
                    else cell["source"]
                if override and "parameters" in cell["metadata"].get("tags", []):
                    # Run with the fixture path; save the cell as stored, so any change
                    # git sees can only come from outputs.
                    src = f"{src}\n{override}"
                count += 1
                cell["outputs"] = _execute(ws, src)
                cell["execution_count"] = count
        finally:
            ws.close()
            self.api("DELETE", f"/api/sessions/{session['id']}")
        self.api("PUT", f"/api/contents/{path}", {"type": "notebook", "format": "json",
                                                  "content": nb})
        return nb

    def stop(self) -> None:
        try:
            self.api("POST", "/api/shutdown")
        except Exception:  # noqa: BLE001 - already gone or not up: the kill below decides
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


def _execute(ws, code: str) -> list[dict]:
    """One execute_request on the kernel's websocket; the cell's outputs as nbformat
    dicts, gathered from iopub until the kernel is idle for this request."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    outputs: list[dict] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id or msg["channel"] != "iopub":
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status" and content["execution_state"] == "idle":
            return outputs
        if kind == "stream":
            outputs.append({"output_type": "stream", "name": content["name"],
                            "text": content["text"]})
        elif kind in ("display_data", "execute_result"):
            out = {"output_type": kind, "data": content["data"],
                   "metadata": content.get("metadata", {})}
            if kind == "execute_result":
                out["execution_count"] = content["execution_count"]
            outputs.append(out)
        elif kind == "error":
            outputs.append({"output_type": "error", "ename": content["ename"],
                            "evalue": content["evalue"], "traceback": content["traceback"]})
    raise AssertionError(f"cell did not finish in time: {code[:80]!r}")


def _text(nb: dict) -> str:
    """Everything a reader sees in the outputs (Markdown and plain text)."""
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            data = out.get("data", {})
            parts += [str(data.get(k, "")) for k in ("text/markdown", "text/plain")]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A git repository laid out like the checkout, with the filter installed."""
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(ROOT / "notebooks", repo / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    # What git stores, not whatever outputs the developer's own copies hold.
    for name in (*NOTEBOOKS, AUDIT_NB):
        (repo / "notebooks" / name).write_text(
            _git(ROOT, "show", f":notebooks/{name}"), encoding="utf-8")
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")  # JupyterLab's checkpoints
    (repo / "lib/proxylab/report").mkdir(parents=True)
    shutil.copy(ROOT / "lib/proxylab/report/nbstrip.py", repo / "lib/proxylab/report")
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    _git(repo, "config", "filter.proxylab-nbstrip.clean", FILTER_CLEAN)
    _git(repo, "config", "filter.proxylab-nbstrip.required", "true")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "notebooks as stored")
    # The executed copy `proxylab report` leaves: papermill's injected parameters.
    import papermill as pm

    executed = repo / "reports" / "seed" / "notebooks"
    executed.mkdir(parents=True)
    report = nbformat.read(str(repo / "notebooks" / NOTEBOOKS[-1]), as_version=4)
    seed = sorted(str(p) for p in (ROOT / "tests/fixtures/captures").glob("2026*-seed-[1-4]-????"))
    params = parameters_for(NOTEBOOKS[-1], seed, "en", False, "", None)
    report.metadata["papermill"] = {}  # papermill records the parameters here
    nbformat.write(pm.parameterize.parameterize_notebook(report, params),
                   str(executed / NOTEBOOKS[-1]))
    server = Server(repo, tmp_path_factory.mktemp("home"))
    try:
        results = {name: server.run_notebook(f"notebooks/{name}", OVERRIDES[name])
                   for name in (*NOTEBOOKS, AUDIT_NB)}
        results["rerun"] = server.run_notebook(f"reports/seed/notebooks/{NOTEBOOKS[-1]}", None)
    finally:
        server.stop()
    assert server.proc.returncode is not None
    return repo, results


@pytest.mark.parametrize("name", [*NOTEBOOKS, AUDIT_NB])
def test_runs_top_to_bottom_in_jupyterlab(workspace, name):
    repo, results = workspace
    nb = results[name]
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == [], errors[0]["evalue"] if errors else ""
    assert "No captures found" not in _text(nb)  # the relative path was found
    saved = nbformat.read(str(repo / "notebooks" / name), as_version=4)
    assert any(c.get("outputs") for c in saved.cells if c.cell_type == "code"), "not saved"


def _images(nb: dict) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


def test_report_notebook_gives_the_answer(workspace):
    _, results = workspace
    nb = results[NOTEBOOKS[-1]]
    assert NO_STEPS not in _text(nb)
    assert _images(nb) >= 5  # topology, matrix, a timeline per run (3 runs: the aws set)


def test_rerun_of_executed_report_keeps_the_answer(workspace):
    _, results = workspace
    nb = results["rerun"]
    assert NO_STEPS not in _text(nb)
    assert _images(nb) == 6  # topology, matrix, the four seed runs' timelines


def test_git_stores_the_notebooks_without_outputs(workspace):
    repo, _ = workspace
    _git(repo, "add", "-A", "notebooks")
    staged = _git(repo, "diff", "--cached", "--name-only", "--", "notebooks").split()
    assert staged == [], f"saving outputs changed what git stores: {staged}"
    for name in (*NOTEBOOKS, AUDIT_NB):
        stored = nbformat.reads(_git(repo, "show", f":notebooks/{name}"), as_version=4)
        assert all(c.outputs == [] and c.execution_count is None
                   for c in stored.cells if c.cell_type == "code")


def test_the_checkout_has_the_filter_installed():
    """`make setup` wrote the filter into this checkout's git config."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    attr = _git(ROOT, "check-attr", "filter", "notebooks/04-report.ipynb")
    assert attr.strip().endswith("proxylab-nbstrip")
    clean = _git(ROOT, "config", "filter.proxylab-nbstrip.clean").strip()
    assert clean.endswith("lib/proxylab/report/nbstrip.py"), "run `make setup`"


def test_server_command_is_loopback_only():
    cmd = command(ROOT, 8888)
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--no-browser" in cmd
    assert not any("token" in part.lower() for part in cmd)  # the token is in the environment
    assert sys.executable == cmd[0]
