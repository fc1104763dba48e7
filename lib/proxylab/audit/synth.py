"""Synthetic Squid access logs for tests and benchmarks.

Real production logs cannot be shipped, so the audit engine is exercised on logs
generated here: many hosts with Zipf-skewed popularity (a few AWS endpoints carry
most requests, as in real proxies), every hostname flavour the classifier knows,
padding widths 1-8 for the elapsed-time column, failures (``TCP_TUNNEL/503 ...
HIER_NONE/-``, ``NONE_NONE/000``) and optional malformed lines. Generation is
seeded, so a test can regenerate the same file.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

AWS_HOSTS: tuple[str, ...] = (
    "proxylab-demo-bucket.s3.ap-northeast-1.amazonaws.com",
    "s3.ap-northeast-1.amazonaws.com",
    "s3.amazonaws.com",
    "logs-archive.s3.amazonaws.com",
    "data-lake.s3.us-east-1.amazonaws.com",
    "reports.s3.dualstack.eu-west-1.amazonaws.com",
    "s3-fips.us-gov-west-1.amazonaws.com",
    "dynamodb.ap-northeast-1.amazonaws.com",
    "dynamodb.us-east-1.amazonaws.com",
    "sts.amazonaws.com",
    "sts.ap-northeast-1.amazonaws.com",
    "iam.amazonaws.com",
    "sqs.ap-northeast-1.amazonaws.com",
    "sns.eu-west-1.amazonaws.com",
    "secretsmanager.ap-northeast-1.amazonaws.com",
    "kms-fips.us-east-1.amazonaws.com",
    "logs.ap-northeast-1.amazonaws.com",
    "monitoring.ap-northeast-1.amazonaws.com",
    "lambda.ap-northeast-1.amazonaws.com",
    "q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com",
    "p4v9t3n6zd.execute-api.ap-northeast-1.amazonaws.com",
    "apigateway.ap-northeast-1.amazonaws.com",
    "abcdefghijklmnopqrstuvwxyz012345.lambda-url.ap-northeast-1.on.aws",
    "ec2.cn-north-1.amazonaws.com.cn",
    "cn-bucket.s3.cn-north-1.amazonaws.com.cn",
    "dynamodb.us-gov-west-1.amazonaws.com",
    "ssm.eu-central-1.amazonaws.com",
    "vpce-0a1b2c3d4e5f67890-abcdefgh.execute-api.ap-northeast-1.vpce.amazonaws.com",
    "bucket.vpce-0f9e8d7c6b5a43210-12345678.s3.ap-northeast-1.vpce.amazonaws.com",
    "sqs.us-west-2.api.aws",
)
OTHER_HOSTS: tuple[str, ...] = (
    "www.google.com",
    "pypi.org",
    "files.pythonhosted.org",
    "api.github.com",
    "registry.npmjs.org",
    "example.com",
    "login.microsoftonline.com",
    "hooks.slack.com",
    "10.2.3.4",
    "amazonaws.com.evil.example",
)
SQUID_FAILS = (
    ("TCP_TUNNEL", 503, "HIER_NONE", "-"),
    ("TCP_MISS", 502, "HIER_DIRECT", None),
    ("NONE_NONE", 0, "HIER_NONE", "-"),
    ("TCP_DENIED", 403, "HIER_NONE", "-"),
)
CLIENTS = ("10.1.143.211", "10.1.143.212", "10.1.7.20", "10.9.0.5")


@dataclass(frozen=True)
class SynthOptions:
    """What to generate; defaults give a realistic production-like mix."""

    lines: int = 1000
    seed: int = 1
    start: float = 1748149505.0
    seconds_per_line: float = 0.05
    fail_ratio: float = 0.03
    http_ratio: float = 0.08
    malformed_ratio: float = 0.0
    extra_hosts: int = 200  # long tail of distinct hosts (bucket names, API ids)
    clients: int = 0  # 0: the four CLIENTS; else this many generated addresses


def host_pool(opts: SynthOptions) -> list[str]:
    """Known hosts plus a long tail of generated buckets/API ids, in popularity order."""
    rnd = random.Random(opts.seed)
    pool = list(AWS_HOSTS[:4]) + [OTHER_HOSTS[0]] + list(AWS_HOSTS[4:]) + list(OTHER_HOSTS[1:])
    regions = ("ap-northeast-1", "us-east-1", "eu-west-1", "us-west-2")
    for i in range(opts.extra_hosts):
        region = regions[i % len(regions)]
        kind = i % 4
        if kind == 0:
            pool.append(f"tenant-{i}.s3.{region}.amazonaws.com")
        elif kind == 1:
            api = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
            pool.append(f"{api}.execute-api.{region}.amazonaws.com")
        elif kind == 2:
            pool.append(f"cdn{i}.example.net")
        else:
            pool.append(f"svc{i}.internal.example.org")
    return pool


def _weights(n: int) -> list[float]:
    return [1.0 / (rank + 1) ** 1.1 for rank in range(n)]


def iter_lines(opts: SynthOptions) -> Iterator[str]:
    """Yield native-format lines (with trailing newline), seeded and reproducible."""
    rnd = random.Random(opts.seed)
    pool = host_pool(opts)
    clients = CLIENTS if not opts.clients else tuple(
        f"10.{20 + i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(opts.clients))
    hosts = rnd.choices(pool, weights=_weights(len(pool)), k=opts.lines)
    t = opts.start
    for host in hosts:
        t += rnd.random() * 2 * opts.seconds_per_line
        r = rnd.random()
        if r < opts.malformed_ratio:
            yield rnd.choice(_MALFORMED)
            continue
        width = rnd.randint(1, 8)
        elapsed = str(rnd.randint(0, 5000)).rjust(width)
        client = clients[int(rnd.random() ** 3 * len(clients))]
        if rnd.random() < opts.fail_ratio:
            code, status, hier, peer = rnd.choice(SQUID_FAILS)
            nbytes = 0 if status in (503, 0) else rnd.randint(100, 4000)
        else:
            code, status, hier, peer = "TCP_TUNNEL", 200, "HIER_DIRECT", None
            nbytes = int(rnd.paretovariate(1.2) * 2000)
        peer = peer or f"198.18.{rnd.randint(0, 63)}.{rnd.randint(1, 254)}"
        if rnd.random() < opts.http_ratio:
            method = rnd.choice(("GET", "GET", "POST", "PUT", "HEAD"))
            if code == "TCP_TUNNEL":
                code = "TCP_MISS"
            url = f"http://{host}/obj/{rnd.randint(0, 10**9)}?x={rnd.randint(0, 999)}"
            ctype = "application/json" if method != "HEAD" else "-"
        else:
            method, url, ctype = "CONNECT", f"{host}:443", "-"
        yield (
            f"{t:.3f} {elapsed} {client} {code}/{status:03d} {nbytes} {method} {url} - "
            f"{hier}/{peer} {ctype}\n"
        )


_MALFORMED = (
    "this is not a squid line\n",
    "1748149505.823 garbage\n",
    "\n",
    "1748149505.823    135 10.1.143.211 TCP_TUNNEL/2xx 19 CONNECT h:443 - HIER_NONE/- -\n",
)


def write_log(path: str, opts: SynthOptions) -> int:
    """Write a log (gzip when path ends in .gz); return the number of bytes written."""
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    size = 0
    with opener(path, "wt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        buf: list[str] = []
        for line in iter_lines(opts):
            buf.append(line)
            if len(buf) >= 50000:
                chunk = "".join(buf)
                size += len(chunk)
                fh.write(chunk)
                buf.clear()
        chunk = "".join(buf)
        size += len(chunk)
        fh.write(chunk)
    return size
