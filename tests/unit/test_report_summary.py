"""Large capture sets: the runs section counts every run and details one run per
group of alike runs (analysis/alike.py, report/document.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from proxylab.analysis import alike, derive
from proxylab.report import document
from proxylab.report.document import Report

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_captures import FIX, SEED, copies  # noqa: E402


def _facts(doc: Report) -> frozenset:
    doc.answer_md()
    doc.checks_md()
    for rid in document.shown_runs(doc.analysis):
        doc.run_md(rid)
    return doc.facts


def test_forty_repeats_are_four_groups_and_state_the_four_runs_facts(tmp_path):
    many = copies(tmp_path / "c40", 40)
    doc = Report.load(many)
    groups = alike.groups(doc.analysis.routes, doc.runs)
    assert [len(g.runs) for g in groups] == [10, 10, 10, 10]
    assert [g.scenario for g in groups] == ["seed-1", "seed-2", "seed-3", "seed-4"]
    assert document.shown_runs(doc.analysis) == [g.shown for g in groups]
    dist = alike.distribution(doc.analysis.routes)
    assert len(dist) == 16 and set(dist["runs"]) == {10}
    assert all(sum(r.values()) == 10 for r in dist["routes"])
    md = doc.summary_md()
    assert md.startswith("40 runs of 4 scenarios") and "(4 groups)" in md
    assert "| seed-4 | api | 10 |" in md
    line = doc.alike_md(groups[0])
    assert line.startswith("9 more runs showed exactly what")
    assert all(f"`{rid}`" in line for rid in groups[0].others)
    # What the 40 say is what the seed's 4 say: repeats add counts, not facts.
    assert _facts(doc) == _facts(Report.load([FIX / s for s in SEED]))


def test_a_run_that_differs_gets_its_own_group(tmp_path):
    many = copies(tmp_path / "c20", 20)
    odd = many[5]  # a seed-2 run: its first step now timed out
    log = odd / "function.log"
    log.write_text(log.read_text().replace('"outcome":"ok"', '"outcome":"timeout"', 1))
    a = derive(many)
    groups = alike.groups(a.routes, a.tables.runs)
    assert odd.name in [g.shown for g in groups if len(g.runs) == 1]
    assert sum(len(g.runs) for g in groups) == 20


def test_small_sets_show_every_run():
    a = derive([FIX])
    assert document.shown_runs(a) == [str(r) for r in a.tables.runs["run_id"]]
