"""Time of one cold Lambda invocation on the local runtime (lambda_host + the real
awslambdaric), in a throwaway network namespace that has only ``lo``:

- a trivial handler (returns at once): the runtime's own cost;
- the probe (imports boto3 at init; every step fails fast there, as nothing
  resolves in the namespace): the probe's cold start, without network waits;
- the same two for Node.js 20 on the real aws-lambda-ric (the Node probe imports
  @aws-sdk/client-s3 at init), when ``proxylab setup node`` has installed it.

Prints medians of wall time (what the lab pays per invocation), Init Duration and
Duration as the REPORT line states them.

    .venv/bin/python benchmarks/bench_runtime.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import proxylab.functions
from proxylab.labs.local import node
from proxylab.labs.local.function import NODE_PROBE_DIR
from proxylab.labs.local.invoker import InvocationSpec, run_invocation
from proxylab.vocab import Runtime

TRIVIAL = "def handler(event, context):\n    return {'ok': True}\n"
TRIVIAL_NODE = "export const handler = async () => ({ ok: true });\n"
PROBE_ENV = {"STEP_TIMEOUT": "1", "BUCKET_NAME": "proxylab-demo-bucket",
             "SOURCE_KEY": "input/data.csv", "WEB_URL": "https://www.google.com",
             "API_GATEWAY_URL": "https://q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com"
                                "/dev/data?id=111"}


def _measure(prefix: list[str], spec_factory, runs: int) -> dict[str, float]:
    walls, inits, durations = [], [], []
    for _ in range(runs):
        spec = spec_factory()
        t0 = time.perf_counter()
        inv = run_invocation(prefix, spec)
        walls.append((time.perf_counter() - t0) * 1000)
        if inv.status not in ("ok", "error"):
            raise RuntimeError(f"invocation failed: {inv.error}")
        inits.append(inv.init_duration_ms or 0.0)
        durations.append(inv.duration_ms or 0.0)
    return {
        "wall_median_ms": round(statistics.median(walls), 1),
        "wall_max_ms": round(max(walls), 1),
        "init_median_ms": round(statistics.median(inits), 1),
        "duration_median_ms": round(statistics.median(durations), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("bench_runtime needs root and iproute2 (network namespaces)", file=sys.stderr)
        return 1
    ns = f"rtb-{uuid.uuid4().hex[:8]}"
    etc = Path("/etc/netns") / ns
    task = Path(tempfile.mkdtemp(prefix="proxylab-bench-"))
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True, timeout=10)
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        (etc / "nsswitch.conf").write_text("hosts: files dns\n")
        (task / "trivial.py").write_text(TRIVIAL)
        prefix = ["ip", "netns", "exec", ns]
        probe_dir = str(Path(proxylab.functions.__file__).parent)
        runs = max(1, args.runs)
        result = {
            "benchmark": "runtime",
            "runs": runs,
            "trivial": _measure(prefix, lambda: InvocationSpec(
                handler="trivial.handler", task_root=str(task)), runs),
            "probe": _measure(prefix, lambda: InvocationSpec(
                handler="probe.handler", task_root=probe_dir, env=PROBE_ENV,
                timeout_s=20), runs),
        }
        try:
            nd = node.resolve(Runtime.NODEJS20).spec_fields()
            deps = str(node.installed_deps(NODE_PROBE_DIR / "package.json"))
        except node.NodeMissing as exc:
            print(f"bench_runtime: Node skipped: {exc}", file=sys.stderr)
        else:
            (task / "trivial.mjs").write_text(TRIVIAL_NODE)
            result["node_trivial"] = _measure(prefix, lambda: InvocationSpec(
                handler="trivial.handler", task_root=str(task / "trivial.mjs"), **nd), runs)
            result["node_probe"] = _measure(prefix, lambda: InvocationSpec(
                handler="index.handler", task_root=str(NODE_PROBE_DIR / "index.mjs"),
                env=PROBE_ENV, timeout_s=20, node_modules=deps, **nd), runs)
    finally:
        subprocess.run(["ip", "netns", "delete", ns], timeout=10)
        shutil.rmtree(etc, ignore_errors=True)
        shutil.rmtree(task, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        for name in ("trivial", "probe", "node_trivial", "node_probe"):
            if name not in result:
                continue
            r = result[name]
            print(f"cold invocation, {name:12s}: wall median {r['wall_median_ms']:.0f} ms "
                  f"(max {r['wall_max_ms']:.0f} ms), Init Duration median "
                  f"{r['init_median_ms']:.0f} ms, Duration median "
                  f"{r['duration_median_ms']:.0f} ms over {runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
