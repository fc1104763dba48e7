"""Is `proxylab audit --format json` byte-identical to another revision's on the same logs?

    python benchmarks/audit_identical.py                 # against main
    python benchmarks/audit_identical.py --ref c0e6577 --lines 2000000
    python benchmarks/audit_identical.py --logs benchmarks/out/squid-5000k.log

A speed change to the audit must not change its answer. This checks out ``--ref`` in
a temporary git worktree and runs both revisions' CLI (this venv's interpreter, each
revision's ``lib`` first on ``PYTHONPATH``) on: a generated log with malformed lines
(benchmarks/gen_squid_log.py's shapes at a 1% malformed ratio), the same with damaged
lines of every kind the grammar's property test makes (tabs, NUL, CR, stray spaces,
other scripts' digits, ``nan``/``1E20`` times, over-long fields...), its gzip copy, a
rotated set (plain + ``.1`` + ``.2.gz``), and any ``--logs`` given; with ``--jobs 1``
and the default processes. Exit status 1 when any output differs (the first differing
line is printed); "same rows" means equal but for the order of tied rows, which the
audit before this check did not fix (two runs of one revision could differ there).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))  # the property test's line damager


def make_logs(tmp: Path, lines: int) -> list[list[str]]:
    from test_squid_grammar_property import damaged_line  # tests/unit is on sys.path

    from proxylab.audit.synth import SynthOptions, iter_lines

    rnd = random.Random(7)
    body = list(iter_lines(SynthOptions(lines=lines, seed=3, malformed_ratio=0.01)))
    for _ in range(max(1, lines // 50)):  # 2% damaged lines of every kind, spread out
        body.insert(rnd.randrange(len(body)), damaged_line(rnd).replace("\n", "") + "\n")
    text = "".join(body).encode("utf-8", "surrogateescape")
    plain = tmp / "damaged.log"
    plain.write_bytes(text)
    gz = tmp / "damaged.log.gz"
    with gzip.open(gz, "wb", compresslevel=1) as fh:
        fh.write(text)
    rot = tmp / "rotated"
    rot.mkdir()
    third = len(body) // 3
    (rot / "access.log").write_bytes("".join(body[2 * third:]).encode())
    (rot / "access.log.1").write_bytes("".join(body[third: 2 * third]).encode())
    with gzip.open(rot / "access.log.2.gz", "wb", compresslevel=1) as fh:
        fh.write("".join(body[:third]).encode())
    return [[str(plain)], [str(gz)], [str(rot)]]


def audit(lib: Path, paths: list[str], extra: list[str]) -> bytes:
    code = "import sys; from proxylab.cli import main; sys.argv[0] = 'proxylab'; sys.exit(main())"
    env = {"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code, "audit", *paths, "--format", "json",
                          "--no-progress", *extra], capture_output=True, env=env, timeout=1800)
    if out.returncode not in (0, 2):
        raise RuntimeError(f"{lib}: audit {paths} exited {out.returncode}: "
                           f"{out.stderr.decode(errors='replace')[-500:]}")
    return out.stdout


def canonical(doc):
    """The JSON with every list of objects in a fixed order: tied rows (equal request
    counts) come out of a group-by in arbitrary order, and before this branch the audit
    did not break ties, so a reference revision is not byte-stable on logs with ties."""
    if isinstance(doc, dict):
        return {k: canonical(v) for k, v in doc.items()}
    if isinstance(doc, list):
        items = [canonical(v) for v in doc]
        if items and all(isinstance(v, dict) for v in items):
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return items
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="main")
    ap.add_argument("--lines", type=int, default=400_000)
    ap.add_argument("--logs", nargs="*", default=[], help="more logs to compare on")
    args = ap.parse_args(argv)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="audit-identical-") as t:
        tmp = Path(t)
        ref = tmp / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(ref),
                        args.ref], check=True, timeout=120)
        try:
            cases = make_logs(tmp, args.lines) + [[p] for p in args.logs]
            for paths in cases:
                for extra in ([], ["--jobs", "1"]):
                    want = audit(ref / "lib", paths, extra)
                    got = audit(ROOT / "lib", paths, extra)
                    name = " ".join(Path(p).name for p in paths) + " " + " ".join(extra)
                    if want == got:
                        print(f"identical  {name:40s} {len(got):>9,} bytes")
                        continue
                    if canonical(json.loads(want)) == canonical(json.loads(got)):
                        print(f"same rows  {name:40s} (order of tied rows differs)")
                        continue
                    failed += 1
                    w, g = want.decode().splitlines(), got.decode().splitlines()
                    i = next((k for k, (a, b) in enumerate(zip(w, g, strict=False))
                              if a != b), min(len(w), len(g)))
                    print(f"DIFFERENT  {name}: line {i + 1}\n  {args.ref}: "
                          f"{w[i] if i < len(w) else '<end>'}\n  here: "
                          f"{g[i] if i < len(g) else '<end>'}")
        finally:
            shutil.rmtree(ref, ignore_errors=True)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], timeout=60)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
