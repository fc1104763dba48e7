"""Route classification, evidence, inconsistency flags, conclusion and expectations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from proxylab.analysis import analyse, classify, load_tables
from proxylab.analysis.conclude import Condition
from proxylab.report import words
from proxylab.vocab import Client, ConditionKind, MatchKind, ReasonKind

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
SEED = [FIX / n for n in ("20261124T153210Z-seed-1-a1b2", "20261124T153230Z-seed-2-c3d4",
                          "20261124T153250Z-seed-3-e5f6", "20261124T153310Z-seed-4-a7b8")]
AWS = FIX / "20261124T161000Z-seed-3-aws-cw01"

# The seed's table (SEED_FACTS.md): route per scenario and step.
EXPECTED = {
    "seed-1": {"s3_get": "proxy", "s3_put": "proxy", "web": "proxy", "api": "proxy"},
    "seed-2": {"s3_get": "endpoint", "s3_put": "endpoint", "web": "proxy", "api": "proxy"},
    "seed-3": {"s3_get": "proxy", "s3_put": "proxy", "web": "proxy", "api": "failed-at-proxy"},
    "seed-4": {"s3_get": "endpoint", "s3_put": "endpoint", "web": "proxy", "api": "endpoint"},
}


@pytest.fixture(scope="module")
def seed():
    return analyse(load_tables(SEED))


def _copy(tmp_path: Path, src: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return dst


def _edit(run: Path, name: str, fn) -> None:
    p = run / name
    p.write_text("".join(line + "\n" for line in fn(p.read_text().splitlines())))


def test_seed_routes_match_the_seed(seed):
    got = {}
    for r in seed.routes.itertuples():
        got.setdefault(r.scenario, {})[r.step] = r.route
    assert got == EXPECTED
    assert seed.routes["consistent"].all() and seed.routes["prediction_matches"].all()
    kinds = seed.routes.loc[seed.routes["route"] == "endpoint", ["step", "endpoint_kind"]]
    assert {(s, k) for s, k in kinds.itertuples(index=False)} == {
        ("s3_get", "gateway"), ("s3_put", "gateway"), ("api", "interface")}


def test_evidence_rows_quote_the_raw_lines(seed):
    ev = seed.evidence
    api3 = ev[(ev["run_id"] == SEED[2].name) & (ev["step"] == "api")]
    squid_line = api3.loc[api3["source"] == "squid", "text"].iloc[0]
    assert squid_line == (SEED[2] / "proxy_access.log").read_text().splitlines()[1]
    assert "TCP_TUNNEL/503" in squid_line and "HIER_NONE/-" in squid_line
    dns_lines = api3.loc[api3["source"] == "dns", "text"].tolist()
    assert any("proxy-vpc" in d and "NXDOMAIN" in d for d in dns_lines)
    s3 = ev[(ev["run_id"] == SEED[1].name) & (ev["step"] == "s3_get")]
    assert '"via":"gateway-endpoint"' in s3.loc[s3["source"] == "service", "text"].iloc[0]


def _why(a, scenario: str, step: str, lang: str = "en") -> str:
    from proxylab.report import words

    i = a.routes.index[(a.routes["scenario"] == scenario) & (a.routes["step"] == step)][0]
    return words.why(a.fact(int(i)), lang).text


def test_route_rows_carry_the_decision_and_evidence_references(seed):
    r = seed.routes.set_index(["scenario", "step"])
    row = r.loc[("seed-2", "s3_get")]
    assert (row["client"], row["reason"], row["no_proxy_variable"], row["no_proxy_entry"],
            row["match"], row["compared"], row["endpoint_source"]) == (
        "botocore", "no-proxy-matched", "NO_PROXY", "s3.ap-northeast-1.amazonaws.com", "exact",
        "s3.ap-northeast-1.amazonaws.com", "AWS_ENDPOINT_URL_S3")
    assert row["service_line_no"] == 1 and pd.isna(row["squid_line_no"])
    row = r.loc[("seed-3", "api")]
    assert row["reason"] == "no-proxy-unset" and row["proxy_variable"] == "HTTPS_PROXY"
    lines = (SEED[2] / "proxy_access.log").read_text().splitlines()
    assert "TCP_TUNNEL/503" in lines[row["squid_line_no"] - 1]
    assert "NXDOMAIN" in (SEED[2] / "dns.log").read_text().splitlines()[row["dns_line_no"] - 1]
    assert r.loc[("seed-4", "api"), "match"] == "suffix"


def test_why_explains_the_decision_and_the_path(seed):
    why = _why(seed, "seed-2", "s3_get")
    assert "NO_PROXY entry 's3.ap-northeast-1.amazonaws.com'" in why
    assert "botocore connected directly" in why and "S3 gateway endpoint" in why
    why = _why(seed, "seed-4", "api")
    assert "as a domain suffix" in why and "interface endpoint" in why
    why = _why(seed, "seed-3", "api")
    assert "TCP_TUNNEL/503" in why and "NXDOMAIN" in why and "no upstream contacted" in why


def test_squid_refused_but_front_saw_it_is_flagged(tmp_path):
    run = _copy(tmp_path, SEED[2])
    _edit(run, "services.log", lambda ls: ls + [json.dumps({
        "ts": 1795534371.34, "service": "execute-api", "source_ip": "198.18.2.72",
        "local_ip": "198.18.32.10", "via": "internet", "vpce_id": None,
        "host": "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com", "method": "GET",
        "path": "/dev/data?id=111", "status": 403})])
    row = classify(load_tables([run])).routes.set_index("step").loc["api"]
    assert row["route"] == "inconsistent" and row["route_guess"] == "proxy"
    assert row["flag"].startswith("squid-failed-front-saw")
    assert "Evidence disagrees" in _why(analyse(load_tables([run])), "seed-3", "api")


def test_success_without_any_evidence_is_flagged(tmp_path):
    run = _copy(tmp_path, SEED[0])
    _edit(run, "proxy_access.log", lambda ls: [x for x in ls if "www.google.com" not in x])
    _edit(run, "services.log", lambda ls: [x for x in ls if '"web"' not in x])
    row = classify(load_tables([run])).routes.set_index("step").loc["web"]
    assert row["route"] == "inconsistent" and row["flag"].startswith("ok-without-evidence")


def test_tunnel_error_without_squid_line_is_flagged(tmp_path):
    run = _copy(tmp_path, SEED[2])
    _edit(run, "proxy_access.log", lambda ls: [x for x in ls if "p4v9" not in x])
    row = classify(load_tables([run])).routes.set_index("step").loc["api"]
    assert row["route"] == "inconsistent" and row["flag"].startswith("tunnel-error-without-squid")


def test_endpoint_hit_while_squid_tunnelled_the_host_is_flagged(tmp_path):
    run = _copy(tmp_path, SEED[3])
    _edit(run, "proxy_access.log", lambda ls: ls + [
        "1795534391.500     50 10.1.143.211 TCP_TUNNEL/200 900 CONNECT "
        "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com:443 - HIER_DIRECT/198.18.32.10 -"])
    row = classify(load_tables([run])).routes.set_index("step").loc["api"]
    assert row["route"] == "inconsistent" and row["flag"].startswith("tunnel-but-endpoint")


def test_direct_timeout_is_failed_direct_and_prediction_mismatch_is_reported(tmp_path):
    run = _copy(tmp_path, SEED[0])
    _edit(run, "proxy_access.log", lambda ls: [x for x in ls if "www.google.com" not in x])
    _edit(run, "services.log", lambda ls: [x for x in ls if '"web"' not in x])
    _edit(run, "function.log", lambda ls: [
        x.replace('"step":"web","url":"https://www.google.com","host":"www.google.com",'
                  '"outcome":"ok","status":200,"error":null',
                  '"step":"web","url":"https://www.google.com","host":"www.google.com",'
                  '"outcome":"timeout","status":null,"error":"timed out"') for x in ls])
    a = analyse(load_tables([run]))
    row = a.routes.set_index("step").loc["web"]
    assert row["route"] == "failed-direct" and row["predicted_route"] == "proxy"
    assert not row["prediction_matches"] and "predicted proxy" in _why(a, "seed-1", "web")
    assert [(m.step, m.predicted, m.observed) for m in a.conclusion.prediction_mismatches] == [
        ("web", "proxy", "failed-direct")]


def test_aws_capture_without_s3_front_logs_is_not_flagged():
    a = analyse(load_tables([AWS]))
    r = a.routes.set_index("step")
    assert r["route"].astype(str).to_dict() == {"s3_get": "proxy", "s3_put": "proxy",
                                                "web": "proxy", "api": "failed-at-proxy"}
    assert r["consistent"].all()


def test_aws_inferred_endpoint(tmp_path):
    run = _copy(tmp_path, AWS)
    _edit(run, "proxy_access.log", lambda ls: [x for x in ls if ".s3." not in x])
    rec = json.loads((run / "run.json").read_text())
    env = rec["scenario"]["env"]
    env["NO_PROXY"] = "s3.ap-northeast-1.amazonaws.com"
    (run / "run.json").write_text(json.dumps(rec))
    r = classify(load_tables([run])).routes.set_index("step")
    assert r.loc["s3_get", "route"] == "endpoint" and r.loc["s3_get", "basis"] == "inferred"
    assert r.loc["s3_get", "consistent"]


def test_conclusion_is_computed(seed):
    c = seed.conclusion
    assert words.headline(c, "en").text.startswith(
        "S3 and the private API bypassed the proxy only when NO_PROXY matched them")
    by = {f.target: f for f in c.findings}
    assert by["s3"].bypassed_in == ["seed-2", "seed-4"]
    assert by["s3"].crossed_in == ["seed-1", "seed-3"]
    assert by["s3"].acting == ["NO_PROXY"]
    assert Condition(ConditionKind.VAR_SET, variable="AWS_ENDPOINT_URL_S3") in by["s3"].explained_by
    assert by["private-api"].failed == {"seed-3": ("failed-at-proxy", "tunnel_error")}
    assert by["web"].bypassed_in == [] and by["regional-api"].crossed_in == ["seed-1", "seed-2"]
    assert c.inconsistent_runs == [] and c.prediction_mismatches == []


def test_conclusion_separates_variables_when_runs_do(tmp_path):
    # seed-2 without AWS_ENDPOINT_URL_S3: NO_PROXY alone explains the S3 bypass.
    run = _copy(tmp_path, SEED[1])
    rec = json.loads((run / "run.json").read_text())
    del rec["scenario"]["env"]["AWS_ENDPOINT_URL_S3"]
    (run / "run.json").write_text(json.dumps(rec))
    c = analyse(load_tables([SEED[0], run, SEED[3]])).conclusion
    s3 = next(f for f in c.findings if f.target == "s3")
    assert s3.explained_by == [Condition(ConditionKind.NO_PROXY_MATCHED, variable="NO_PROXY",
                                         client=Client.BOTOCORE)]


def test_expectations(seed, tmp_path):
    ex = seed.expectations
    assert len(ex) == 34 and ex["ok"].all()
    run = _copy(tmp_path, SEED[3])
    _edit(run, "proxy_access.log", lambda ls: ls + [
        "1795534391.600     10 10.1.143.211 TCP_TUNNEL/200 90 CONNECT "
        "s3.ap-northeast-1.amazonaws.com:443 - HIER_DIRECT/198.18.16.10 -"])
    bad = analyse(load_tables([run])).expectations
    failed = bad[bad["verdict"] == "failed"]
    assert set(zip(failed["kind"], failed["subject"].fillna(""), strict=True)) == {
        ("crosses_proxy", ""), ("bypasses_proxy", "s3.ap-northeast-1.amazonaws.com")}
    assert not failed["ok"].any() and (bad["verdict"] != "unchecked").all()


REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"


def test_real_lab_captures_parse_cleanly_and_match_predictions():
    # Captures written by the local lab itself (examples catalogue), kept as they came.
    a = analyse(load_tables([REAL]))
    assert a.tables.malformed.empty and len(a.tables.runs) == 3
    assert a.routes["consistent"].all() and a.routes["prediction_matches"].all()
    r = {(x.scenario, x.step): x.route for x in a.routes.itertuples()}
    assert r[("ex-lowercase-empty-wins", "web")] == "failed-direct"  # https_proxy="" wins
    assert r[("ex-lowercase-proxy", "web")] == "proxy"
    assert r[("ex-no-proxy-star", "s3_get")] == "endpoint"


def test_conclusion_names_the_client_decision_when_no_variable_does():
    c = analyse(load_tables([REAL])).conclusion
    web = next(f for f in c.findings if f.target == "web")
    assert web.bypassed_in == ["ex-lowercase-empty-wins", "ex-no-proxy-star"]
    assert web.explained_by[0].kind == ConditionKind.CLIENT_DIRECT
    # https_proxy="" cancels HTTPS_PROXY; NO_PROXY=* bypasses everything
    assert web.reasons["ex-lowercase-empty-wins"].reason == ReasonKind.PROXY_CANCELLED
    assert web.reasons["ex-lowercase-empty-wins"].cancelled_by == "https_proxy"
    assert web.reasons["ex-no-proxy-star"].match.how == MatchKind.STAR
    sentence, headline = words.finding(web, "en").text, words.headline(c, "en").text
    assert "bypasses every host" in sentence and "https_proxy is set but empty" in sentence
    assert "only where the clients' own proxy logic chose a direct connection" in headline


def test_aws_capture_whose_squid_line_is_missing_gives_an_honest_route(tmp_path):
    # On AWS no front logs the web site or S3; without the Squid line the only evidence
    # left is the step's success. This used to crash reading the (absent) service hit.
    run = _copy(tmp_path, FIX / "aws-seed-3")
    _edit(run, "proxy_access.log", lambda ls: [x for x in ls if "www.google.com" not in x])
    a = analyse(load_tables([run]))
    row = a.routes.set_index("step").loc["web"]
    # the clients send it to the proxy, Squid saw nothing, the step succeeded: the
    # evidence contradicts itself, and the best reading is flagged, not asserted
    assert row["route"] == "inconsistent" and row["route_guess"] == "direct"
    assert row["flag"].startswith("proxy-predicted-squid-silent")
    assert row["basis"] == "inferred" and pd.isna(row["service_line_no"])
    for lang in ("en", "ja"):
        assert _why(a, "seed-3", "web", lang)
    assert "Squid logged nothing" in _why(a, "seed-3", "web")


def test_aws_direct_without_any_front_log_is_not_a_crash(tmp_path):
    # NO_PROXY names the web host: urllib goes direct; no Squid line, no front log.
    run = _copy(tmp_path, FIX / "aws-seed-3")
    _edit(run, "proxy_access.log", lambda ls: [x for x in ls if "www.google.com" not in x])
    rec = json.loads((run / "run.json").read_text())
    rec["scenario"]["env"]["NO_PROXY"] = "www.google.com"
    (run / "run.json").write_text(json.dumps(rec))
    a = analyse(load_tables([run]))
    row = a.routes.set_index("step").loc["web"]
    assert row["route"] == "direct" and row["consistent"] and row["basis"] == "inferred"
    assert row["reason"] == "no-proxy-matched"
    assert "inferred" in _why(a, "seed-3", "web")


# A real lab capture (Node 24.22.3, NODE_USE_ENV_PROXY=1,
# NO_PROXY="google.com,.xecute-api.<region>.amazonaws.com"): fetch and https.request
# reach the same two hosts by their own NO_PROXY rules, one direct, one proxied. Kept
# apart from captures/, which other tests read whole as the seed's set.
NODE24 = FIX.parent / "node-captures" / "20261201T133656Z-n24-aff9"


def test_two_node_clients_to_one_host_get_their_own_routes():
    """Squid logs hosts, not clients: the completed tunnel to www.google.com is the
    answered https.request's, not the timed-out fetch's, and the front hit too."""
    a = analyse(load_tables([NODE24]))
    got = {r.step: (r.route, r.client, r.reason) for r in a.routes.itertuples()}
    assert got == {
        "s3_get": ("endpoint", "aws-sdk-js-v3", "client-ignores-env"),
        "s3_put": ("endpoint", "aws-sdk-js-v3", "client-ignores-env"),
        "web": ("failed-direct", "node-fetch", "no-proxy-matched"),
        "api": ("proxy", "node-fetch", "no-entry-matched"),
        "web_https": ("proxy", "node-http", "no-entry-matched"),
        "api_https": ("proxy", "node-http", "no-entry-matched"),
    }
    assert a.routes["prediction_matches"].all() and a.routes["consistent"].all()


def test_node_routes_are_explained_by_the_clients_own_rule_in_both_languages():
    a = analyse(load_tables([NODE24]))
    web = _why(a, "n24", "web")
    assert "The NO_PROXY entry 'google.com' matches 'www.google.com:443'" in web
    assert "undici 7 (Node 24.22.3's fetch)" in web and "subdomains" in web
    https = _why(a, "n24", "web_https")
    assert "No NO_PROXY entry" in https and "only against the host itself" in https
    assert "CONNECT to http://10.0.0.72:3128 (from HTTPS_PROXY)" in https
    assert "NodeHttpHandler" in _why(a, "n24", "s3_get")
    ja = _why(a, "n24", "web", "ja")
    assert "undici 7" in ja and "サブドメイン" in ja
    for i, fact in enumerate(a.facts):
        assert words.why(fact, "en").facts == words.why(fact, "ja").facts, a.routes.iloc[i]
