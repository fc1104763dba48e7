"""`proxylab audit` on bad input: a clear message and a non-zero exit only when nothing
at all could be parsed; otherwise warnings and exit 0. Plus the table/CSV renderings."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os

import pytest

from proxylab.audit.synth import SynthOptions, iter_lines, write_log
from proxylab.cli import main

GOOD = ("1748149505.823    135 10.1.143.211 TCP_TUNNEL/200 19109 CONNECT "
        "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com:443 - HIER_DIRECT/198.18.16.10 -\n")


@pytest.fixture
def bad_files(tmp_path):
    rnd = bytes((i * 131 + 7) % 256 for i in range(4096))
    files = {
        "empty": tmp_path / "empty.log",
        "binary": tmp_path / "garbage.bin",
        "truncated": tmp_path / "cut.log.gz",
        "syslog": tmp_path / "messages",
        "apache": tmp_path / "httpd.log",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(b"\x00\x01" + rnd * 4)
    files["truncated"].write_bytes(gzip.compress(GOOD.encode() * 100)[:12])  # header only
    files["syslog"].write_text("Nov 24 10:00:00 host sshd[1]: Accepted publickey for root\n" * 5)
    files["apache"].write_text('127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" '
                               '200 2326 "-" "curl"\n' * 5)
    return files


@pytest.mark.parametrize("kind", ["empty", "binary", "truncated", "syslog", "apache"])
def test_nothing_parsed_fails_clearly(bad_files, kind, capsys):
    path = bad_files[kind]
    rc = main(["audit", str(path), "--format", "json"])
    cap = capsys.readouterr()
    assert rc != 0
    assert cap.out == ""
    assert "no Squid access-log line could be parsed" in cap.err and str(path) in cap.err
    assert "Traceback" not in cap.err


def test_all_bad_together_names_each_file(bad_files, capsys):
    rc = main(["audit", *map(str, bad_files.values())])
    err = capsys.readouterr().err
    assert rc != 0
    assert "empty.log: empty" in err and "cut.log.gz: unreadable" in err
    assert "garbage.bin:" in err and "none in Squid native format" in err


def test_one_good_file_among_bad_ones_succeeds(bad_files, tmp_path, capsys):
    good = tmp_path / "access.log"
    good.write_text(GOOD * 3)
    rc = main(["audit", str(good), *map(str, bad_files.values()), "--format", "json"])
    cap = capsys.readouterr()
    assert rc == 0
    doc = json.loads(cap.out)
    assert doc["summary"]["parsed"] == 3
    assert "cut.log.gz" in cap.err and "stream ended early" in cap.err


def test_truncated_gzip_keeps_what_it_has(tmp_path, capsys):
    p = tmp_path / "rot.1.gz"
    p.write_bytes(gzip.compress("".join(iter_lines(SynthOptions(lines=5000))).encode())[:30000])
    rc = main(["audit", str(p), "--format", "json"])
    cap = capsys.readouterr()
    assert rc == 0 and "stream ended early" in cap.err
    assert json.loads(cap.out)["summary"]["parsed"] > 100


def test_missing_path_and_bad_arguments(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "nope*.log")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", str(tmp_path), "--since", "yesterday-ish"])
    with pytest.raises(SystemExit):
        main(["audit", str(tmp_path), "--client-cidr", "10.1.0.0/33"])


def test_filters_that_exclude_everything_are_not_an_error(tmp_path, capsys):
    good = tmp_path / "access.log"
    good.write_text(GOOD)
    rc = main(["audit", str(good), "--since", "2030-01-01T00:00Z", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["summary"]["filtered_out"] == 1 and doc["hosts"] == []


@pytest.fixture(scope="module")
def small_log(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "access.log.gz"
    write_log(str(p), SynthOptions(lines=3000, seed=7, malformed_ratio=0.01))
    return p


def test_table_output(small_log, capsys):
    assert main(["audit", str(small_log), "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "NO_PROXY=" in out and "s3.ap-northeast-1.amazonaws.com" in out
    assert "Stays on the proxy" in out and "www.google.com" in out
    assert "com.amazonaws.ap-northeast-1.s3" in out


@pytest.mark.parametrize("table", ["hosts", "services", "timeline", "clients", "no_proxy",
                                   "endpoints"])
def test_csv_tables(small_log, capsys, table):
    assert main(["audit", str(small_log), "--format", "csv", "--csv-table", table]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows
    if table == "hosts":
        top = rows[0]
        assert top["host"] and int(top["requests"]) > 0 and ":" in top["statuses"]


def test_json_is_consistent(small_log, capsys):
    assert main(["audit", str(small_log), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    s = doc["summary"]
    assert s["lines"] == 3000 and s["parsed"] + s["malformed"] == 3000
    assert sum(h["requests"] for h in doc["hosts"]) == s["requests"] == s["parsed"]
    assert sum(t["requests"] for t in doc["timeline"]) == s["requests"]
    assert sum(c["requests"] for c in doc["clients"]) == s["requests"]
    for h in doc["hosts"]:
        assert sum(h["statuses"].values()) == h["requests"]


def test_progress_bar_goes_to_stderr_only(small_log, capsys, monkeypatch):
    import proxylab.commands.audit as cmd

    monkeypatch.setattr(cmd, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert main(["audit", str(small_log), "--format", "json"]) == 0
    json.loads(capsys.readouterr().out)  # stdout stays pure JSON
    assert os.path.exists(small_log)


@pytest.fixture
def wide_log(tmp_path):
    """A log whose ap-northeast-1 NO_PROXY value is far longer than 200 characters."""
    log = tmp_path / "a.log"
    write_log(str(log), SynthOptions(lines=3000, seed=3))
    return log


def test_no_proxy_values_are_printed_whole_when_piped(wide_log, capsys):
    """Piped (not a terminal), the table output used to wrap NO_PROXY at 200 columns,
    breaking a hostname in two: a copied value was wrong. Each value is one line, equal
    to the JSON's (the oracle)."""
    capsys.readouterr()
    assert main(["audit", str(wide_log), "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)["recommendations"]
    values = [r["no_proxy"] for r in recs["regions"]] + [recs["no_proxy_all"]]
    assert max(map(len, values)) > 200
    assert main(["audit", str(wide_log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    printed = [ln.strip()[len("NO_PROXY="):] for ln in lines if ln.strip().startswith("NO_PROXY=")]
    assert sorted(printed) == sorted(values)


def test_format_env_is_one_assignment_and_comments(wide_log, capsys):
    capsys.readouterr()
    assert main(["audit", str(wide_log), "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)["recommendations"]
    assert main(["audit", str(wide_log), "--format", "env"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assignments = [ln for ln in lines if not ln.startswith("#")]
    assert assignments == [f"NO_PROXY={recs['no_proxy_all']}"]  # several regions: all of them
    for r in recs["regions"]:
        assert f"#   this region alone: NO_PROXY={r['no_proxy']}" in lines
    # a shell reads it as it is: the variable holds exactly the value
    import subprocess

    env_file = wide_log.parent / "proxy.env"
    env_file.write_text("\n".join(lines) + "\n")
    got = subprocess.run(["bash", "-c", f"set -a; . {env_file}; printf %s \"$NO_PROXY\""],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert got == recs["no_proxy_all"]
