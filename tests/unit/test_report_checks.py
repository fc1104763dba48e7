"""The report's checks and data-quality sections: expectation verdicts, skipped and
modified captures, in both languages."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from proxylab.capture import checksums  # noqa: E402
from proxylab.report import i18n  # noqa: E402
from proxylab.report.document import Report  # noqa: E402
from proxylab.report.words import en, ja  # noqa: E402
from proxylab.vocab import UncheckedReason  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
AWS = sorted(FIX.glob("aws-seed-*"))


def _split(text: str, lang: str) -> tuple[str, str]:
    """The checks section before and after the "could not be checked" paragraph."""
    mark = {"en": "could not be checked", "ja": "検証できませんでした"}[lang]
    assert mark in i18n.t(lang, "expect_unchecked", m=1, n=2)
    i = text.find(mark)
    return (text, "") if i < 0 else (text[:i], text[i:])


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_unchecked_expectations_are_not_listed_as_failed(lang):
    doc = Report.load(AWS, lang=lang)
    ex = doc.analysis.expectations
    unchecked = ex[ex["verdict"] == "unchecked"]
    # the AWS lab keeps no S3 front log: the oracle is the capture's own expectation
    assert len(unchecked) == len(AWS) and (ex["verdict"] == "failed").sum() == 0
    text = doc.checks_md()
    before, after = _split(text, lang)
    assert after, text
    bad_head = i18n.t(lang, "expect_bad", bad=len(unchecked), n=len(ex))
    assert bad_head not in text
    words = {"en": en, "ja": ja}[lang]
    reason = words.UNCHECKED[UncheckedReason.SERVICE_NOT_LOGGED]
    assert reason not in before and after.count(reason) == len(unchecked)
    for rid in unchecked["run_id"]:
        assert rid in after and rid not in before


def test_both_languages_say_the_same_unchecked_facts():
    en_doc, ja_doc = Report.load(AWS, lang="en"), Report.load(AWS, lang="ja")
    en_doc.checks_md()
    ja_doc.checks_md()
    assert en_doc.facts == ja_doc.facts
    assert {k[2] for k in en_doc.facts} == {"unchecked"}


def _copy(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    for d in [*AWS, FIX / "20261124T153210Z-seed-1-a1b2"]:
        shutil.copytree(d, runs / d.name)
    return runs


def test_failed_expectation_is_listed_as_not_held(tmp_path):
    runs = _copy(tmp_path)
    rj = runs / "aws-seed-2" / "run.json"
    data = json.loads(rj.read_text())
    data["scenario"]["expect"]["steps"]["web"] = "tunnel_error"  # it was ok
    rj.write_text(json.dumps(data))
    doc = Report.load([runs / "aws-seed-2"])
    text = doc.checks_md()
    before, after = _split(text, "en")
    assert i18n.t("en", "expect_bad", bad=1, n=len(doc.analysis.expectations)) in before
    assert "step web | tunnel_error | ok" in before and "step web" not in after


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_unreadable_captures_are_named_as_skipped(tmp_path, lang):
    runs = _copy(tmp_path)
    (runs / "aws-seed-3" / "run.json").write_text("{ not json")
    rj = runs / "aws-seed-4" / "run.json"
    rj.write_text(json.dumps({**json.loads(rj.read_text()), "schema": 99}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = Report.load([runs], lang=lang)
    assert len(caught) == 2
    assert sorted(doc.runs["scenario"].astype(str)) == ["seed-1", "seed-2"]
    text = doc.quality_md()
    assert i18n.t(lang, "skipped", n=2) in text
    # the reasons in the report's language (the JSON parser's own detail quoted as is)
    said = {"en": ("`aws-seed-3` | run.json is not readable JSON (",
                   "`aws-seed-4` | run.json has format version 99; this proxylab reads up to 1"),
            "ja": ("`aws-seed-3` | run.json を JSON として読めません (",
                   "`aws-seed-4` | run.json の形式バージョンは 99 ですが、"
                   "この proxylab が読めるのは 1 までです")}[lang]
    assert said[0] in text and said[1] in text
    if lang == "ja":
        assert "is not readable" not in text and "format version" not in text
    assert str(tmp_path) not in text  # no local paths in a shared report


def test_selection_skips_are_reported_once(tmp_path):
    from proxylab.report.nb import select

    runs = _copy(tmp_path)
    (runs / "aws-seed-3" / "run.json").write_text("[]")
    skipped: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = Report.load(select([str(runs)], False, skipped), skipped=skipped)
    assert len(skipped) == 1 and doc.analysis.tables.skipped == skipped


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_evidence_modified_after_capture_is_said(tmp_path, lang):
    runs = _copy(tmp_path)
    run = runs / "aws-seed-2"
    rj = run / "run.json"
    names = ["function.log", "proxy_access.log", "services.log"]
    rj.write_text(json.dumps({**json.loads(rj.read_text()), "checksums": checksums(run, names)}))
    assert i18n.t(lang, "modified_h") not in Report.load([runs], lang=lang).quality_md()
    with (run / "proxy_access.log").open("a") as fh:
        fh.write("tampered\n")
    doc = Report.load([runs], lang=lang)
    text = doc.quality_md()
    assert i18n.t(lang, "modified_h") in text
    line = next(x for x in text.splitlines() if x.startswith("- `20261124T160000Z-seed-2-b7e1`"))
    assert "proxy_access.log" in line and "function.log" not in line
    assert ("evidence modified after capture" in line) if lang == "en" else ("変更" in line)


def test_report_from_renders_beside_unreadable_captures(tmp_path):
    """`proxylab report --from` end to end: two broken captures among good ones."""
    from proxylab.cli import main

    runs = _copy(tmp_path)
    (runs / "aws-seed-3" / "run.json").write_text("{ garbage")
    rj = runs / "aws-seed-4" / "run.json"
    rj.write_text(json.dumps({**json.loads(rj.read_text()), "schema": 99}))
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["report", "--from", str(runs), "--out", str(out), "--quiet"]) == 0
    md = (out / "report.md").read_text()
    quality = md[md.index("## Data quality"):]
    assert "`aws-seed-3` | run.json is not readable JSON" in quality
    assert "`aws-seed-4` | run.json has format version 99" in quality
    # the good captures are analysed: each has its run section
    # (each folded: GitHub shows a scenario's <summary> and opens it on a click)
    assert "<summary>seed-1:" in md and "<summary>seed-2:" in md and "<summary>seed-3:" not in md
    assert str(tmp_path) not in md and "UserWarning" not in md


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_provenance_block_says_what_the_captures_record(tmp_path, lang):
    from datetime import UTC, datetime

    runs = _copy(tmp_path)
    rj = runs / "aws-seed-2" / "run.json"
    data = json.loads(rj.read_text())
    data["lab"]["resources"].update(squid_version="6.13", botocore_version="1.35.0")
    rj.write_text(json.dumps(data))
    doc = Report.load([runs], lang=lang)
    text = doc.method_md()
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1].strip(" |")
            for line in text.splitlines() if line.startswith("| ") and " | " in line}
    t = lambda key, **kw: i18n.t(lang, key, **kw)  # noqa: E731
    assert rows[t("prov_squid")] == "6.13 (" + t("not_recorded_in", k=3, n=4) + ")"
    assert rows[t("prov_botocore")].startswith("1.35.0 (")
    assert rows[t("prov_proxylab")] == t("not_recorded")
    assert rows[t("prov_runtime")] == t("not_recorded")
    assert rows[t("prov_backend")] == "aws, local" and rows[t("prov_region")] == "ap-northeast-1"
    # the run dates, from the run.json files themselves (the oracle)
    stamps = [json.loads((d / "run.json").read_text())[k] for d in runs.iterdir()
              for k in ("started_at", "finished_at")]
    first = datetime.fromtimestamp(min(stamps), UTC)
    assert rows[t("prov_dates")].startswith(f"{first:%Y-%m-%d %H:%M} – ")


def test_every_unchecked_reason_has_words_in_both_languages():
    for w in (en, ja):
        assert set(w.UNCHECKED) == {*UncheckedReason, None}
        assert len(set(w.UNCHECKED.values())) == len(w.UNCHECKED)
