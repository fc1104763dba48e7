"""The local lab in a region other than the seed's (issue 10, item 1).

us-east-1 is the case that matters: boto3's default S3 client there talks to the
legacy global host ``s3.amazonaws.com``, so ``NO_PROXY=s3.us-east-1.amazonaws.com``
does not bypass the proxy, and ``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=regional`` is the
fix. Asserted from the captures (Squid's CONNECT lines, the S3 front's "via"), and the
analysis's prediction must agree with what the lab did. eu-west-1 shows another region
resolves and serves its own names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proxylab.analysis.expectations import check, describe
from proxylab.analysis.routes import classify
from proxylab.capture import read_capture
from proxylab.labs import get_lab
from proxylab.labs.local import topology as t
from proxylab.labs.local.lab import LocalLab
from proxylab.logs.squid import parse_line
from proxylab.logs.tables import load_tables
from proxylab.runner import run_catalog

pytestmark = pytest.mark.lab

GLOBAL_BUCKET = f"{t.BUCKET}.s3.amazonaws.com"
REGIONAL_BUCKET = f"{t.BUCKET}.s3.us-east-1.amazonaws.com"

CATALOG = """\
catalog: useast1
title: "us-east-1's legacy global S3 host"
defaults:
  function: regional
  endpoints: {s3_gateway: true, execute_api_interface: false, execute_api_private_dns: false}
  env:
    HTTP_PROXY: "${proxy_url}"
    HTTPS_PROXY: "${proxy_url}"
    NO_PROXY: "s3.${region}.amazonaws.com"
scenarios:
  - id: global-host
    title: "NO_PROXY names the regional host; boto3 uses the global one"
  - id: regional-endpoint
    title: "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=regional: the NO_PROXY entry matches"
    env:
      AWS_S3_US_EAST_1_REGIONAL_ENDPOINT: regional
"""


@pytest.fixture(scope="module")
def useast1() -> Iterator[LocalLab]:
    lab = get_lab("local", name="useast1", region="us-east-1")
    try:
        lab.up()
        yield lab
    finally:
        assert not lab.down()


@pytest.fixture(scope="module")
def runs(useast1: LocalLab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("useast1")
    cat = root / "useast1.yaml"
    cat.write_text(CATALOG)
    paths = run_catalog(str(cat), lab=useast1, runs_dir=root / "runs", keep_lab=True,
                        progress=False)
    return {read_capture(p).record.scenario.id: p for p in paths}


def _connects(path: Path) -> set[str]:
    lines = read_capture(path).lines("proxy_access.log")
    return {sl.url for sl in map(parse_line, lines) if sl.method == "CONNECT"}


def _s3_hits(path: Path) -> list[tuple[str, str, int]]:
    import json

    hits = [json.loads(x) for x in read_capture(path).lines("services.log") if x.strip()]
    return [(h["host"], h["via"], h["status"]) for h in hits if h["service"] == "s3"]


def _s3_route(path: Path):
    facts = classify(load_tables([path])).facts
    return next(f for f in facts if f.step == "s3_get")


def test_the_capture_records_the_region(runs: dict[str, Path]) -> None:
    record = read_capture(runs["global-host"]).record
    assert record.lab.region == "us-east-1" == record.resources["region"]
    assert record.resources["s3_endpoint_url"] == "https://s3.us-east-1.amazonaws.com"


def _s3_went(path: Path, host: str, via: str, route: str):
    """Every S3 request reached the front at ``host`` by ``via`` and succeeded, and the
    analysis classifies s3_get as ``route``, as its prediction said. Returns the fact."""
    hits = _s3_hits(path)
    assert hits and all((h, v, status // 100) == (host, via, 2) for h, v, status in hits), hits
    fact = _s3_route(path)
    assert (fact.host, fact.outcome, fact.route) == (host, "ok", route)
    assert fact.prediction_matches is True
    return fact


def test_the_seed_probe_uses_the_global_host_and_crosses_the_proxy(
    runs: dict[str, Path],
) -> None:
    path = runs["global-host"]
    assert f"{GLOBAL_BUCKET}:443" in _connects(path)
    fact = _s3_went(path, GLOBAL_BUCKET, "internet", "proxy")
    assert fact.decision.endpoint_source == "legacy-global"


def test_the_regional_endpoint_setting_bypasses_through_the_gateway(
    runs: dict[str, Path],
) -> None:
    path = runs["regional-endpoint"]
    assert not any("s3" in target for target in _connects(path)), _connects(path)
    _s3_went(path, REGIONAL_BUCKET, "gateway-endpoint", "endpoint")


def test_lab_exec_gets_the_labs_region(useast1: LocalLab) -> None:
    """(The function's own AWS_REGION is shown by the runs above: only a client in
    us-east-1 picks the legacy global host.)"""
    proc = useast1.run("lambda", ["env"], capture=True, timeout_s=10)
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"


def test_a_lab_in_eu_west_1_resolves_and_serves_its_names(tmp_path: Path) -> None:
    """Its names resolve, its certificate verifies, its fronts answer (an unsigned GET
    of the private object is S3's 403), and the seed's first two runs, whose
    expectations are written with ${region}, hold there as in the seed's region."""
    lab = get_lab("local", name="euwest1", region="eu-west-1")
    try:
        desc = lab.up()
        assert desc.region == "eu-west-1" == desc.resources["region"]
        proxy = desc.resources["proxy_url"]
        assert "execute-api.eu-west-1.amazonaws.com" in desc.resources["regional_api_url"]
        urls = {
            f"https://{t.BUCKET}.s3.eu-west-1.amazonaws.com/{t.SOURCE_KEY}": "403",
            desc.resources["regional_api_url"]: "200",
        }
        for url, want in urls.items():
            proc = lab.run("lambda", ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                      "-m", "5", "-x", proxy, url], capture=True, timeout_s=15)
            assert (proc.returncode, proc.stdout) == (0, want), (url, proc.stderr)
        # The seed's region is not served by this lab: its names do not resolve.
        proc = lab.run("lambda", ["curl", "-sS", "-o", "/dev/null", "-m", "5", "-x", proxy,
                                  f"https://{t.BUCKET}.s3.{t.REGION}.amazonaws.com/"],
                       capture=True, timeout_s=15)
        assert proc.returncode != 0
        paths = run_catalog("seed", ["seed-1", "seed-2"], lab=lab, runs_dir=tmp_path,
                            keep_lab=True, progress=False)
        items = check(load_tables(paths))
        assert items and not [describe(i) for i in items if i.verdict != "held"]
        assert {f"{t.BUCKET}.s3.eu-west-1.amazonaws.com:443"} <= _connects(paths[0])
    finally:
        assert not lab.down()


def test_a_lab_up_in_one_region_is_rebuilt_for_another() -> None:
    """`--region` is honoured even when a lab of that name is up elsewhere."""
    lab = get_lab("local", name="regswap", region="eu-west-1")
    try:
        lab.up()
        other = get_lab("local", name="regswap", region="us-east-1")
        assert not other.describe().up
        assert other.up().region == "us-east-1"
        assert get_lab("local", name="regswap").region == "us-east-1"
    finally:
        assert not lab.down()


def test_a_bogus_region_is_refused_before_anything_exists() -> None:
    from proxylab.labs import LabError

    with pytest.raises(LabError, match="unknown region 'mars-east-1'"):
        get_lab("local", name="bogus", region="mars-east-1")
    assert not LocalLab(name="bogus").state.exists()




def test_a_catalogues_region_is_honoured_by_the_local_backend(tmp_path: Path) -> None:
    """No --region: the catalogue's ``region:`` builds the lab, and the capture says so."""
    cat = tmp_path / "east.yaml"
    cat.write_text("catalog: east\ntitle: t\nregion: us-east-1\nscenarios:\n"
                   "  - {id: east, function: regional, env: {HTTPS_PROXY: '${proxy_url}'}}\n")
    [path] = run_catalog(str(cat), lab_options={"name": "scnreg"}, runs_dir=tmp_path / "runs",
                         progress=False)
    record = read_capture(path).record
    assert record.scenario.region == record.lab.region == "us-east-1"
    assert f"{GLOBAL_BUCKET}:443" in _connects(path)  # us-east-1's own S3 default host
    assert not LocalLab(name="scnreg").state.exists()  # the batch brought its lab down
