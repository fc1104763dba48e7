"""The host-classification rules as a table, for engines that are not this process.

Why a table: an audit run where the logs live (Athena, Spark, ClickHouse, DuckDB) can
only use our classification if it can *join* it. Each row says what a host name, or
every host under a suffix, is: AWS service, region, partition, flavour, and what the
audit recommends for it (the NO_PROXY entry, the VPC endpoint kind and service name,
the ``AWS_ENDPOINT_URL_*`` variable).

Nothing is decided here. Rows are enumerated from botocore's data, each one classified
by :func:`proxylab.awsdata.hostnames.classify` and run through
:func:`proxylab.audit.recommend.recommend` alone, so the table says what the in-process
audit says about that host. Two kinds of rows:

- ``exact``: every hostname botocore's ``endpoints.json`` spells out;
- ``suffix``: host shapes botocore cannot list (virtual-hosted S3 buckets, API Gateway
  invoke URLs, Lambda function URLs) per region of every partition, classified from a
  representative host under the suffix. A host matches the longest suffix it ends with;
  an exact row wins over any suffix.

Hosts under no row are not AWS as far as botocore knows (or of an AWS shape no rule
describes, e.g. endpoint-specific ``vpce`` names: the in-process audit still sees them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from proxylab.audit.recommend import HostTraffic, recommend, stay_reason
from proxylab.awsdata.hostnames import _partitions, _tables, classify

EXACT, SUFFIX = "exact", "suffix"

# Shapes under a region that botocore's endpoint data cannot enumerate: (suffix template,
# a label to put in front to get a representative host). {region}/{dns} are filled in.
_SUFFIX_SHAPES = (
    (".s3.{region}.{dns}", "bucket"),
    (".s3.dualstack.{region}.{dns}", "bucket"),
    (".s3-fips.{region}.{dns}", "bucket"),
    (".s3-accesspoint.{region}.{dns}", "accesspoint-123456789012"),
    (".execute-api.{region}.{dns}", "a1b2c3d4e5"),
    (".lambda-url.{region}.on.aws", "abcdefghijklmnopqrstuvwxyz012345"),
)

# The same, under a partition's DNS suffix with no region (legacy global S3 buckets).
_PARTITION_SHAPES = ((".s3.{dns}", "bucket"),)

COLUMNS = ("match", "pattern", "is_aws", "service", "region", "partition", "flavour",
           "fips", "dualstack", "no_proxy", "no_proxy_reason", "endpoint_kind",
           "endpoint_service", "endpoint_url_env", "botocore_version")
BOOL_COLUMNS = ("is_aws", "fips", "dualstack")


@dataclass(frozen=True)
class Rule:
    match: str  # exact | suffix
    pattern: str  # the host, or ".suffix" every matching host ends with
    is_aws: bool
    service: str | None
    region: str | None
    partition: str | None
    flavour: str  # HostInfo.label, as the audit's host table shows it
    fips: bool
    dualstack: bool
    no_proxy: str | None  # the NO_PROXY entry that covers the host; None: stays on proxy
    no_proxy_reason: str
    endpoint_kind: str | None  # gateway | interface | in-use
    endpoint_service: str | None  # e.g. com.amazonaws.eu-west-1.s3
    endpoint_url_env: str | None
    botocore_version: str


def botocore_version() -> str:
    import botocore

    return botocore.__version__


def _rule(match: str, pattern: str, host: str, version: str) -> Rule:
    info = classify(host)
    recs = recommend([HostTraffic(host, 1, 0, info)], check_botocore=False)
    entry = next((e for r in recs.regions for e in r.entries if host in e.hosts), None)
    ep = next((e for r in recs.regions for e in r.endpoints), None)
    return Rule(
        match, pattern, info.is_aws, info.service, info.region, info.partition,
        info.label if info.is_aws else info.flavour, info.fips, info.dualstack,
        entry.suffix if entry else None, entry.reason if entry else stay_reason(info),
        ep.kind if ep else None, ep.service_name if ep else None,
        ep.endpoint_url_env if ep else None, version)


@functools.lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    """Every rule, exact hosts first, each group sorted by pattern."""
    version = botocore_version()
    out = [_rule(EXACT, h, h, version) for h in sorted(_tables()["known"])]
    seen: set[str] = set(_tables()["known"])
    suffix_rules = []
    for p in _partitions():
        shapes = [(t.format(region=region, dns=p.dns_suffix), label)
                  for region in sorted(p.regions) for t, label in _SUFFIX_SHAPES]
        shapes += [(t.format(dns=p.dns_suffix), label) for t, label in _PARTITION_SHAPES]
        for sfx, label in shapes:
            if sfx in seen:
                continue
            seen.add(sfx)
            r = _rule(SUFFIX, sfx, label + sfx, version)
            if r.is_aws and r.service:  # a shape this region/partition really has
                suffix_rules.append(r)
    return (*out, *sorted(suffix_rules, key=lambda r: r.pattern))


def rules_frame():
    """The rules as a polars DataFrame (column order :data:`COLUMNS`)."""
    import polars as pl

    schema = {c: pl.String for c in COLUMNS}
    schema.update(dict.fromkeys(BOOL_COLUMNS, pl.Boolean))
    return pl.DataFrame([r.__dict__ for r in rules()], schema=schema)


def write_rules(path_or_buf, fmt: str) -> None:
    """Write the rules as ``parquet`` (botocore version also in the file's key/value
    metadata) or ``csv``."""
    df = rules_frame()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = df.to_arrow()
        meta = dict(table.schema.metadata or {})
        meta[b"proxylab.botocore_version"] = botocore_version().encode()
        pq.write_table(table.replace_schema_metadata(meta), path_or_buf)
    elif fmt == "csv":
        df.write_csv(path_or_buf)
    else:
        raise ValueError(f"unknown rules format {fmt!r} (parquet or csv)")
