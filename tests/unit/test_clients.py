"""The client matrix without a lab: the registry, the result parsers, the cases, the
evidence rule on real log lines, the cell driver, the Python programs against local
sockets, and the rendering."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading

import pytest

from proxylab.cli import main
from proxylab.clients import cases, document, programs, registry, render
from proxylab.clients import cell as cell_driver
from proxylab.clients import measure as measure_mod
from proxylab.clients.matrix import Cell, Matrix, attribute, unmatched_connects
from proxylab.clients.registry import Result
from proxylab.errors import UserError
from proxylab.logs import services as services_log
from proxylab.logs import squid as squid_log
from proxylab.vocab import EvidenceSource, MeasuredRoute, Outcome

RESOURCES = {"proxy_url": "http://10.0.0.72:3128", "web_url": "https://www.example.com",
             "s3_endpoint_url": "https://s3.ap-northeast-1.amazonaws.com",
             "bucket": "demo-bucket"}


# ---------------------------------------------------------------- registry
def test_select_keeps_order_and_refuses_unknown_names():
    assert [c.name for c in registry.select(["curl", "urllib", "curl"])] == ["curl", "urllib"]
    assert [c.name for c in registry.select(None)] == list(registry.CLIENTS)
    with pytest.raises(UserError, match="did you mean 'curl'.*known: urllib"):
        registry.select(["crul"])


def test_every_client_says_how_to_install_it():
    for c in registry.CLIENTS.values():
        assert c.install and c.summary and c.targets
        assert c.family in ("python", "command", "node", "built")


def test_python_client_versions_follow_what_is_installed():
    for name, module in (("requests", "requests"), ("httpx", "httpx"), ("botocore", "botocore")):
        installed = importlib.util.find_spec(module) is not None
        assert (registry.CLIENTS[name].version() is not None) == installed, name
    assert registry.CLIENTS["urllib"].version().startswith("Python 3.")


def test_curl_exit_codes():
    parse = registry.CLIENTS["curl"].parse
    assert parse(0, "200", "") == Result(Outcome.OK, 200, "")
    assert parse(0, "503", "").outcome == Outcome.HTTP_ERROR
    assert parse(28, "000", "curl: (28) Connection timed out").outcome == Outcome.TIMEOUT
    refused = parse(7, "000", "curl: (7) Failed to connect")
    assert refused.outcome == Outcome.OTHER and "exit 7" in refused.error
    assert parse(0, "000", "").outcome == Outcome.OTHER  # no status: not a success
    assert parse(None, "", "").outcome == Outcome.TIMEOUT


def test_wget_messages():
    parse = registry.CLIENTS["wget"].parse
    assert parse(0, "", "").outcome == Outcome.OK
    assert parse(8, "", "http://x/:\n2026-12-01 ERROR 503: Service Unavailable.") == \
        Result(Outcome.HTTP_ERROR, 503, "http://x/:\n2026-12-01 ERROR 503: Service Unavailable.")
    assert parse(4, "", "failed: Connection timed out.").outcome == Outcome.TIMEOUT
    assert parse(4, "", "failed: Connection refused.").outcome == Outcome.OTHER


def test_json_result_reads_the_last_result_line():
    parse = registry.CLIENTS["urllib"].parse
    out = 'noise\n{"outcome": "http_error", "status": 404, "error": "", "detail": "e"}\n'
    assert parse(0, out, "") == Result(Outcome.HTTP_ERROR, 404, "", "e")
    assert parse(1, "Traceback ...", "boom").outcome == Outcome.OTHER
    assert parse(0, '{"outcome": "martian"}', "").outcome == Outcome.OTHER


# ---------------------------------------------------------------- cases
def test_lab_values_and_case_environments():
    values = cases.lab_values(RESOURCES, "198.18.1.10")
    assert values["dead_proxy"] == "http://10.0.0.72:3129"
    assert values["proxy_hostport"] == "10.0.0.72:3128"
    assert values["web_parent"] == "example.com"
    assert values["web_net"] == "198.18.1.0/24"
    assert values["bucket_host"] == "demo-bucket.s3.ap-northeast-1.amazonaws.com"
    env = cases.CASES["no-proxy-dot"].environment(values)
    assert env == {"https_proxy": "http://10.0.0.72:3128", "HTTPS_PROXY": "http://10.0.0.72:3128",
                   "no_proxy": ".example.com", "NO_PROXY": ".example.com"}
    assert cases.CASES["empty-lower"].environment(values)["https_proxy"] == ""
    kinds = {"web", "web-http", "web-ip-http", "s3", "api"}
    assert all(c.target in kinds for c in cases.CASES.values())


def test_case_selection_and_bad_lab_descriptions():
    with pytest.raises(UserError, match="unknown case 'no-proxy-stra'.*no-proxy-star"):
        cases.select(["no-proxy-stra"])
    with pytest.raises(UserError, match="does not describe 'bucket'"):
        cases.lab_values({k: v for k, v in RESOURCES.items() if k != "bucket"}, "1.2.3.4")
    with pytest.raises(UserError, match="no host:port"):
        cases.lab_values({**RESOURCES, "proxy_url": "http://10.0.0.72"}, "1.2.3.4")


# ---------------------------------------------------------------- evidence rule
def _service(path: str, via: str, source: str = "198.18.2.72") -> str:
    return json.dumps({"ts": 1795534390.7, "service": "web", "source_ip": source,
                       "local_ip": "198.18.1.10", "via": via, "vpce_id": None,
                       "host": "www.example.com", "method": "GET", "path": path,
                       "status": 200})


SQUID = [
    "1795534390.700      3 10.1.143.211 TCP_MISS/503 4100 GET "
    "http://www.example.com/proxylab-clients/aaa111 - HIER_DIRECT/198.18.1.10 text/html",
    "1795534390.800     80 10.1.143.211 TCP_TUNNEL/200 5000 CONNECT www.example.com:443 - "
    "HIER_DIRECT/198.18.1.10 -",
    "1795534390.900     80 10.1.143.211 TCP_TUNNEL/200 5000 CONNECT www.example.com:443 - "
    "HIER_DIRECT/198.18.1.10 -",
]
SERVICES = [_service("/proxylab-clients/bbb222", "internet"),
            _service("/proxylab-clients/ccc333", "gateway-endpoint", "10.1.143.211")]


@pytest.fixture
def tables():
    return (squid_log.parse_lines(SQUID).frame, services_log.parse_lines(SERVICES).frame)


@pytest.mark.parametrize(("token", "outcome", "route", "source"), [
    ("aaa111", Outcome.HTTP_ERROR, MeasuredRoute.PROXY, EvidenceSource.SQUID),
    ("bbb222", Outcome.OK, MeasuredRoute.PROXY, EvidenceSource.SERVICE),
    ("ccc333", Outcome.OK, MeasuredRoute.DIRECT, EvidenceSource.SERVICE),
    ("ddd444", Outcome.TIMEOUT, MeasuredRoute.DIRECT, None),
    ("ddd444", Outcome.OTHER, MeasuredRoute.FAILED, None),
    # A client that says it succeeded but left no line anywhere is not believed.
    ("ddd444", Outcome.OK, MeasuredRoute.FAILED, None),
])
def test_attribute(tables, token, outcome, route, source):
    squid, services = tables
    got_route, got_source, words = attribute(token, Result(outcome), squid, services)
    assert (got_route, got_source) == (route, source)
    assert words


def test_connects_no_front_saw_are_reported(tables):
    squid, _ = tables
    proxied = Cell("curl", "c", "1", route=MeasuredRoute.PROXY, source=EvidenceSource.SERVICE,
                   url="https://www.example.com/proxylab-clients/bbb222")
    assert unmatched_connects([proxied], squid) == {"www.example.com:443": 1}
    twice = [proxied, Cell(**{**proxied.__dict__, "client": "wget"})]
    assert unmatched_connects(twice, squid) == {}


# ---------------------------------------------------------------- cell driver and programs
def _drive(tmp_path, limit: float, argv: list[str]) -> dict:
    out = tmp_path / "cell.json"
    subprocess.run([sys.executable, cell_driver.__file__, str(out), str(limit), "--", *argv],
                   check=True, timeout=30)
    return json.loads(out.read_text())


def test_cell_driver_records_output_and_kills_at_its_limit(tmp_path):
    rec = _drive(tmp_path, 10, [sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"])
    assert (rec["rc"], rec["stdout"], rec["killed"]) == (3, "hi\n", False)
    rec = _drive(tmp_path, 0.3, [sys.executable, "-c", "import time; time.sleep(5)"])
    assert rec["killed"] is True and rec["rc"] is None and rec["elapsed_s"] < 4
    rec = _drive(tmp_path, 5, ["/nonexistent/client"])
    assert rec["rc"] is None and "cannot start" in rec["stderr"]


@pytest.fixture
def silent_server():
    """A local socket that accepts and never answers: a request to it times out."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join()
    for s in held:
        s.close()
    srv.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("program", [programs.URLLIB, programs.REQUESTS])
def test_python_programs_tell_a_timeout_from_a_refusal(program, silent_server):
    parse = registry.CLIENTS["urllib"].parse

    def run(url: str) -> Result:
        proc = subprocess.run([sys.executable, "-c", program, url, "0.5"], capture_output=True,
                              text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
        return parse(proc.returncode, proc.stdout, proc.stderr)

    assert run(f"http://127.0.0.1:{silent_server}/").outcome == Outcome.TIMEOUT
    refused = run(f"http://127.0.0.1:{_free_port()}/")
    assert refused.outcome == Outcome.OTHER and "refused" in refused.error.lower()


def test_an_interrupt_cancels_the_cells_not_yet_started():
    started: list[int] = []

    def run(i: int) -> dict:
        started.append(i)
        if i == 0:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        measure_mod._run_all(run, list(range(50)), workers=1)
    assert len(started) < 5


# ---------------------------------------------------------------- rendering
def _matrix() -> Matrix:
    clients = [{"name": "curl", "summary": "", "version": "7.88.1",
                "install": "apt-get install curl"},
               {"name": "httpx", "summary": "", "version": None,
                "install": "pip install httpx"}]
    case_list = [{"id": "http-upper", "summary": "HTTP_PROXY | only", "target": "web-http",
                  "env": {"HTTP_PROXY": "http://p:3128"}},
                 {"id": "no-proxy-star", "summary": "", "target": "web",
                  "env": {"NO_PROXY": "*"}}]
    cells = [Cell("curl", "http-upper", "7.88.1", route=MeasuredRoute.DIRECT,
                  outcome=Outcome.TIMEOUT),
             Cell("httpx", "http-upper", None, note="not installed: pip install httpx"),
             Cell("curl", "no-proxy-star", "7.88.1", route=MeasuredRoute.PROXY,
                  source=EvidenceSource.SERVICE, outcome=Outcome.OK, status=200),
             Cell("httpx", "no-proxy-star", None, note="not installed: pip install httpx")]
    endpoints = {"s3_gateway": True, "execute_api_interface": False,
                 "execute_api_private_dns": False}
    return Matrix(clients, case_list, cells, {"lab": {"name": "t", "endpoints": endpoints},
                                              "timeout_s": 3, "unmatched_connects": {"h:443": 2}})


def test_text_matrix():
    lines = render.text(_matrix()).splitlines()
    assert lines[0].split() == ["case", "curl", "httpx"]
    assert lines[1].split() == ["version", "7.88.1", "-"]
    assert lines[3].split() == ["http-upper", "direct", "not", "installed"]
    assert lines[4].split() == ["no-proxy-star", "proxy", "not", "installed"]
    body = "\n".join(lines)
    assert "httpx: not installed (pip install httpx)" in body
    assert "Squid logged 2 CONNECT h:443" in body


def test_markdown_matrix_and_json_round_trip():
    m = _matrix()
    md = document.markdown(m)
    assert "| case | curl | httpx |" in md
    assert "| version | 7.88.1 | not installed |" in md
    assert "| http-upper | direct | not installed |" in md
    assert "HTTP_PROXY \\| only" in md  # a pipe in a cell does not break the table
    assert "S3 gateway on, execute-api interface off" in md
    again = Matrix.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again.cell("curl", "no-proxy-star").route is MeasuredRoute.PROXY
    assert again.cell("curl", "no-proxy-star").source is EvidenceSource.SERVICE
    assert document.markdown(again) == md


def test_cli_lists_and_refuses(capsys):
    assert main(["clients", "--list", "--client", "curl", "--case", "no-proxy-star"]) == 0
    out = capsys.readouterr().out
    assert "client curl" in out and "case   no-proxy-star" in out
    assert main(["clients", "--list", "--client", "nope"]) == 2
    assert "unknown client 'nope'" in capsys.readouterr().err
