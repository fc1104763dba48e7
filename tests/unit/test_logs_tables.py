"""Captures -> §5 tables, across runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from proxylab.logs.tables import load_tables

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
SEED = [FIX / n for n in ("20261124T153210Z-seed-1-a1b2", "20261124T153230Z-seed-2-c3d4",
                          "20261124T153250Z-seed-3-e5f6", "20261124T153310Z-seed-4-a7b8")]


def test_seed_fixture_tables():
    t = load_tables(SEED)
    assert t.summary() == {"runs": 4, "proxy_requests": 9, "function_events": 56,
                           "dns_queries": 16, "service_hits": 15, "malformed_lines": 0}
    assert t.runs["scenario"].astype(str).tolist() == ["seed-1", "seed-2", "seed-3", "seed-4"]
    assert str(t.runs["started_at"].dtype) == "datetime64[ns, UTC]"
    assert len(t.steps) == 16 and set(t.steps["step"].astype(str)) == {
        "s3_get", "s3_put", "web", "api"}
    env = json.loads(t.runs.loc[t.runs["scenario"] == "seed-2", "env"].iloc[0])
    assert env["NO_PROXY"] == "s3.ap-northeast-1.amazonaws.com"
    for df in (t.proxy_requests, t.function_events, t.dns_queries, t.service_hits):
        assert isinstance(df["run_id"].dtype, pd.CategoricalDtype)
        assert str(df["ts"].dtype) == "datetime64[ns, UTC]"
        assert set(df["run_id"].astype(str)) <= {p.name for p in SEED}


def test_runs_directory_and_dedup():
    t = load_tables([SEED[0], SEED[0]])
    assert len(t.runs) == 1


def test_malformed_lines_of_every_file_are_collected(tmp_path):
    run = tmp_path / SEED[2].name
    shutil.copytree(SEED[2], run)
    for name, junk in (("proxy_access.log", "1795534371.318 truncated"),
                       ("function.log", '{"proxylab":"step","step":'),
                       ("dns.log", "proxy-vpc\tgarbage"),
                       ("services.log", "{not json")):
        p = run / name
        p.chmod(0o644)
        p.write_text(p.read_text() + junk + "\n")
    t = load_tables([run])
    assert sorted(t.malformed["file"].astype(str)) == sorted(
        ["proxy_access.log", "function.log", "dns.log", "services.log"])
    assert t.summary()["proxy_requests"] == 3  # good lines still parsed


def test_failed_run_without_raw_files(tmp_path):
    run = tmp_path / "20261124T170000Z-seed-1-dead"
    run.mkdir()
    rec = json.loads((SEED[0] / "run.json").read_text())
    rec.update(run_id=run.name, status="failed", error="invoke: lab broke",
               missing_evidence=["function.log: the function was not invoked"])
    (run / "run.json").write_text(json.dumps(rec))
    t = load_tables([run])
    assert len(t.runs) == 1 and t.steps.empty and t.runs["status"].iloc[0] == "failed"
