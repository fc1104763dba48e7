"""Bring-up and tear-down time of the local lab (issue 2: aim for up < 5 s, down < 2 s
on a 2-core machine; issue 13: up with Squid 6 ≈ 1.5 s once its root exists), and
the cost of switching Squid policy on a running lab. Prints medians of N cycles,
per Squid version.

    .venv/bin/python benchmarks/bench_lab.py [--cycles 5] [--squid 5 6] [--region R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from proxylab.labs import EndpointLayout, get_lab
from proxylab.labs.proxy_policy import ProxyPolicy


def cycles(squid: str, n: int, region: str | None = None) -> dict[str, object]:
    lab = get_lab("local", name="bench", **({"region": region} if region else {}))
    lab.down()
    layout = EndpointLayout(proxy=ProxyPolicy(squid=squid))
    policy = EndpointLayout(proxy=ProxyPolicy(squid=squid, allow_domains=(".example.com",)))
    ups, downs, switches = [], [], []
    for _ in range(max(1, n)):
        t0 = time.perf_counter()
        lab.up(layout)
        ups.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        lab.apply(policy)  # a scenario with another proxy policy: Squid restarts
        switches.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        left = lab.down()
        downs.append(time.perf_counter() - t0)
        if left:
            raise SystemExit(f"down left: {left}")
    return {
        "benchmark": "lab",
        "squid": squid,
        "region": lab.region,
        "squid_version": lab.describe().resources.get("squid_version"),
        "cycles": len(ups),
        "up_median_s": round(statistics.median(ups), 3),
        "up_max_s": round(max(ups), 3),
        "policy_switch_median_s": round(statistics.median(switches), 3),
        "down_median_s": round(statistics.median(downs), 3),
        "down_max_s": round(max(downs), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--squid", nargs="+", default=["5", "6"], choices=["5", "6"])
    parser.add_argument("--region", default=None, help="the lab's region (default: its own)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for squid in args.squid:
        result = cycles(squid, args.cycles, args.region)
        if args.json:
            print(json.dumps(result))
            continue
        print(
            f"Squid {squid}: lab up median {result['up_median_s']:.2f} s "
            f"(max {result['up_max_s']:.2f} s), policy switch "
            f"{result['policy_switch_median_s']:.2f} s, down {result['down_median_s']:.2f} s "
            f"(max {result['down_max_s']:.2f} s) over {result['cycles']} cycles"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
