"""Catalogue loading and validation: every kind of problem is reported, all at once,
with file, line, scenario and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proxylab.scenarios import (
    Catalog,
    ScenarioError,
    load_catalog,
    resolve_catalog_path,
    scenario_env,
    validate_catalog,
)
from proxylab.scenarios.loader import packaged_catalogs

# LabDescription.resources of the local lab (TEAM.md shared facts).
RESOURCES = {
    "region": "ap-northeast-1",
    "account_id": "123456789012",
    "bucket": "proxylab-demo-bucket",
    "source_key": "input/data.csv",
    "regional_api_id": "q8rw2x7k1m",
    "private_api_id": "p4v9t3n6zd",
    "proxy_url": "http://10.0.0.72:3128",
    "web_url": "https://www.google.com",
}

HEADER = """\
catalog: mine
title: My scenarios
scenarios:
"""


def write(tmp_path: Path, body: str, name: str = "x.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body), encoding="utf-8")
    return p


def problems(path: Path) -> list[str]:
    catalog, found = validate_catalog(path)
    assert catalog is None, "a catalogue with problems must not load"
    return [str(p) for p in found]


def test_minimal_catalogue_loads_with_defaults(tmp_path):
    p = write(tmp_path, HEADER + "  - {id: a, function: regional}\n")
    cat = load_catalog(p)
    assert isinstance(cat, Catalog) and cat.id == "mine" and cat.ids == ["a"]
    s = cat.scenarios[0]
    assert (s.title, s.timeout_s, s.env, s.event, s.expect) == ("a", 30.0, {}, {}, None)
    assert s.endpoints.s3_gateway and s.endpoints.private_api_public_dns == "nxdomain"
    assert s.source == str(p) and s.line == 4


def test_wrong_type_names_file_line_scenario_and_field(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + """\
  - id: seed-3
    function: private
    env:
      NO_PROXY: [s3.amazonaws.com]
""",
    )
    assert problems(p) == [
        f"{p}:7: scenario 'seed-3': field 'env.NO_PROXY': expected a string, got list"
    ]


def test_numbers_and_booleans_in_env_say_to_quote(tmp_path):
    p = write(
        tmp_path,
        HEADER + "  - id: a\n    function: regional\n    env: {STEP_TIMEOUT: 3, X: yes, Y: null}\n",
    )
    out = problems(p)
    assert len(out) == 2, out
    assert "field 'env.STEP_TIMEOUT': expected a string, got integer (quote it" in out[0]
    assert "field 'env.X': expected a string, got boolean (quote it" in out[1]


def test_unknown_fields_everywhere_with_did_you_mean(tmp_path):
    p = write(
        tmp_path,
        """\
catalog: mine
titel: oops
scenarios:
  - id: a
    function: regional
    enviroment: {A: b}
    endpoints: {s3_gatway: true}
    expect: {step: {web: ok}}
""",
    )
    out = problems(p)
    assert out[0] == f"{p}:1: field 'title': missing"
    assert f"{p}:2: field 'titel': unknown field; did you mean 'title'?" in out[1]
    joined = "\n".join(out)
    assert "scenario 'a': field 'enviroment': unknown field; did you mean 'env'?" in joined
    assert "field 'endpoints.s3_gatway': unknown field; did you mean 's3_gateway'?" in joined
    assert "field 'expect.step': unknown field; did you mean 'steps'?" in joined


def test_missing_function_and_bad_function(tmp_path):
    p = write(tmp_path, HEADER + "  - id: a\n  - id: b\n    function: regionl\n")
    out = problems(p)
    assert out[0] == (
        f"{p}:4: scenario 'a': field 'function': missing "
        "(one of: regional, private; or set it in 'defaults')"
    )
    assert out[1] == (
        f"{p}:6: scenario 'b': field 'function': 'regionl' is not one of: "
        "regional, private; did you mean 'regional'?"
    )


def test_function_from_defaults_and_env_merge(tmp_path):
    p = write(
        tmp_path,
        """\
catalog: mine
title: t
defaults:
  function: private
  env: {HTTP_PROXY: "${proxy_url}", HTTPS_PROXY: "${proxy_url}"}
  endpoints: {private_api_public_dns: front}
scenarios:
  - id: a
    env: {HTTP_PROXY: null, NO_PROXY: "*"}
    endpoints: {s3_gateway: false}
""",
    )
    s = load_catalog(p).get("a")
    assert s.function == "private"
    assert s.env == {"HTTPS_PROXY": "${proxy_url}", "NO_PROXY": "*"}
    assert (s.endpoints.s3_gateway, s.endpoints.private_api_public_dns) == (False, "front")
    assert s.resolve_env(RESOURCES) == {"HTTPS_PROXY": "http://10.0.0.72:3128", "NO_PROXY": "*"}


def test_duplicate_ids_and_duplicate_keys(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + """\
  - id: a
    function: regional
    function: private
  - id: a
    function: regional
""",
    )
    out = problems(p)
    assert f"{p}:6: scenario 'a': field 'function': duplicate key (given twice)" in out
    assert (
        f"{p}:7: scenario 'a': field 'id': duplicate id (scenario #2; first defined at line 4)"
        in out
    )


def test_bad_endpoint_values(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + """\
  - id: a
    function: regional
    endpoints:
      s3_gateway: "yes"
      private_api_public_dns: refused
  - id: b
    function: regional
    endpoints: {execute_api_interface: false}
""",
    )
    out = problems(p)
    assert (
        out[0]
        == f"{p}:7: scenario 'a': field 'endpoints.s3_gateway': expected true or false, got string"
    )
    assert out[1].startswith(
        f"{p}:8: scenario 'a': field 'endpoints.private_api_public_dns': "
        "'refused' is not one of: nxdomain, front"
    )
    assert out[2].startswith(
        f"{p}:11: scenario 'b': field 'endpoints': execute_api_private_dns: true needs"
    )


def test_yaml_syntax_error_has_line_number(tmp_path):
    # An unquoted '*' is a YAML alias: the classic NO_PROXY=* mistake.
    p = write(tmp_path, HEADER + "  - id: a\n    function: regional\n    env:\n      NO_PROXY: *\n")
    (only,) = problems(p)
    assert only.startswith(f"{p}:7: YAML syntax error, column")


def test_unknown_reference_reserved_and_invalid_names(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + """\
  - id: a
    function: regional
    env:
      HTTPS_PROXY: "${proxy_uri}"
      AWS_REGION: us-east-1
      "BAD-NAME": x
      LITERAL: "$${proxy_url}"
""",
    )
    out = problems(p)
    assert len(out) == 3, out
    assert out[0].startswith(
        f"{p}:7: scenario 'a': field 'env.HTTPS_PROXY': unknown reference ${{proxy_uri}}; "
        "did you mean 'proxy_url'?"
    )
    assert out[1] == (
        f"{p}:8: scenario 'a': field 'env.AWS_REGION': "
        "reserved by Lambda: a function's configuration cannot set it"
    )
    assert "field 'env.BAD-NAME': not a valid environment variable name" in out[2]


def test_timeout_event_and_other_types(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + """\
  - id: a
    function: regional
    timeout_s: 901
    event: [1, 2]
  - id: b
    function: regional
    timeout_s: "30"
    title: 5
""",
    )
    out = problems(p)
    assert (
        "scenario 'a': field 'timeout_s': 901 is out of range (Lambda allows 1 to 900 seconds)"
        in out[0]
    )
    assert out[1].endswith("scenario 'a': field 'event': expected a mapping, got list")
    assert any("scenario 'b': field 'title': expected a string, got integer" in o for o in out)
    assert any(
        "scenario 'b': field 'timeout_s': expected a number of seconds, got string" in o
        for o in out
    )


def test_code_and_handler(tmp_path):
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "fail.py").write_text("def handler(e, c):\n    raise ValueError('x')\n")
    p = write(
        tmp_path,
        HEADER
        + """\
  - {id: ok-file, function: regional, code: h/fail.py}
  - {id: ok-dir, function: regional, code: h, handler: fail.handler}
  - {id: no-file, function: regional, code: h/none.py}
  - {id: wrong-mod, function: regional, code: h/fail.py, handler: other.handler}
  - {id: dir-no-handler, function: regional, code: h}
  - {id: handler-alone, function: regional, handler: fail.handler}
  - {id: bad-handler, function: regional, code: h, handler: "fail"}
""",
    )
    out = problems(p)
    assert len(out) == 5, out
    assert "scenario 'no-file': field 'code': 'h/none.py' does not exist" in out[0]
    assert (
        "scenario 'wrong-mod': field 'handler': "
        "handler module 'other' is not the code file 'fail.py'" in out[1]
    )
    assert "scenario 'dir-no-handler': field 'code': 'code' is a directory" in out[2]
    assert "scenario 'handler-alone': field 'handler': 'handler' needs 'code'" in out[3]
    assert "scenario 'bad-handler': field 'handler': 'fail' is not a Python handler" in out[4]
    # The good ones load, with the path anchored at the catalogue's directory.
    p.write_text(p.read_text().split("  - {id: no-file")[0])
    cat = load_catalog(p)
    code = cat.get("ok-file").function_code()
    assert code is not None and code.handler == "fail.handler"
    assert Path(code.path) == (tmp_path / "h" / "fail.py").resolve()
    assert cat.get("ok-dir").function_code().path == str((tmp_path / "h").resolve())


def test_expect_values(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + """\
  - id: a
    function: regional
    expect:
      status: crashed
      crosses_proxy: www.google.com
      steps: {web: fine, dns: ok}
      services: {s3: vpce}
""",
    )
    out = "\n".join(problems(p))
    assert "field 'expect.status': 'crashed' is not one of: ok, function-error, failed" in out
    assert "field 'expect.crosses_proxy': expected a list of host names, got string" in out
    assert "field 'expect.steps.web': 'fine' is not one of: ok, http_error" in out
    assert "field 'expect.steps.dns': unknown field" in out
    assert "field 'expect.services.s3': 'vpce' is not one of: internet, gateway-endpoint" in out


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping at the top level, got list"),
        ("catalog: x\ntitle: t\nscenarios: []\n", "field 'scenarios': empty"),
        ("catalog: x\ntitle: t\n", "field 'scenarios': missing"),
        (
            "catalog: 'bad id'\ntitle: t\nscenarios: [{id: a, function: private}]\n",
            "is not a valid id",
        ),
        (
            "catalog: x\ntitle: t\nscenarios: [oops]\n",
            "scenario '#1': expected a mapping, got string",
        ),
    ],
)
def test_catalogue_level_problems(tmp_path, body, message):
    out = problems(write(tmp_path, body))
    assert any(message in o for o in out), out


def test_all_problems_are_collected_and_raised_together(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + "  - {id: a}\n  - {id: b, function: nope}\n  - {id: c, function: private, env: 1}\n",
    )
    with pytest.raises(ScenarioError) as info:
        load_catalog(p)
    assert len(info.value.problems) == 3
    assert str(info.value).startswith("3 problems:\n  ")
    assert info.value.exit_code == 2


def test_catalogue_names_resolve_to_packaged_files_or_paths(tmp_path, monkeypatch):
    assert {"seed", "examples"} <= set(packaged_catalogs())
    assert resolve_catalog_path("seed").name == "seed.yaml"
    p = write(tmp_path, HEADER + "  - {id: a, function: regional}\n", name="seed.yaml")
    monkeypatch.chdir(tmp_path)
    # A path-looking argument is a path, even if it shares a packaged name.
    assert resolve_catalog_path("./seed.yaml") == Path("./seed.yaml")
    assert load_catalog("seed.yaml").id == "mine"
    assert load_catalog(p).id == "mine"
    with pytest.raises(ScenarioError, match="sed: no such catalogue file; did you mean 'seed'"):
        resolve_catalog_path("sed")
    with pytest.raises(ScenarioError, match="nope.yaml: no such catalogue file"):
        load_catalog(tmp_path / "nope.yaml")


def test_resolution_errors_and_escapes(tmp_path):
    p = write(
        tmp_path,
        HEADER
        + """\
  - id: a
    function: regional
    env: {P: "${proxy_url}", L: "$${bucket} costs $$5", BIG: "${execute_api_vpce_id}"}
""",
    )
    cat = load_catalog(p)
    with pytest.raises(ScenarioError) as info:
        cat.get("a").resolve_env(RESOURCES)
    assert str(info.value).startswith(
        f"{p}:4: scenario 'a': field 'env.BIG': the lab has no resource 'execute_api_vpce_id'"
    )
    res = {**RESOURCES, "execute_api_vpce_id": "vpce-1"}
    assert scenario_env(cat, "a", res) == {
        "P": "http://10.0.0.72:3128",
        "L": "${bucket} costs $5",
        "BIG": "vpce-1",
    }
    huge = {**res, "execute_api_vpce_id": "x" * 5000}
    with pytest.raises(ScenarioError, match="Lambda allows 4096"):
        cat.get("a").resolve_env(huge)


def test_unknown_scenario_ids_are_all_reported(tmp_path):
    cat = load_catalog("seed")
    with pytest.raises(ScenarioError) as info:
        cat.select(["seed-1", "seed-9", "sed-2"])
    text = str(info.value)
    assert (
        "no scenario 'seed-9'; did you mean" in text
        and "no scenario 'sed-2'; did you mean 'seed-2'?" in text
    )
    assert [s.id for s in cat.select(["seed-4", "seed-1"])] == ["seed-4", "seed-1"]
    assert scenario_env("seed", "seed-1", RESOURCES) == {
        "HTTP_PROXY": "http://10.0.0.72:3128",
        "HTTPS_PROXY": "http://10.0.0.72:3128",
    }


def test_alias_bomb_is_refused_before_anything_walks_it(tmp_path):
    # "Billion laughs": 9 levels of 9 aliases, ~350 bytes, 9**9 strings once expanded.
    rows = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(rows) + "\n")
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (msg,) = problems(p)
    assert "alias bomb" in msg and "bomb.yaml" in msg
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_shared_anchors_of_normal_size_still_load(tmp_path):
    p = write(tmp_path, HEADER + """\
      - &base {id: one, function: regional, env: {HTTPS_PROXY: "${proxy_url}"}}
      - {id: two, function: private, env: {HTTPS_PROXY: "${proxy_url}"}}
    """)
    assert load_catalog(p).ids == ["one", "two"]


def test_validate_applies_lambdas_env_size_limit(tmp_path):
    big = "x" * 4100
    p = write(tmp_path, HEADER + f"""\
      - {{id: big, function: regional, env: {{BIG: "{big}"}}}}
      - {{id: refs, function: regional, env: {{P: "${{proxy_url}}"}}}}
    """)
    (msg,) = problems(p)
    assert "scenario 'big'" in msg and "field 'env'" in msg and "4096" in msg


def test_a_huge_file_is_refused_with_its_size(tmp_path):
    p = tmp_path / "huge.yaml"
    p.write_text(HEADER + "#" * (2 << 20) + "\n")
    (msg,) = problems(p)
    assert "larger than 1 MiB" in msg


def test_runtime_field(tmp_path):
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "app.mjs").write_text("export const handler = async () => 1;\n")
    (tmp_path / "h" / "fail.py").write_text("def handler(e, c):\n    raise RuntimeError\n")
    good = write(tmp_path, HEADER + """\
  - {id: py, function: regional}
  - {id: node, function: regional, runtime: nodejs20.x}
  - {id: node-file, function: regional, runtime: nodejs22.x, code: h/app.mjs}
  - {id: node-dir, function: regional, runtime: nodejs24.x, code: h, handler: app.handler}
""")
    cat = load_catalog(good)
    assert [str(s.runtime) for s in cat.scenarios] == [
        "python3.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"]
    assert cat.get("py").function_code() is None  # the Python probe, as before
    probe = cat.get("node").function_code()
    assert (probe.path, probe.handler, probe.runtime) == (None, None, "nodejs20.x")
    own = cat.get("node-file").function_code()
    assert (own.handler, own.runtime) == ("app.handler", "nodejs22.x")
    assert cat.get("node").to_dict()["runtime"] == "nodejs20.x"

    bad = write(tmp_path, HEADER + """\
  - {id: typo, function: regional, runtime: nodejs18.x}
  - {id: py-mjs, function: regional, code: h/app.mjs}
  - {id: node-py, function: regional, runtime: nodejs20.x, code: h/fail.py}
  - {id: node-dir-missing, function: regional, runtime: nodejs20.x, code: h, handler: fail.handler}
""", name="bad.yaml")
    out = problems(bad)
    assert len(out) == 4, out
    assert "scenario 'typo': field 'runtime': 'nodejs18.x' is not one of: python3.x, " in out[0]
    assert "scenario 'py-mjs': field 'code': 'app.mjs' is not a python3.x handler file (.py)" \
        in out[1]
    assert "scenario 'node-py': field 'code': 'fail.py' is not a nodejs20.x handler file" in out[2]
    assert "handler 'fail.handler': no fail.mjs|.js|.cjs in" in out[3]
