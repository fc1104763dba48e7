"""Execute the notebooks with papermill and render the report with nbconvert.

``reports/<name>/``::

    notebooks/01-lab.ipynb ... 04-report.ipynb   executed copies (with outputs)
    index.html                                   04's outputs: contents, scenarios folded
    report.md + report_files/*.png               04 as Markdown, images as named files
    zenn/ qiita/ devto/                          04 for those blogs (``--md-flavor``)
    report.pdf                                   index.html printed by headless Chromium
    analysis.html                                03 rendered with its code (for the curious)
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxylab.errors import UserError

NOTEBOOKS = ("01-lab.ipynb", "02-run-scenarios.ipynb", "03-analyse.ipynb", "04-report.ipynb")
NOTEBOOKS_DIR = "notebooks"


def notebooks_dir() -> Path:
    """The repository's notebooks/ (source checkout) - the only place they live."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / NOTEBOOKS_DIR
        if (cand / NOTEBOOKS[-1]).exists():
            return cand
    raise UserError("cannot find the notebooks/ directory (expected next to lib/ in the "
                    "proxylab checkout)")


def project_root() -> Path:
    """The checkout the notebooks' relative paths mean. JupyterLab starts each kernel in
    the notebook's own directory (``notebooks/``, or ``reports/<name>/notebooks/`` for an
    executed copy), so ``"data/runs"`` relative to the kernel finds nothing; relative to
    this root it finds the captures wherever the notebook was opened from.

    ``PROXYLAB_ROOT`` if set (``proxylab notebook`` sets it); else the nearest directory
    above the working directory holding ``notebooks/`` and ``pyproject.toml``; else the
    checkout this package was installed from."""
    env = os.environ.get("PROXYLAB_ROOT")
    if env:
        return Path(env).resolve()
    cwd = Path.cwd().resolve()
    for cand in (cwd, *cwd.parents):
        if (cand / "pyproject.toml").is_file() and (cand / NOTEBOOKS_DIR).is_dir():
            return cand
    return notebooks_dir().parent


def resolve(path: str | Path) -> Path:
    """An absolute path as given; a relative one from :func:`project_root`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def _for_notebook(path: str | Path) -> str:
    """A capture path as the executed notebooks record it: relative to the project root
    when inside it (no local directory names in a shared report), else absolute; the
    notebooks resolve either from the root, so re-running an executed copy in
    JupyterLab finds the same captures."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(project_root()))
    except ValueError:
        return str(p)


@dataclass
class Rendered:
    out_dir: Path
    html: Path
    markdown: Path
    executed: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    pages: list[Path] = field(default_factory=list)  # everything a reader opens
    pdf: Path | None = None


def parameters_for(name: str, captures: list[str], lang: str, redact: bool, key: str,
                   title: str | None) -> dict[str, Any]:
    # Exactly the captures given (the notebooks' own default picks the latest set).
    common = {"captures": [_for_notebook(c) for c in captures], "latest": False}
    if name.startswith("01"):
        return {**common, "redact": redact, "redact_key": key}
    if name.startswith("02"):
        return {**common, "run": False}
    if name.startswith("03"):
        return {**common, "redact": redact, "redact_key": key}
    return {**common, "lang": lang, "redact": redact, "redact_key": key, "title": title}


ANALYSIS_NB = "03-analyse.ipynb"
# What the notebooks import, imported by the kernel as soon as it starts, while this
# process imports papermill: the two take about as long, on two cores at once.
KERNEL_WARM_UP = ("proxylab.report.nb", "proxylab.report.document", "proxylab.analysis",
                  "IPython.display")


def execute(captures: list[str], out_dir: Path, lang: str = "en", redact: bool = False,
            title: str | None = None, progress: Callable[[str], None] | None = None,
            kernel_name: str | None = None, flavors: Sequence[str] = ("github",),
            image_url: str | None = None, pdf: bool | None = None,
            name: str | None = None) -> Rendered:
    """Run the four notebooks on ``captures`` into ``out_dir`` and render the report.
    ``pdf``: None prints one when Chromium is there, True insists, False never.

    What does not need the kernel overlaps with what does: Chromium starts while 03
    runs (report/browser.py), ``analysis.html`` (03 with its code) is rendered while 04
    runs, and once 04 is written the kernel is ended, Chromium prints the PDF and the
    pages are written beside it."""
    from concurrent.futures import ThreadPoolExecutor

    from proxylab.report import browser, publish
    from proxylab.report import kernel as kernels

    say = progress or (lambda text: None)
    article = name or out_dir.resolve().name
    printing = pdf is not False and browser.chromium() is not None
    if pdf and not printing:  # said before the notebooks run, not after
        raise UserError("--pdf needs Chromium (Debian: apt-get install chromium)")
    src = notebooks_dir()
    nb_out = out_dir / "notebooks"
    nb_out.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16) if redact else ""
    done = Rendered(out_dir, out_dir / "index.html", out_dir / "report.md")
    report_nb = nb_out / NOTEBOOKS[-1]
    printer: browser.Printer | None = None
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="proxylab-render") as pool, \
            contextlib.ExitStack() as chromium:
        # The kernel inherits file descriptor 2 when it starts: started inside the
        # redirect, its chatter goes to kernel.log for all four notebooks.
        with _child_stderr_to(nb_out / "kernel.log"), \
                kernels.shared_kernel(kernel_name or _kernel(), cwd=Path.cwd(),
                                      warm_up=KERNEL_WARM_UP) as kernel:
            pm = kernels.papermill()  # imported while the kernel starts and imports
            analysis = None
            for i, nb_name in enumerate(NOTEBOOKS, 1):
                if printing and nb_name == ANALYSIS_NB:  # Chromium starts while 03 runs
                    printer = chromium.enter_context(browser.Printer())
                say(f"[{i}/{len(NOTEBOOKS)}] executing {nb_name}")
                t0 = time.monotonic()
                target = nb_out / nb_name
                _run_notebook(pm, src / nb_name, target, nb_out,
                              parameters_for(nb_name, captures, lang, redact, key, title),
                              kernel, progress is not None)
                if key:
                    _forget_key(target, key)
                done.executed.append(target)
                done.seconds[nb_name] = round(time.monotonic() - t0, 2)
                if nb_name == ANALYSIS_NB:  # 03 is final: its page while 04 runs
                    analysis = pool.submit(to_html, target, out_dir / "analysis.html",
                                           hide_input=False, title="proxylab analysis")
            kernel.stop()  # before Chromium prints: the two never hold much memory at once
        say("rendering index.html and report.md")
        t_render = time.monotonic()
        items = publish.blocks(report_nb)
        pages = pool.submit(write_pages, items, out_dir, lang, title, flavors, image_url,
                            article)
        if printer is not None:
            say("printing report.pdf with headless Chromium")
            t_pdf = time.monotonic()
            done.pdf = printer.print_pdf(_page(items, lang, title, expand=True),
                                         out_dir / "report.pdf")
            done.seconds["pdf"] = round(time.monotonic() - t_pdf, 2)
        done.pages = pages.result()
        if analysis is not None:
            analysis.result()
            done.pages.append(out_dir / "analysis.html")
        if done.pdf is not None:
            done.pages.append(done.pdf)
        done.seconds["render"] = round(time.monotonic() - t_render, 2)
    if pdf is None and not printing:
        say("no Chromium on PATH: no PDF (Debian: apt-get install chromium)")
    return done


def _run_notebook(pm: Any, src: Path, target: Path, nb_out: Path, parameters: dict[str, Any],
                  kernel: Any, progress: bool) -> None:
    try:
        kernel.run(
            pm, src, target, parameters,
            # Written once at the end (and on an error, with its traceback), not after
            # every cell: each write serialises every image again.
            request_save_on_cell_execute=False,
            # tqdm's bar redraws with carriage returns: garbage in a log file or CI
            # output, where our own "[i/4]" lines already say what runs.
            progress_bar=progress and _is_tty(sys.stderr),
            cwd=str(Path.cwd()), log_output=False,
        )
    except pm.PapermillExecutionError as exc:
        raise UserError(f"notebook {src.name} failed in cell {exc.exec_count}: "
                        f"{exc.ename}: {exc.evalue} (executed copy with the "
                        f"traceback: {target}; the kernel's own log: "
                        f"{nb_out / 'kernel.log'})") from None


def _page(items: list[Any], lang: str, title: str | None, expand: bool = False) -> str:
    from proxylab.report import i18n, publish

    return publish.html_page(items, title or i18n.t(lang, "title"), lang,
                             i18n.t(lang, "contents"), expand=expand)


def write_pages(items: list[Any], out_dir: Path, lang: str = "en", title: str | None = None,
                flavors: Sequence[str] = ("github",), image_url: str | None = None,
                name: str = "report") -> list[Path]:
    """index.html and one Markdown export per flavour, from the executed report
    notebook's blocks (``publish.blocks``); returns the files a reader opens."""
    from proxylab.report import i18n, publish

    heading = title or i18n.t(lang, "title")
    html = out_dir / "index.html"
    html.write_text(_page(items, lang, title), encoding="utf-8")
    pages = [html]
    for flavor in dict.fromkeys(("github", *flavors)):  # report.md always
        pages.append(publish.write_markdown(items, out_dir, flavor, heading, name, lang,
                                            image_url=image_url).markdown)
    return pages


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


@contextlib.contextmanager
def _child_stderr_to(log: Path) -> Iterator[None]:
    """Send the kernel's own chatter (transport warnings, shutdown messages) to a log
    file while our progress lines still reach the terminal: the kernel inherits file
    descriptor 2, Python's ``sys.stderr`` keeps a copy of the original."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep clean
        yield
        return
    original = sys.stderr
    with open(log, "ab") as fh:
        sys.stderr.flush()
        os.dup2(fh.fileno(), 2)
        sys.stderr = open(saved, "w", closefd=False, buffering=1)  # noqa: SIM115
        try:
            yield
        finally:
            sys.stderr.flush()
            sys.stderr = original
            os.dup2(saved, 2)
            os.close(saved)


def _kernel() -> str:
    """A kernel that runs this interpreter (so the venv's proxylab is importable)."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    prefix = Path(sys.prefix) / "share" / "jupyter" / "kernels"
    for name, path in specs.items():
        if Path(path).parent == prefix:
            return name
    return "python3"


def _forget_key(notebook: Path, key: str) -> None:
    """The redaction key makes the placeholders stable within one report; anyone holding
    it could test guesses against them, so no saved notebook or page keeps it."""
    text = notebook.read_text(encoding="utf-8")
    if key in text:
        notebook.write_text(text.replace(key, "***"), encoding="utf-8")


def _strip_parameters(nb: Any) -> None:
    nb.cells = [c for c in nb.cells
                if not ({"parameters", "injected-parameters"} & set(c.get("metadata", {})
                                                                   .get("tags", [])))]


def to_html(notebook: Path, out: Path, hide_input: bool, title: str, lang: str = "en") -> Path:
    """Self-contained HTML: images are data URIs, no external scripts; ``lang`` goes
    on ``<html lang=...>`` so browsers and screen readers treat Japanese as Japanese."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    if hide_input:
        _strip_parameters(nb)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = hide_input
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.language_code = lang
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _drop_external_scripts(body)
    body = body.replace("</head>", f"<style>{READABLE_CSS}</style>\n</head>", 1)
    body = re.sub(r"<html lang=\"[^\"]*\"", f"<html lang=\"{lang}\"", body, count=1)
    out.write_text(body, encoding="utf-8")
    return out


# Charts are PNGs at twice their design width (report/charts.py): shown no wider than
# the column, at full sharpness; a wide table scrolls instead of pushing the page wider;
# log excerpts stay monospace (the lab template's Markdown rules set a proportional
# font on <pre>) and wrap only at whitespace, so a copied log line is whole.
READABLE_CSS = (".jp-RenderedImage img, .jp-OutputArea-output img "
                "{max-width: 100%; height: auto;} "
                ".jp-RenderedHTMLCommon table {display: block; overflow-x: auto; "
                "max-width: 100%;} "
                ".jp-RenderedHTMLCommon pre, .jp-RenderedHTMLCommon pre code "
                "{font-family: var(--jp-code-font-family, monospace), monospace; "
                "font-size: 0.85em; white-space: pre-wrap; word-break: normal; "
                "overflow-wrap: normal; overflow-x: auto;}")


def _drop_external_scripts(html: str) -> str:
    """nbconvert links require.js / MathJax from a CDN; the report has no maths and no
    widgets, so those tags are removed and the page needs nothing from the network."""
    html = re.sub(r"<script[^>]+src=\"https?://[^\"]+\"[^>]*>\s*</script>", "", html)
    html = re.sub(r"<link[^>]+href=\"https?://[^\"]+\"[^>]*>", "", html)
    return html


def to_markdown(notebook: Path, out: Path) -> Path:
    """Markdown with the figures written next to it (``report_files/``)."""
    import nbformat
    from nbconvert import MarkdownExporter

    nb = nbformat.read(str(notebook), as_version=4)
    _strip_parameters(nb)
    exporter = MarkdownExporter()
    exporter.exclude_input = True
    files_dir = out.parent / f"{out.stem}_files"
    body, resources = exporter.from_notebook_node(
        nb, resources={"output_files_dir": files_dir.name})
    if files_dir.exists():
        shutil.rmtree(files_dir)
    files_dir.mkdir(parents=True)
    for rel, data in (resources.get("outputs") or {}).items():
        path = out.parent / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else base64.b64decode(data))
    out.write_text(body, encoding="utf-8")
    return out


# Public name for other notebook renderers (the audit report uses it).
kernel_name = _kernel
