"""The matrix clients' rules (proxylab.analysis.clients) against the real libraries,
the NO_PROXY check, --prove's predicted part on a generated audit log, and the matrix
report in both languages.

Oracle: for the Python clients, each library's own proxy selection, run in a child
process with the case's environment as its real ``os.environ`` (requests'
``get_environ_proxies``/``select_proxy``, httpx's mounts, aiohttp's
``get_env_proxy_for_url``, urllib's ``getproxies``/``proxy_bypass``); the lab test
(tests/integration/test_client_matrix.py) holds every rule to the measured cells.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from proxylab.analysis.clients import Request, decide, expected_route, with_scheme
from proxylab.audit.recommend import HostTraffic, recommend
from proxylab.audit.synth import SynthOptions, host_pool
from proxylab.awsdata.hostnames import classify
from proxylab.clients import cases, check, document, facts, prove, words
from proxylab.clients.matrix import Cell, Matrix
from proxylab.clients.verdict import judge
from proxylab.vocab import Agreement, Behaviour, MeasuredRoute

RESOURCES = {"proxy_url": "http://10.0.0.72:3128", "web_url": "https://www.example.com",
             "s3_endpoint_url": "https://s3.ap-northeast-1.amazonaws.com",
             "bucket": "demo-bucket", "region": "ap-northeast-1"}
VALUES = cases.lab_values(RESOURCES, "198.18.1.10")
URLS = {"web": "https://www.example.com/p", "web-http": "http://www.example.com/p",
        "web-ip-http": "http://198.18.1.10/p", "api": "https://abc.execute-api.ap-northeast-1"
        ".amazonaws.com/prod", "s3": "https://demo-bucket.s3.ap-northeast-1.amazonaws.com/k"}

ORACLE = r'''
import json, os, sys, warnings
warnings.simplefilter("ignore")
client = sys.argv[1]
answers = []
for env, url in json.loads(sys.stdin.read()):
  os.environ.clear()
  os.environ.update(env)
  proxy = None
  if client == "urllib":
      import urllib.request
      from urllib.parse import urlsplit
      p = urllib.request.getproxies()
      host = urlsplit(url).netloc
      if not (p.get("no") and urllib.request.proxy_bypass(host)):
          proxy = p.get(urlsplit(url).scheme)
  elif client == "requests":
      import requests.utils
      proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
  elif client == "httpx":
      import httpx
      from httpx._utils import get_environment_proxies
      from httpx._urls import URL
      from httpx._utils import URLPattern
      mounts = get_environment_proxies()
      u = URL(url)
      for pattern, value in sorted(((URLPattern(k), v) for k, v in mounts.items())):
          if pattern.matches(u):
              proxy = value
              break
  elif client == "aiohttp-env":
      from yarl import URL
      from aiohttp.helpers import get_env_proxy_for_url
      try:
          found = get_env_proxy_for_url(URL(url))[0]
          proxy = str(found) if found.scheme in ("http", "https") else "invalid"
      except LookupError:
          proxy = None
      except Exception as e:
          proxy = "invalid"
  answers.append(proxy)
print(json.dumps(answers))
'''


def _oracle(client: str, asks: list[tuple[dict[str, str], str]]) -> list[str | None]:
    """The library's own choice for each (environment, URL), in one child process."""
    out = subprocess.run([sys.executable, "-c", ORACLE, client], capture_output=True,
                         text=True, timeout=120, input=json.dumps(asks), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _norm(proxy: str | None) -> str | None:
    return None if proxy is None else with_scheme(proxy).rstrip("/")


PYTHON = [c for c in ("urllib", "requests", "httpx", "aiohttp-env")
          if c == "urllib" or importlib.util.find_spec(c.split("-")[0]) is not None]


@pytest.mark.parametrize("client", PYTHON)
def test_python_rules_choose_what_the_library_chooses(client):
    asks = [(case.environment(VALUES), URLS[case.target]) for case in cases.CASES.values()
            if case.target != "s3"]
    wants = _oracle(client, asks)
    assert len(wants) == len(asks) > 15
    for (env, url), want in zip(asks, wants, strict=True):
        d = decide(client, env, Request(url, region="ap-northeast-1"))
        got = "invalid" if (d.proxy and not d.usable) else _norm(d.proxy)
        assert got == (want if want == "invalid" else _norm(want)), (url, env)


def test_expected_route():
    d = decide("go", {"HTTPS_PROXY": "https://10.0.0.72:3128"}, Request(URLS["web"]))
    assert expected_route(d, VALUES["proxy"]) == MeasuredRoute.FAILED  # TLS to plain Squid
    d = decide("wget", {"https_proxy": "https://10.0.0.72:3128"}, Request(URLS["web"]))
    assert expected_route(d, VALUES["proxy"]) == MeasuredRoute.PROXY  # plain CONNECT
    d = decide("curl", {"https_proxy": VALUES["dead_proxy"]}, Request(URLS["web"]))
    assert expected_route(d, VALUES["proxy"]) == MeasuredRoute.FAILED
    assert decide("java-httpclient", {"https_proxy": VALUES["proxy"]},
                  Request(URLS["web"])).direct
    assert decide("nope", {}, Request(URLS["web"])) is None


def test_rules_that_differ_between_clients():
    env = {"HTTPS_PROXY": VALUES["proxy"], "https_proxy": VALUES["proxy"]}
    apex = {**env, "NO_PROXY": ".www.example.com", "no_proxy": ".www.example.com"}
    assert decide("httpx", apex, Request(URLS["web"])).proxy  # .x is not x
    assert decide("go", apex, Request(URLS["web"])).proxy
    assert decide("curl", apex, Request(URLS["web"])).direct
    bucket = {**env, "no_proxy": "demo-bucket.s3.ap-northeast-1.amazonaws.com"}
    s3 = Request(URLS["s3"], bucket="demo-bucket", region="ap-northeast-1")
    assert decide("botocore", bucket, s3).proxy  # decided on s3.<region>.amazonaws.com
    assert decide("botocore-crt", bucket, s3, "0.38.1").direct
    assert decide("botocore-crt", bucket, s3, "0.27.4").proxy  # NO_PROXY not read yet
    assert decide("node-fetch-env", env, Request(URLS["web"]), "20.20.2").direct
    # With the switch, Node's own rules (analysis/node_clients.py) decide: undici 6 on
    # Node 22 matches a bare entry only against the host itself, undici 7 on Node 24 its
    # subdomains too.
    assert decide("node-fetch-env", env, Request(URLS["web"]), "22.21.0").proxy
    bare = {**env, "NO_PROXY": "example.com", "no_proxy": "example.com"}
    assert decide("node-fetch-env", bare, Request(URLS["web"]), "22.23.5").proxy
    assert decide("node-fetch-env", bare, Request(URLS["web"]), "24.22.3").direct


# ------------------------------------------------------------------ check my NO_PROXY
def test_check_flags_entries_some_or_no_client_honours():
    env = {"HTTPS_PROXY": "http://p:3128", "https_proxy": "http://p:3128",
           "NO_PROXY": "*.example.com, .example.org,10.0.0.0/8,s3.eu-west-1.amazonaws.com"}
    hosts = ["www.example.com", "example.org", "b.s3.eu-west-1.amazonaws.com"]
    r = check.check(env, hosts, ["urllib", "requests", "httpx", "curl", "go", "botocore",
                                 "java-httpclient"])
    by = {e.entry: e for e in r.entries}
    glob = by["*.example.com"]
    assert glob.verdict == check.EntryVerdict.SOME and glob.honoured_by == ["go"]
    assert glob.fix == "example.com"
    dot = by[".example.org"]  # the apex: Go and httpx say no
    assert set(dot.not_honoured_by) == {"httpx", "go"} and dot.fix == "example.org"
    assert by["10.0.0.0/8"].verdict == check.EntryVerdict.NONE
    assert by["s3.eu-west-1.amazonaws.com"].verdict == check.EntryVerdict.ALL
    assert r.ignoring == ["java-httpclient"]
    assert r.missed() == []  # the recommended value works for every client that reads it
    assert "s3.eu-west-1.amazonaws.com" in r.recommended.split(",")
    assert r.routes["www.example.com"]["httpx"] == check.HostRoute.PROXY
    assert "| `*.example.com` | some | go |" in check.text(r)


def test_check_cli(capsys):
    from proxylab.cli import main

    assert main(["clients", "--env", "https_proxy=http://p:3128", "--env",
                 "no_proxy=.example.com", "--host", "example.com", "--client", "curl", "go"]) == 0
    out = capsys.readouterr().out
    assert "| `.example.com` | some | curl | go | example.com |" in out
    assert main(["clients", "--env", "no_proxy=x"]) == 2  # no host named


# ------------------------------------------------------------------ --prove (predicted)
def test_prove_predicts_from_a_generated_audit_log():
    hosts = host_pool(SynthOptions(extra_hosts=30))
    recs = recommend([HostTraffic(h, 10, 100, classify(h)) for h in hosts])
    table = prove.predict(recs, ["urllib", "botocore", "curl", "go", "java-httpclient"])
    s3 = next(k for k in table if k.startswith("s3.ap-northeast-1.amazonaws.com ("))
    assert table[s3]["urllib"] == prove.Outcome.ENDPOINT
    assert table[s3]["botocore"] == prove.Outcome.ENDPOINT
    assert table[s3]["java-httpclient"] == prove.Outcome.IGNORES_ENV
    lambda_url = next(k for k in table if ".lambda-url." in k)
    assert table[lambda_url]["curl"] == prove.Outcome.PROXY  # no endpoint: stays
    assert "Predicted for every audited AWS host" in prove.text(prove.ProveResult(
        "ap-northeast-1", "", {}, None, table, recs.no_proxy_all))


# ------------------------------------------------------------------ report
def _matrix(route_cidr: MeasuredRoute, version: str = "2.34.2") -> Matrix:
    clients = [{"name": "requests", "summary": "", "version": version, "install": "pip"},
               {"name": "wget", "summary": "", "version": None, "install": "apt-get install wget"}]
    case_list = [{"id": "no-proxy-cidr", "summary": "cidr", "target": "web-ip-http",
                  "env": cases.CASES["no-proxy-cidr"].environment(VALUES)}]
    cells = [Cell("requests", "no-proxy-cidr", version, route=route_cidr,
                  url="http://198.18.1.10/proxylab-clients/t", token="t"),
             Cell("wget", "no-proxy-cidr", None, note="not installed: apt-get install wget")]
    return judge(Matrix(clients, case_list, cells, {"values": VALUES, "wall_s": 1.5,
                                                    "lab": {"name": "t", "endpoints": {}}}))


def test_report_languages_state_the_same_facts():
    before, after = _matrix(MeasuredRoute.PROXY, "2.33.0"), _matrix(MeasuredRoute.DIRECT)
    assert after.cell("requests", "no-proxy-cidr").agreement == Agreement.AGREES
    assert before.cell("requests", "no-proxy-cidr").agreement == Agreement.DIFFERS
    fs = facts.behaviours(after)
    assert [(f.client, f.behaviour, f.route) for f in fs] == [
        ("requests", Behaviour.CIDR_IP, MeasuredRoute.DIRECT)]
    changed = facts.changes(before, after)
    assert [c.key for c in changed] == [("requests", "", "2.33.0", "2.34.2"),
                                        ("requests", "no-proxy-cidr", "proxy", "direct")]
    for kind, items in (("behaviour", fs), ("change", changed),
                        ("summary", [facts.summary(after)])):
        keys = {lang: [getattr(words, kind)(f, lang).key for f in items] for lang in words.LANGS}
        assert keys["en"] == keys["ja"], kind
    en = document.markdown(after, "en", before)
    ja = document.markdown(after, "ja", before)
    assert "requests (2.33.0 → 2.34.2) under no-proxy-cidr: proxy → direct" in en
    assert "requests（2.33.0 → 2.34.2）、no-proxy-cidr：プロキシ → 直接" in ja
    assert "wget (`apt-get install wget`)" in en
    html = document.html_page(before, "ja")
    assert '<html lang="ja">' in html and 'class="proxy differs"' in html
    assert "<script" not in html
    # Every case's question is worded in Japanese too, and the ja page uses it.
    from proxylab.clients.words import ja as ja_words
    assert set(ja_words.CASES) == set(cases.CASES)
    assert ja_words.CASES["no-proxy-cidr"] in ja
    assert cases.CASES["no-proxy-cidr"].summary not in ja


# ------------------------------------------------------------------ user clients
def test_user_command_templates(tmp_path):
    from proxylab.clients import catalog
    from proxylab.clients.registry import Target
    from proxylab.errors import UserError

    spec = catalog.template_client("my-curl", "curl -sS --max-time {timeout} --cacert {ca} {url}")
    argv = spec.argv(Target("web", "https://h/p", "t"), 3.0, "/ca.pem")
    assert argv == ["curl", "-sS", "--max-time", "3", "--cacert", "/ca.pem", "https://h/p"]
    assert spec.version() == "user command" and spec.parse(0, "", "").outcome.value == "ok"
    with pytest.raises(UserError, match="must name"):
        catalog.template_client("x", "curl https://fixed")
    f = tmp_path / "clients.yaml"
    f.write_text("clients:\n  - name: w\n    command: wget -q -O- {url}\n    targets: [web]\n")
    [w] = catalog.from_file(f)
    assert w.targets == frozenset({"web"})
    f.write_text("clients: 3\n")
    with pytest.raises(UserError, match="clients:"):
        catalog.from_file(f)
    assert decide("my-curl", {}, Request("https://h/")) is None  # no rule: 'no-rule' cells
