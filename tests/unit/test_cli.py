"""Command-line polish: suggestions, `report`'s arguments, pages and --open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxylab import cli
from proxylab.report import browser, render

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "captures"
SEED1 = FIX / "20261124T153210Z-seed-1-a1b2"


@pytest.mark.parametrize(("typo", "meant"), [("reprot", "report"), ("notebok", "notebook"),
                                             ("scenario", "scenarios"), ("lba", "lab")])
def test_typo_gets_a_suggestion(typo, meant, capsys):
    assert cli.main([typo]) == 2
    assert f"did you mean '{meant}'" in capsys.readouterr().err


def test_unknown_word_lists_the_commands_and_real_ones_pass(capsys):
    assert cli.main(["zzzz"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'zzzz'" in err and "did you mean" not in err and "report" in err
    assert cli.suggest_command(["report", "--from", "x"], ["report"]) is None
    assert cli.suggest_command(["--version"], ["report"]) is None


def test_bare_report_explains_and_starts_no_lab(monkeypatch, capsys):
    import proxylab.runner

    def no_lab(*a, **k):
        raise AssertionError("a lab was started")

    monkeypatch.setattr(proxylab.runner, "run_catalog", no_lab)
    assert cli.main(["report"]) == 2
    err = capsys.readouterr().err
    assert "--catalog seed" in err and "--from data/runs" in err


class FakeRender:
    """render.execute's stand-in: records where it was asked to write."""

    def __init__(self):
        self.out_dir: Path | None = None

    def __call__(self, captures, out_dir, **kw):
        self.out_dir = Path(out_dir)
        html = self.out_dir / "index.html"
        return render.Rendered(self.out_dir, html, self.out_dir / "report.md",
                               pages=[html, self.out_dir / "report.md",
                                      self.out_dir / "analysis.html"])


@pytest.fixture
def fake(monkeypatch):
    f = FakeRender()
    monkeypatch.setattr(render, "execute", f)
    return f


def test_out_is_the_report_directory_itself(fake, tmp_path, capsys):
    # formerly `--from <runs dir> --out X` wrote to X/<runs dir's name>/
    assert cli.main(["report", "--from", str(FIX), "--out", str(tmp_path / "X"), "--quiet"]) == 0
    assert fake.out_dir == tmp_path / "X"
    assert capsys.readouterr().out.split() == [str(tmp_path / "X" / n) for n in
                                               ("index.html", "report.md", "analysis.html")]


def test_default_out_is_reports_name(fake, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", "--from", str(FIX), "--quiet"]) == 0
    assert fake.out_dir == Path("reports") / "captures"
    assert cli.main(["report", "--from", str(FIX), "--name", "blog", "--quiet"]) == 0
    assert fake.out_dir == Path("reports") / "blog"


def test_out_and_name_together_is_an_error(fake, tmp_path, capsys):
    assert cli.main(["report", "--from", str(FIX), "--out", str(tmp_path), "--name", "x"]) == 2
    assert "pass one of them" in capsys.readouterr().err and fake.out_dir is None


def test_open_uses_the_browser_when_there_is_a_display(fake, tmp_path, monkeypatch, capsys):
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    monkeypatch.setenv("DISPLAY", ":0")
    assert cli.main(["report", "--from", str(FIX), "--out", str(tmp_path), "--open"]) == 0
    assert opened == [(tmp_path / "index.html").as_uri()]


def test_open_without_a_display_starts_nothing_and_says_where(fake, tmp_path, monkeypatch,
                                                              capsys):
    import webbrowser

    monkeypatch.setattr(webbrowser, "open", lambda url: pytest.fail("a browser was started"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert cli.main(["report", "--from", str(FIX), "--out", str(tmp_path), "--open"]) == 0
    assert f"no browser to open; the report is {(tmp_path / 'index.html').as_uri()}" \
        in capsys.readouterr().err


def test_piped_report_has_plain_progress_lines_and_every_page(tmp_path):
    """A real render with stderr to a pipe (a log, CI): no progress-bar redraws, one
    line per step, and every page it printed exists."""
    out = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-m", "proxylab.cli", "report", "--from", str(SEED1),
                           "--out", str(out)], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "it/s" not in proc.stderr and "cell/s" not in proc.stderr
    assert "[1/4] executing 01-lab.ipynb" in proc.stderr
    pages = [Path(p) for p in proc.stdout.split()]
    pdf = [out / "report.pdf"] if browser.chromium() else []  # printed when Chromium is there
    assert pages == [out / "index.html", out / "report.md", out / "analysis.html", *pdf]
    assert all(p.stat().st_size > 0 for p in pages)

