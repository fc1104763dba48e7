"""Issue 15's reproductions, one test each: a bad line is counted and set aside, the
table, the audit and the report go on.

The oracles are independent of the parsers: the line numbers we damaged, the counts
of lines we wrote, and (for the NUL file) the operating system's peak-RSS figure for
the ``proxylab audit`` process tree.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proxylab.audit.sources import CUT_KEEP, CUT_MARK, MAX_LINE_BYTES, iter_chunks
from proxylab.cli import main
from proxylab.logs import lambda_log, services

ROOT = Path(__file__).resolve().parents[2]
SEED1 = ROOT / "tests" / "fixtures" / "captures" / "20261124T153210Z-seed-1-a1b2"
RID = "3f1c2a9e-5b7d-4e21-9a0c-6d8e7f901234"  # SEED1's request id
GOOD_SERVICE = ('{"ts":1795534331.9,"service":"s3","source_ip":"198.18.2.72",'
                '"local_ip":"198.18.16.10","via":"internet","vpce_id":null,'
                '"host":"b.s3.ap-northeast-1.amazonaws.com","method":"GET","path":"/",'
                '"status":200}')
HUGE = "10000000000000000000"  # 10^19: past int64
GOOD_NATIVE = ("1795534331.402    412 10.1.143.211 TCP_TUNNEL/200 5843 CONNECT "
               "www.google.com:443 - HIER_DIRECT/198.18.1.10 -")
GOOD_COMMON = ('10.1.1.1 - - [25/May/2025:05:05:05 +0000] "CONNECT www.google.com:443 '
               'HTTP/1.1" 200 5843 TCP_TUNNEL:HIER_DIRECT')
BAD = {  # what each bad line does to the capture
    "services.log": GOOD_SERVICE.replace('"status":200', f'"status":{HUGE}'),
    "proxy_access.log": GOOD_NATIVE.replace(" 5843 ", f" {HUGE} "),
    "function.log": "\n".join([
        "0025-05-25T05:05:05.823Z [INFO] a line from year 25",
        f"REPORT RequestId: {RID}\tDuration: 1163.52 ms\tBilled Dur",  # cut mid-field
        "REPORT RequestId: 3f1c2a9e-5b7d",  # cut in the request id: no Duration
        f"REPORT RequestId: {RID}\tDuration: 1 ms\tMemory Size: {HUGE} MB",
        f"9999999999999\tEND RequestId: {RID}",  # epoch milliseconds in 2286
    ]),
    "dns.log": (f"public\tNov 24 15:32:10 dnsmasq[2190]: {HUGE}0 198.18.2.72/41022 "
                "query[A] x.example from 198.18.2.72"),
}


def test_services_status_of_ten_to_the_19_is_one_malformed_line():
    res = services.parse_lines([GOOD_SERVICE, BAD["services.log"], GOOD_SERVICE])
    assert [m.line_no for m in res.malformed] == [2]
    assert "status" in res.malformed[0].reason
    assert res.frame["raw_line_no"].tolist() == [1, 3]


@pytest.mark.parametrize("line", [
    "0025-05-25T05:05:05.823Z START RequestId: abc Version: $LATEST",
    "0025-05-25T05:05:05.823Z\t[INFO] hello",
    "[INFO]\t0025-05-25T05:05:05.823Z\tabc\thello",
    "9999999999999\tSTART RequestId: abc",
    "REPORT RequestId: abc\tDuration: 1 ms\tMemory Size: 1e30 MB",
    f"REPORT RequestId: abc\tDuration: 1 ms\tMax Memory Used: {HUGE} MB",
])
def test_function_log_time_or_number_out_of_range_is_malformed(line):
    res = lambda_log.parse_lines(["START RequestId: r1 Version: $LATEST", line,
                                  "END RequestId: r1"])
    assert [m.line_no for m in res.malformed] == [2]
    assert res.frame["raw_line_no"].tolist() == [1, 3]


@pytest.mark.parametrize("cut", range(len("REPORT RequestId: r1\tDuration: 8.5 ms\tBilled "
                                          "Duration: 9 ms\tMemory Size: 128 MB")))
def test_truncated_report_line_never_raises(cut):
    full = "REPORT RequestId: r1\tDuration: 8.5 ms\tBilled Duration: 9 ms\tMemory Size: 128 MB"
    res = lambda_log.parse_lines(["START RequestId: r1 Version: $LATEST", full[:cut]])
    assert len(res.frame) + res.malformed_count + res.skipped == 2
    (state,) = res.invocations.loc[res.invocations["request_id"] == "r1", "state"]
    assert state in ("ok", "incomplete")


AUDIT_BAD = {
    "native": ["nan", "inf", "Infinity", GOOD_NATIVE.replace("1795534331.402", "1E20"),
               GOOD_NATIVE.replace("1795534331.402", "nan")],
    "common": [GOOD_COMMON.replace('HTTP/1.1"', "HTTP/1.1")],  # one unbalanced quote
}


@pytest.mark.parametrize("engine", ["c", "polars", "arrow"])
@pytest.mark.parametrize("fmt", ["native", "common"])
def test_audit_counts_bad_lines_and_goes_on(tmp_path, capsys, engine, fmt):
    good = GOOD_NATIVE if fmt == "native" else GOOD_COMMON
    lines = [good, *AUDIT_BAD[fmt], good]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    assert main(["audit", "--engine", engine, "--format", "json", "--no-progress",
                 str(log)]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert (summary["lines"], summary["parsed"], summary["malformed"]) == (
        len(lines), 2, len(AUDIT_BAD[fmt]))


def test_a_line_longer_than_the_limit_is_cut_and_the_next_lines_kept():
    long = MAX_LINE_BYTES + 5000
    data = b"a\n" + b"\x00" * long + b"\nb\n" + b"x" * long  # the last line has no newline
    chunks = list(iter_chunks(io.BytesIO(data), 1024))
    assert max(len(c) for c in chunks) <= MAX_LINE_BYTES
    lines = b"".join(chunks).split(b"\n")[:-1]
    cut = b"\x00" * CUT_KEEP + CUT_MARK
    assert lines == [b"a", cut, b"b", b"x" * CUT_KEEP + CUT_MARK]


_PEAK = """import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_200_mb_nul_file_is_one_malformed_line_in_bounded_memory(tmp_path, jobs):
    zero = tmp_path / "zero.log"
    with open(zero, "wb") as fh:
        fh.truncate(200 << 20)  # sparse: as a crash leaves a log, or /dev/zero would read
    good = tmp_path / "good.log"
    good.write_text(GOOD_NATIVE + "\n")
    cmd = [sys.executable, "-m", "proxylab.cli", "audit", "--format", "json", "--no-progress",
           "--jobs", jobs, str(zero), str(good)]
    proc = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True,
                          text=True, timeout=180, cwd=ROOT)
    head, _, out = proc.stdout.partition("\n")
    rc, peak_kib = map(int, head.split())
    assert rc == 0, proc.stderr
    assert peak_kib < 600_000, f"peak RSS {peak_kib} KiB"
    sources = json.loads(out)["summary"]["sources"]
    assert [(s["lines"], s["parsed"], s["malformed"]) for s in sources] == [(1, 0, 1), (1, 1, 0)]


def test_report_renders_a_capture_holding_every_bad_line(tmp_path):
    cap = tmp_path / "runs" / SEED1.name
    shutil.copytree(SEED1, cap)
    before = {}
    for name, text in BAD.items():
        path = cap / name
        before[name] = len(path.read_text().splitlines())
        path.write_text(path.read_text() + text + "\n")
    out = tmp_path / "report"
    assert main(["report", "--from", str(cap), "--out", str(out), "--quiet"]) == 0
    md = (out / "report.md").read_text()
    quality = md.split("## Data quality", 1)[1]
    for name in ("services.log", "proxy_access.log", "dns.log"):
        assert f"| {name} | {before[name] + 1} |" in quality
    for offset in (1, 3, 4, 5):  # function.log's bad lines (the cut-mid-field one reads)
        assert f"| function.log | {before['function.log'] + offset} |" in quality
