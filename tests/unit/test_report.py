"""Redaction, charts (readable labels), prose, and the report command's argument handling."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from proxylab.analysis import analyse, load_tables  # noqa: E402
from proxylab.report import charts, i18n, redact, words  # noqa: E402
from proxylab.report.document import Report, code_urls, md_table  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
SEED = [FIX / n for n in ("20261124T153210Z-seed-1-a1b2", "20261124T153230Z-seed-2-c3d4",
                          "20261124T153250Z-seed-3-e5f6", "20261124T153310Z-seed-4-a7b8")]
SECRETS = ["123456789012", "proxylab-demo-bucket", "q8rw2x7k1m", "p4v9t3n6zd",
           "vpce-0a1b2c3d4e5f67890", "vpce-0f9e8d7c6b5a43210",
           "3f1c2a9e-5b7d-4e21-9a0c-6d8e7f901234", "10.1.143.211", "198.18.2.72", "10.0.0.72"]


@pytest.fixture(scope="module")
def a():
    return analyse(load_tables(SEED))


def test_redaction_removes_every_identifier_from_raw_text(a):
    r = redact.build(a.tables, key="k")
    for run in SEED:
        for f in run.iterdir():
            out = r(f.read_text())
            for s in SECRETS:
                assert s not in out, (f, s)


def test_redaction_is_stable_and_consistent(a):
    r1, r2 = redact.build(a.tables, key="k1"), redact.build(a.tables, key="k2")
    text = "CONNECT proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com:443 from 10.1.143.211"
    assert r1(text) == r2(text) == "CONNECT bucket-1.s3.ap-northeast-1.amazonaws.com:443 from ip-7"
    frame = r1.frame(a.routes)
    assert not frame["host"].str.contains("proxylab-demo-bucket").any()
    assert set(frame["host"]) >= {"bucket-1.s3.ap-northeast-1.amazonaws.com"}
    # unknown values: keyed placeholders, never the value, stable under the same key
    assert r1("8.8.8.8") == r1("8.8.8.8") != "8.8.8.8"
    assert r1("8.8.8.8") != r2("8.8.8.8")


def test_addresses_are_replaced_whole_not_as_substrings():
    r = redact.Redactor(mapping={"10.0.0.2": "ip-1"}, key=b"k")
    out = r("10.0.0.2 and 10.0.0.25")
    assert out.startswith("ip-1 and ip-") and "10.0.0" not in out


def test_reverse_lookup_names_are_redacted(a):
    r = redact.build(a.tables, key="k")
    assert r("211.143.1.10.in-addr.arpa") == f"{r('10.1.143.211')}.in-addr.arpa"


def test_disabled_redactor_is_identity(a):
    r = redact.build(a.tables, enabled=False)
    assert r("proxylab-demo-bucket 10.1.143.211") == "proxylab-demo-bucket 10.1.143.211"


def _overlaps(boxes):
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if boxes[i].overlaps(boxes[j])]


@pytest.mark.parametrize("redacted", [False, True])
def test_matrix_labels_fit_and_do_not_overlap(a, redacted):
    r = redact.build(a.tables, enabled=redacted, key="k")
    fig = charts.route_matrix(a.routes, a.tables.runs, redact=r)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    fw, fh = fig.bbox.width, fig.bbox.height
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        boxes = [t.get_window_extent(renderer) for t in labels if t.get_text()]
        assert boxes and not _overlaps(boxes)
        for b in boxes:
            assert b.x0 >= 0 and b.y0 >= 0 and b.x1 <= fw + 1 and b.y1 <= fh + 1
    # cells say each step and its outcome, routes are coloured
    texts = [t.get_text() for t in ax.texts]
    assert "api: tunnel err" in texts and texts.count("get: ok\nput: ok") == 4
    matplotlib.pyplot.close(fig)


def test_timeline_and_topology_draw(a):
    png = charts.png(charts.timeline(a.tables, SEED[2].name))
    assert png.startswith(b"\x89PNG")
    lab = a.tables.records[SEED[3].name].lab.to_dict()
    fig = charts.topology(lab)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "S3 gateway endpoint" in texts and "interface endpoint" in texts and "Squid" in texts
    matplotlib.pyplot.close(fig)
    fig = charts.topology({**lab, "endpoints": {"s3_gateway": False}})
    assert "S3 gateway endpoint" not in " ".join(t.get_text() for t in fig.axes[0].texts)
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("n_addresses", [1, 3, 4])
def test_topology_labels_stay_clear_of_the_address_lines(a, n_addresses):
    """A proxy VPC with several addresses (the open lab gives it three, wrapping to two
    lines) once ran them under the Squid label: every label's box must clear them."""
    lab = a.tables.records[SEED[3].name].lab.to_dict()
    addrs = ["10.0.0.72/32", "10.0.0.2/32", "198.18.2.72/32", "198.18.2.73/32"]
    for place in lab["places"]:
        if place["name"] in ("proxy", "lambda"):
            place["addresses"] = addrs[:n_addresses]
    fig = charts.topology(lab)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = fig.axes[0].texts
    for label in ("Squid", "Lambda function"):
        badge = next(t for t in texts if t.get_text().startswith(label))
        box = badge.get_bbox_patch().get_window_extent(r)
        for t in texts:
            if t.get_text().startswith("10.0.0.72"):
                assert not box.overlaps(t.get_window_extent(r)), (label, t.get_text())
    matplotlib.pyplot.close(fig)


def test_wrap_host():
    assert charts.wrap_host("proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com") == \
        "proxylab-demo-bucket\n.s3.ap-northeast-1\n.amazonaws.com"


def test_prose_in_both_languages_states_the_same_facts(a):
    en = Report(a, "en", None)
    ja = Report(a, "ja", None)
    for doc in (en, ja):
        text = doc.answer_md()
        assert "seed-2, seed-4" in text and "NO_PROXY" in text
    assert "bypassed the proxy only when NO_PROXY matched them" in en.answer_md()
    assert "NO_PROXY が一致したときだけプロキシを迂回しました" in ja.answer_md()
    assert set(i18n.TEXT["en"]) == set(i18n.TEXT["ja"])


def test_japanese_why_is_built_from_the_same_facts(a):
    ja = Report(a, "ja", None)
    seed2, seed3 = ja.run_md(SEED[1].name), ja.run_md(SEED[2].name)
    assert "NO_PROXY のエントリ 's3.ap-northeast-1.amazonaws.com'" in seed2
    assert "S3 ゲートウェイエンドポイント vpce-0f9e8d7c6b5a43210 経由" in seed2
    assert "TCP_TUNNEL/503 (HIER_NONE: 上流に接続していない)" in seed3
    assert "プロキシ VPC のリゾルバーの応答は NXDOMAIN" in seed3


def test_redacted_report_sections_hold_no_identifier(a):
    r = redact.build(a.tables, key="k")
    doc = Report(a, "en", r)
    text = "\n".join([doc.answer_md(), doc.setup_md(), doc.checks_md(), doc.quality_md(),
                      *[doc.run_md(p.name) for p in SEED]])
    for s in SECRETS:
        assert s not in text


def test_markdown_helpers():
    assert md_table(["a", "b"], [["x|y", None]]) == "| a | b |\n|---|---|\n| x\\|y |  |"
    assert code_urls("to http://10.0.0.72:3128; ok") == "to `http://10.0.0.72:3128`; ok"
    assert code_urls("`http://a`") == "`http://a`"


def test_report_command_argument_errors(tmp_path, capsys):
    from proxylab.cli import main

    assert main(["report", "--from", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["report", "--from", str(tmp_path)]) == 2
    assert "no captures" in capsys.readouterr().err
    assert main(["report", "--from", str(FIX), "--scenario", "zzz", "--quiet"]) == 2


def test_no_secrets_pattern_in_placeholders(a):
    r = redact.build(a.tables, key="k")
    assert all(re.fullmatch(r"[a-z0-9-]+", v) for v in r.mapping.values())


CATALOGUE = sorted(FIX.glob("2026112*"))


def _all_sections(doc: Report) -> str:
    runs = [str(r) for r in doc.runs["run_id"]]
    return "\n".join([doc.answer_md(), *[doc.run_md(r) for r in runs], doc.checks_md()])


def test_english_and_japanese_reports_state_the_same_facts():
    a = analyse(load_tables(CATALOGUE))
    en, ja = Report(a, "en", None), Report(a, "ja", None)
    en_text, ja_text = _all_sections(en), _all_sections(ja)
    # every fact a step's paragraph carries, from the analysis (the oracle), ...
    expected = {key for f in [*a.facts, *a.hosts.facts] for _, _, key in words.why_parts(f)}
    steps = {k for k in en.facts if k[0].startswith("seed")}
    assert steps == expected and len(expected) > 40
    # ... and both languages say exactly the same set of facts
    assert en.facts == ja.facts
    kinds = {k[3] for k in en.facts}
    assert {"service", "squid", "dns", "no-proxy-matched", "no-proxy-unset"} <= kinds
    # every evidence row referenced is quoted by its line in both texts
    for scen, step, _route, kind, ev in expected:
        if ev:
            assert ev in en_text and ev in ja_text, (scen, step, kind, ev)
    # the service-side evidence is in the Japanese text, not only in English
    assert "S3 ゲートウェイエンドポイント vpce-0f9e8d7c6b5a43210 経由" in ja_text
    assert "s3 のサービス (ラボ) はプロキシ側の 198.18.2.72 から受け、200 を返しました" in ja_text
    # the seed catalogue sets NO_PROXY only in seed-2/4: no invented "no entry matches"
    seed1 = ja.run_md(SEED[0].name)
    assert "NO_PROXY が設定されていない" in seed1 and "一致するエントリがない" not in seed1


def _fact(a, step: str):
    i = a.routes.index[a.routes["step"] == step][0]
    return a.fact(int(i))


def test_words_for_wrong_why_texts_of_issue_10(tmp_path):
    from dataclasses import replace

    from proxylab.analysis import predict

    a = analyse(load_tables([SEED[1]]))
    f = _fact(a, "s3_get")
    host = "s3.ap-northeast-1.amazonaws.com"
    env = {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": f"{host}:443",
           "AWS_ENDPOINT_URL_S3": f"https://{host}:443"}
    d = predict.decide("s3_get", env, {"region": "ap-northeast-1"})
    text = words.why(replace(f, decision=d), "en").text
    assert f"entry '{host}:443' equals '{host}:443'" in text and "https_proxy" not in text
    # an absolute-URI GET through the proxy is no CONNECT
    d = predict.decide("web", {"HTTP_PROXY": "http://p:3128", "WEB_URL": "http://example.com/"},
                       {})
    for lang in ("en", "ja"):
        said = words.why(replace(f, decision=d, squid=(), service=None), lang).text
        assert "CONNECT" in said and ("no CONNECT" in said or "CONNECT ではなく" in said)
    # HIER_DIRECT is not "no upstream contacted"
    sq = _fact(analyse(load_tables([SEED[2]])), "api")
    bad = replace(sq.squid[0], squid_code="TCP_MISS", http_status=502, hierarchy="HIER_DIRECT")
    text = words.why(replace(sq, squid=(bad,)), "en").text
    assert "HIER_DIRECT" in text and "no upstream contacted" not in text
    assert "no upstream contacted" in words.why(sq, "en").text
    # no_proxy keeps its case at the start of a sentence
    d = predict.decide("web", {"HTTPS_PROXY": "http://p:3128", "no_proxy": "google.com",
                               "WEB_URL": "https://www.google.com"}, {})
    text = words.why(replace(f, decision=d), "en").text
    assert "no_proxy entry 'google.com'" in text and "No_proxy" not in text


def test_html_page_carries_the_report_language(tmp_path):
    import nbformat

    from proxylab.report.render import to_html

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 結論")])
    src = tmp_path / "r.ipynb"
    nbformat.write(nb, str(src))
    ja = to_html(src, tmp_path / "ja.html", True, "t", lang="ja")
    assert '<html lang="ja">' in ja.read_text()
    assert '<html lang="en">' in to_html(src, tmp_path / "en.html", True, "t").read_text()


def test_redacted_charts_draw_no_lab_address(a):
    """--redact covers what charts draw too: the timeline's DNS answers and the topology."""
    r = redact.build(a.tables, key="k")
    for p in SEED:
        fig = charts.timeline(a.tables, p.name, redact=r)
        drawn = " ".join(t.get_text() for ax in fig.axes
                         for t in [*ax.get_yticklabels(), *ax.texts, ax.title])
        matplotlib.pyplot.close(fig)
        assert "DNS" in drawn or "lambda-vpc" not in drawn
        assert not re.search(r"\b(198\.18|10\.[01])\.\d+\.\d+\b", drawn), drawn


def test_redaction_keeps_only_the_last_part_of_local_paths():
    r = redact.Redactor(mapping={}, key=b"k")
    assert r("read /home/alice/proj/data/runs/x/run.json ok") == "read …/run.json ok"
    assert r("/root/work/reports/seed") == "…/seed"
    assert r("AWS_CA_BUNDLE=/run/proxylab/lab/pki/ca.pem") == (
        "AWS_CA_BUNDLE=/run/proxylab/lab/pki/ca.pem")  # the lab's own place, not the user's
    assert r("https://host/home/x") == "https://host/home/x"  # a URL path is not local
