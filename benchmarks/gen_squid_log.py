"""Generate a realistic Squid native access log for benchmarks.

Usage: python benchmarks/gen_squid_log.py OUT [--lines N] [--seed S] [--malformed-ratio R]
       [--span-days D] [--extra-hosts N] [--clients N] [--http-ratio R]

Zipf-skewed popularity over ~250 hosts (AWS endpoints of every flavour plus non-AWS
sites and a long tail of buckets/API ids), elapsed-time padding widths 1-8, ~3%
failures (TCP_TUNNEL/503 HIER_NONE, NONE_NONE/000, TCP_DENIED/403, 502), ~8% plain
HTTP requests with full URLs, 4 clients (the options widen it: issue 16's shape is
``--extra-hosts 1950 --clients 400 --http-ratio 0.12``). About 130 bytes a line: 1M
lines ~ 130 MB. ``OUT`` ending in .gz is gzip-compressed. The generator lives in
proxylab.audit.synth so the tests use the very same shapes on small logs.
"""

from __future__ import annotations

import argparse
import sys
import time

from proxylab.audit.synth import SynthOptions, write_log


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--malformed-ratio", type=float, default=0.0005)
    ap.add_argument("--span-days", type=float, default=None,
                    help="spread the lines over this many days (default: 0.05 s apart, "
                    "1M lines ~ 14 hours)")
    ap.add_argument("--extra-hosts", type=int, default=SynthOptions.extra_hosts,
                    help="long tail of distinct hosts beyond the ~50 known ones")
    ap.add_argument("--clients", type=int, default=0,
                    help="distinct client addresses (default: 4)")
    ap.add_argument("--http-ratio", type=float, default=SynthOptions.http_ratio,
                    help="share of plain-HTTP requests (full URLs)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    spl = SynthOptions.seconds_per_line if args.span_days is None else (
        args.span_days * 86400 / max(1, args.lines))
    size = write_log(args.out, SynthOptions(lines=args.lines, seed=args.seed,
                                            malformed_ratio=args.malformed_ratio,
                                            seconds_per_line=spl,
                                            extra_hosts=args.extra_hosts,
                                            clients=args.clients,
                                            http_ratio=args.http_ratio))
    print(f"{args.out}: {args.lines:,} lines, {size / 1e6:.0f} MB uncompressed, "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
