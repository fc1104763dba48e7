"""A scenario file a user wrote (not in the packaged catalogues) runs the same way,
through the command line, with its own handler file beside it (issue 3)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from proxylab.capture import read_capture
from proxylab.labs import get_lab

pytestmark = pytest.mark.lab

LAB = "userfile"

CATALOG = """\
catalog: mine
title: "My team's proxy settings"
defaults:
  function: private
  env:
    STEP_TIMEOUT: "2"
scenarios:
  - id: mine-lowercase-dotted
    title: "lowercase variables, NO_PROXY entries with leading dots"
    env:
      https_proxy: "${proxy_url}"
      no_proxy: ".s3.${region}.amazonaws.com,.execute-api.${region}.amazonaws.com"
    expect:
      status: ok
      crosses_proxy: [www.google.com]
      steps: {s3_get: ok, s3_put: ok, web: ok, api: ok}
  - id: mine-star
    title: "NO_PROXY=* in a VPC without NAT"
    env:
      HTTPS_PROXY: "${proxy_url}"
      NO_PROXY: "*"
    expect:
      crosses_proxy: []
      steps: {web: timeout, api: ok}
  - id: mine-raises
    title: "our handler, which raises"
    code: boom.py
    handler: boom.handler
    expect:
      status: function-error
"""

HANDLER = """\
def handler(event, context):
    print("checking the order", event.get("order"))
    raise ValueError(f"order {event.get('order')} is not valid")
"""


def test_a_users_own_catalogue_runs_from_the_command_line(tmp_path):
    (tmp_path / "mine.yaml").write_text(CATALOG)
    (tmp_path / "boom.py").write_text(HANDLER)
    runs = tmp_path / "runs"
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "proxylab.cli",
                "run",
                "--catalog",
                str(tmp_path / "mine.yaml"),
                "--name",
                LAB,
                "--runs-dir",
                str(runs),
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        assert get_lab("local", name=LAB).down() == []
    summaries = {s["scenario"]: s for s in map(json.loads, proc.stdout.splitlines())}
    assert set(summaries) == {"mine-lowercase-dotted", "mine-star", "mine-raises"}, proc.stderr
    for scenario, summary in summaries.items():
        assert summary["expected"] is True, (scenario, summary["mismatches"])
    raises = read_capture(runs / summaries["mine-raises"]["run_id"])
    assert raises.record.invocation.error["errorType"] == "ValueError"
    assert any("checking the order" in line for line in raises.lines("function.log"))


def test_a_bad_user_file_is_refused_before_any_lab_starts(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent("""\
        catalog: bad
        scenarios:
          - id: b1
            title: "typo"
            functon: private
            env: {NO_PROXY: [a, b]}
        """)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "proxylab.cli", "run", "--catalog", str(bad), "--name", LAB],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "b1" in proc.stderr
    assert "functon" in proc.stderr and "env.NO_PROXY" in proc.stderr
    assert not get_lab("local", name=LAB).describe().up
