"""A secret-bearing scenario leaves the secret in no output file (issue 13): the capture
writer masks it, and nothing later (tables, facts, words, charts, notebooks) brings it
back. The capture is written by the real writer from a real fixture's evidence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from proxylab import cli
from proxylab.capture import read_capture, write_capture

FIX = Path(__file__).parents[1] / "fixtures" / "captures"
SECRET = "Tr0ub4dor-and-3"
PROXY = f"http://alice:{SECRET}@10.0.0.72:3128"


def test_a_password_in_the_proxy_url_reaches_no_output(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for src in sorted(FIX.glob("2026112*-seed-*")):
        cap = read_capture(src)
        env = {k: (PROXY if k.upper().endswith("_PROXY") and k.upper() != "NO_PROXY" else v)
               for k, v in cap.record.env.items()}
        rec = dataclasses.replace(cap.record, scenario=dataclasses.replace(
            cap.record.scenario, env=env, env_template=env))
        files = {n: cap.lines(n) for n in ("function.log", "proxy_access.log", "dns.log",
                                            "services.log") if (src / n).exists()}
        files["function.log"] = [*files["function.log"], f"proxy is {PROXY}"]
        write_capture(runs / src.name, record=rec, files=files)
    out = tmp_path / "report"
    for lang in ("en", "ja"):
        assert cli.main(["report", "--from", str(runs), "--out", str(out / lang), "--lang",
                         lang, "--quiet"]) == 0
    every = [p for p in [*runs.rglob("*"), *out.rglob("*")] if p.is_file()]
    assert any(p.suffix == ".html" for p in every) and any(p.suffix == ".ipynb" for p in every)
    for p in every:
        assert SECRET.encode() not in p.read_bytes(), p
    assert any(b"alice:***@" in p.read_bytes() for p in every if p.suffix == ".html")


def test_masking_keeps_what_the_analysis_needs() -> None:
    from proxylab.analysis.predict import proxies_from_env
    from proxylab.secrets import mask

    # The route decision reads the proxy URL's presence and scheme, not its password.
    env = {"HTTPS_PROXY": mask(PROXY), "NO_PROXY": "s3.ap-northeast-1.amazonaws.com"}
    assert proxies_from_env(env)["https"] == "http://alice:***@10.0.0.72:3128"


def test_a_redacted_report_keeps_no_redaction_key(tmp_path: Path, monkeypatch) -> None:
    from proxylab.report import render

    monkeypatch.setattr(render.secrets, "token_hex", lambda n: "feedc0de" * 4)
    out = tmp_path / "r"
    assert cli.main(["report", "--from", str(FIX), "--out", str(out), "--redact",
                     "--quiet"]) == 0
    for p in out.rglob("*"):
        if p.is_file():
            assert b"feedc0de" not in p.read_bytes(), p
