"""Analysis for any function: every host a run's function contacted, from the
evidence alone (Squid lines, service-front records, DNS queries joined by host
within the invocation's window), each with its route and why - checked against the
per-step analysis of the seed captures (an independent path through the same
evidence) and on a real lab capture of a user's own handler that writes no step
lines."""

from __future__ import annotations

from pathlib import Path

from proxylab.analysis import analyse, load_tables
from proxylab.report import words
from proxylab.report.document import Report

FIX = Path(__file__).resolve().parents[1] / "fixtures"
SEED = sorted((FIX / "captures").glob("2026112*"))
(USER,) = (FIX / "why").glob("*-user-handler-*")


def test_hosts_agree_with_the_probe_steps_that_named_them():
    a = analyse(load_tables(SEED))
    steps = {(r["run_id"], r["host"]): r["route"] for _, r in a.routes.iterrows()}
    assert len(a.hosts.facts) >= 12
    for f in a.hosts.facts:
        assert (f.run_id, f.host) in steps, f.host  # no host the probe did not call
        assert f.route == steps[(f.run_id, f.host)], (f.scenario, f.host)
        assert f.prediction_matches, (f.scenario, f.host, f.predicted_route)
    # and every stepped host is found without the steps
    assert {(f.run_id, f.host) for f in a.hosts.facts} == set(steps)


def test_a_user_handler_is_analysed_host_by_host():
    a = analyse(load_tables([USER]))
    assert a.routes.empty  # the handler wrote no step lines
    got = {f.host: f for f in a.hosts.facts}
    res = a.tables.records[a.hosts.facts[0].run_id].resources
    region = res["region"]
    bucket = f"{res['bucket']}.s3.{region}.amazonaws.com"
    api = f"{res['regional_api_id']}.execute-api.{region}.amazonaws.com"
    assert set(got) == {bucket, api, "www.google.com"}
    assert (got[bucket].route, got[bucket].endpoint_kind) == ("endpoint", "gateway")
    assert got[bucket].decision.client == "botocore"
    assert got[bucket].decision.decision_host == f"s3.{region}.amazonaws.com"
    assert got[api].route == got["www.google.com"].route == "proxy"
    assert all(f.prediction_matches for f in got.values())
    for f in got.values():
        en, ja = words.why(f, "en"), words.why(f, "ja")
        assert en.facts == ja.facts and en.text and ja.text
    for lang in ("en", "ja"):
        doc = Report(a, lang, None)
        text = doc.no_steps_md(str(a.tables.runs["run_id"].iloc[0]))
        for host in got:
            assert f"**{host}**" in text, (lang, host)
        assert "services.log:1" in text  # the gateway front's record, quoted by line
