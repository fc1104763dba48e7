"""Turn ingestion aggregates into the audit result and render it as table, JSON or CSV.

The aggregates are keyed on raw ``host:port`` tokens; here ports are split off,
every distinct host is classified once (:mod:`proxylab.awsdata.hostnames`), and the
tables users read are built: per host (requests, bytes, per-status and per-Squid-code
counts), per service and region, over time, and the recommendations. Tables are
kept as polars frames and offered as (Arrow-backed) pandas DataFrames on first use:
the CLI never imports pandas, which would cost it half a second of start-up.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from proxylab.audit.ingest import Aggregates
from proxylab.audit.recommend import HostTraffic, Recommendations, recommend
from proxylab.awsdata.hostnames import classify, split_hostport

_INFO_COLS = ["is_aws", "service", "region", "partition", "flavour", "fips", "dualstack",
              "bucket", "api_id", "url_id", "vpce_id"]


@dataclass
class AuditResult:
    """Everything ``proxylab audit`` reports, as plain tables.

    ``host_rows`` are plain dicts (statuses/squid_codes as dicts); the ``*_pl`` frames are
    polars; ``hosts``/``services``/``timeline``/``clients`` give pandas DataFrames.
    """

    summary: dict
    host_rows: list[dict]
    services_pl: pl.DataFrame
    timeline_pl: pl.DataFrame
    clients_pl: pl.DataFrame
    recommendations: Recommendations
    malformed_samples: list[dict] = field(default_factory=list)

    @property
    def hosts(self):
        import pandas as pd

        return pd.DataFrame(self.host_rows, columns=list(self.host_rows[0]) if self.host_rows
                            else ["host", "requests", "bytes"])

    @property
    def services(self):
        return self.services_pl.to_pandas(use_pyarrow_extension_array=True)

    @property
    def timeline(self):
        return self.timeline_pl.to_pandas(use_pyarrow_extension_array=True)

    @property
    def clients(self):
        return self.clients_pl.to_pandas(use_pyarrow_extension_array=True)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def _host_columns(hostports: list[str]) -> pl.DataFrame:
    rows = []
    for hp in hostports:
        host, port = split_hostport(hp)
        info = classify(host)
        row = {"hostport": hp, "host": host, "port": port}
        row.update({c: getattr(info, c, None) for c in _INFO_COLS})
        row["flavour"] = info.label if info.is_aws else info.flavour
        rows.append(row)
    schema = {"hostport": pl.String, "host": pl.String, "port": pl.Int64, "is_aws": pl.Boolean,
              "service": pl.String, "region": pl.String, "partition": pl.String,
              "flavour": pl.String, "fips": pl.Boolean, "dualstack": pl.Boolean,
              "bucket": pl.String, "api_id": pl.String, "url_id": pl.String,
              "vpce_id": pl.String}
    return pl.DataFrame(rows, schema=schema)


def build_result(agg: Aggregates, check_botocore: bool = True) -> AuditResult:
    req = agg.by_request.with_columns(
        pl.col("cs").str.split_exact("/", 1).struct.field("field_0").alias("squid_code"),
        pl.col("cs").str.split_exact("/", 1).struct.field("field_1").alias("status"),
    )
    hp = _host_columns(req["hostport"].unique().sort().to_list())
    req = req.join(hp.select("hostport", "host", "port"), on="hostport", how="left")
    info = hp.drop("hostport", "port").unique("host")
    status_counts = (
        req.group_by("host", "status").agg(pl.col("requests").sum())
        .sort("status").group_by("host", maintain_order=True)
        .agg(pl.struct("status", "requests").alias("statuses"))
    )
    code_counts = (
        req.group_by("host", "squid_code").agg(pl.col("requests").sum())
        .sort("squid_code").group_by("host", maintain_order=True)
        .agg(pl.struct("squid_code", "requests").alias("squid_codes"))
    )
    hosts = (
        req.group_by("host").agg(
            pl.col("requests").sum(), pl.col("bytes").sum(),
            pl.col("port").drop_nulls().unique().sort().alias("ports"),
            pl.col("method").unique().sort().alias("methods"),
            pl.col("first").min().alias("first_ts"), pl.col("last").max().alias("last_ts"),
        )
        .join(status_counts, on="host", how="left")
        .join(code_counts, on="host", how="left")
        .join(info, on="host", how="left")
        .sort(["requests", "host"], descending=[True, False])
    )
    host_rows = hosts.to_dicts()
    for r in host_rows:
        r["statuses"] = {d["status"]: int(d["requests"]) for d in r["statuses"] or []}
        r["squid_codes"] = {d["squid_code"]: int(d["requests"]) for d in r["squid_codes"] or []}
        r["ports"] = [int(p) for p in r["ports"] or []]
        r["methods"] = list(r["methods"] or [])

    svc_key = pl.when(pl.col("is_aws")).then(pl.col("service").fill_null("(aws, unknown)"))
    services = (
        hosts.with_columns(svc_key.otherwise(pl.lit("(non-AWS)")).alias("service"))
        .group_by("service", "region", "partition")
        .agg(pl.col("requests").sum(), pl.col("bytes").sum(), pl.len().alias("hosts"))
        .sort(["requests", "service"], descending=[True, False])
    )
    tl = agg.by_time.join(hp.select("hostport", "host", "is_aws", "service", "region"),
                          on="hostport", how="left")
    timeline = (
        tl.with_columns(svc_key.otherwise(pl.lit("(non-AWS)")).alias("service"))
        .group_by("bucket", "service", "region")
        .agg(pl.col("requests").sum(), pl.col("bytes").sum())
        .sort(["bucket", "service", "region"])
        .with_columns(pl.from_epoch("bucket", time_unit="s").dt.replace_time_zone("UTC")
                      .alias("time"))
    )
    traffic = [
        HostTraffic(r["host"], int(r["requests"]), int(r["bytes"]), classify(r["host"]),
                    tuple(r["ports"]))
        for r in host_rows
    ]
    recs = recommend(traffic, check_botocore=check_botocore)
    first = hosts["first_ts"].min() if hosts.height else None
    last = hosts["last_ts"].max() if hosts.height else None
    aws = hosts.filter(pl.col("is_aws"))
    summary = {
        "lines": agg.lines, "parsed": agg.parsed, "malformed": agg.malformed,
        "filtered_out": agg.filtered,
        "requests": int(hosts["requests"].sum()), "bytes": int(hosts["bytes"].sum()),
        "aws_requests": int(aws["requests"].sum()), "aws_bytes": int(aws["bytes"].sum()),
        "hosts": hosts.height, "aws_hosts": aws.height,
        "first_seen": _iso(first), "last_seen": _iso(last),
        "bucket_seconds": agg.bucket_seconds,
        "sources": [dataclasses.asdict(s) for s in agg.sources],
    }
    return AuditResult(
        summary=summary,
        host_rows=host_rows,
        services_pl=services,
        timeline_pl=timeline,
        clients_pl=agg.by_client,
        recommendations=recs,
        malformed_samples=[dataclasses.asdict(s) for s in agg.samples],
    )


# ---------------------------------------------------------------- rendering


def _host_record(r: dict) -> dict:
    out = {k: v for k, v in r.items() if k not in ("first_ts", "last_ts")}
    out["first_seen"] = _iso(r["first_ts"])
    out["last_seen"] = _iso(r["last_ts"])
    return out


def to_json_obj(res: AuditResult) -> dict:
    timeline = res.timeline_pl.drop("time").to_dicts()
    for t in timeline:
        t["time"] = _iso(float(t["bucket"]))
    return {
        "summary": res.summary,
        "hosts": [_host_record(r) for r in res.host_rows],
        "services": res.services_pl.to_dicts(),
        "clients": res.clients_pl.to_dicts(),
        "timeline": timeline,
        "recommendations": dataclasses.asdict(res.recommendations),
        "malformed_samples": res.malformed_samples,
    }


def render_json(res: AuditResult) -> str:
    return json.dumps(to_json_obj(res), indent=2, default=str) + "\n"


CSV_TABLES = ("hosts", "services", "timeline", "clients", "no_proxy", "endpoints")


def render_csv(res: AuditResult, table: str = "hosts") -> str:
    buf = io.StringIO()
    if table == "hosts":
        rows = [_host_record(r) for r in res.host_rows]
        for r in rows:
            for col in ("statuses", "squid_codes"):
                r[col] = ";".join(f"{k}:{n}" for k, n in r[col].items())
            for col in ("ports", "methods"):
                r[col] = ";".join(map(str, r[col]))
        cols = list(rows[0]) if rows else ["host", "requests", "bytes"]
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    elif table in ("services", "timeline", "clients"):
        getattr(res, f"{table}_pl").write_csv(buf)
    elif table == "no_proxy":
        w = csv.writer(buf)
        w.writerow(["region", "suffix", "service", "requests", "bytes", "hosts", "reason"])
        for r in res.recommendations.regions:
            for e in r.entries:
                w.writerow([r.region, e.suffix, e.service, e.requests, e.bytes, len(e.hosts),
                            e.reason])
    elif table == "endpoints":
        w = csv.writer(buf)
        w.writerow(["region", "service", "kind", "service_name", "private_dns",
                    "endpoint_url_env", "endpoint_url_required", "requests", "bytes", "notes"])
        for r in res.recommendations.regions:
            for e in r.endpoints:
                w.writerow([r.region, e.service, e.kind, e.service_name, e.private_dns,
                            e.endpoint_url_env or "", e.endpoint_url_required, e.requests,
                            e.bytes, "; ".join(e.notes)])
    else:
        raise ValueError(f"unknown CSV table {table!r}; one of {', '.join(CSV_TABLES)}")
    return buf.getvalue()


def _isatty() -> bool:
    import sys

    return sys.stdout.isatty()


def _txt(v) -> str:
    """Cell text: None/NaN/NA as empty."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _copyable(con, text: str) -> None:
    """A line a user copies (``NO_PROXY=...``, an ``AWS_ENDPOINT_URL_*`` note) on one line
    whatever the console's width: rich would wrap it at 200 columns when piped, breaking
    a hostname in two; no markup, no highlighting, so the text is exactly the value."""
    con.print(text, soft_wrap=True, markup=False, highlight=False)


def _whole(column: str, hosts: list[str]) -> dict:
    """A host column is never folded: the other columns give way instead."""
    if column != "host":
        return {}
    return {"no_wrap": True, "min_width": max((len(h) for h in hosts), default=4)}


def render_env(res: AuditResult) -> str:
    """The recommendation as lines a shell (or a Lambda/CloudFormation environment
    block) takes as they are: ``NO_PROXY=...`` whole on one line, what it is for as
    ``#`` comments. One region: its value; several: the value covering them all, each
    region's own value in a comment (for VPCs that reach only that region's endpoints)."""
    recs = res.recommendations
    if not recs.regions:
        return "# proxylab audit: no AWS traffic through the proxy; nothing to set\n"
    lines = []
    for reg in recs.regions:
        lines.append(f"# {reg.region} ({reg.partition}): {reg.requests:,} requests / "
                     f"{human_bytes(reg.bytes)} off the proxy with its VPC endpoints: "
                     + ", ".join(e.service_name for e in reg.endpoints))
        if len(recs.regions) > 1:
            lines.append(f"#   this region alone: NO_PROXY={reg.no_proxy}")
        for e in reg.endpoints:
            if e.endpoint_url_env:
                lines.append(f"#   {e.endpoint_url_env}: {e.endpoint_url_required}")
    value = recs.no_proxy_all if len(recs.regions) > 1 else recs.regions[0].no_proxy
    lines.append(f"NO_PROXY={value}")
    return "\n".join(lines) + "\n"


def render_table(res: AuditResult, top: int = 25, console=None) -> None:
    """Human-readable report on a rich console (plain text when not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console(width=None if _isatty() else 200)
    s = res.summary
    con.print(
        f"[bold]proxylab audit[/bold]: {s['lines']:,} lines, {s['parsed']:,} parsed, "
        f"{s['malformed']:,} malformed, {s['filtered_out']:,} filtered out; "
        f"{s['first_seen']} .. {s['last_seen']}"
    )
    con.print(
        f"through the proxy: {s['requests']:,} requests / {human_bytes(s['bytes'])}, of which "
        f"AWS {s['aws_requests']:,} / {human_bytes(s['aws_bytes'])} ({s['aws_hosts']} hosts)"
    )
    for src in s["sources"]:
        if src["error"] or src["malformed"]:
            con.print(f"  {src['name']}: {src['malformed']:,} malformed of {src['lines']:,}"
                      + (f"; stream error: {src['error']}" if src["error"] else ""))
    t = Table(title=f"Top {top} hosts through the proxy", show_lines=False)
    for c in ("host", "service", "region", "flavour", "requests", "bytes", "statuses"):
        t.add_column(c, justify="right" if c in ("requests", "bytes") else "left",
                     **_whole(c, [r["host"] for r in res.host_rows[:top]]))
    for r in res.host_rows[:top]:
        st = " ".join(f"{k}:{n}" for k, n in r["statuses"].items())
        t.add_row(r["host"], _txt(r["service"]), _txt(r["region"]), _txt(r["flavour"]),
                  f"{r['requests']:,}", human_bytes(r["bytes"]), st)
    con.print(t)
    t = Table(title="By service and region")
    for c in ("service", "region", "partition", "hosts", "requests", "bytes"):
        t.add_column(c, justify="right" if c in ("hosts", "requests", "bytes") else "left")
    for r in res.services_pl.head(top).to_dicts():
        t.add_row(_txt(r["service"]), _txt(r["region"]), _txt(r["partition"]),
                  str(r["hosts"]), f"{r['requests']:,}", human_bytes(r["bytes"]))
    con.print(t)
    recs = res.recommendations
    for reg in recs.regions:
        con.print(f"\n[bold]Region {reg.region}[/bold] ({reg.partition}): moving this traffic "
                  f"off the proxy saves {reg.requests:,} requests / {human_bytes(reg.bytes)}")
        _copyable(con, f"  NO_PROXY={reg.no_proxy}")
        t = Table(show_header=True)
        for c in ("VPC endpoint", "kind", "AWS_ENDPOINT_URL_*", "needed?", "requests", "bytes"):
            t.add_column(c, justify="right" if c in ("requests", "bytes") else "left")
        for e in reg.endpoints:
            t.add_row(e.service_name, e.kind + (" + private DNS" if e.private_dns else ""),
                      e.endpoint_url_env or "-", e.endpoint_url_required,
                      f"{e.requests:,}", human_bytes(e.bytes))
        con.print(t)
        for e in reg.endpoints:
            for n in e.notes:
                _copyable(con, f"  note ({e.service}): {n}")
    if recs.regions:
        con.print("\nAll regions (VPCs that reach every region's endpoints):")
        _copyable(con, f"  NO_PROXY={recs.no_proxy_all}")
    if recs.stay_on_proxy:
        t = Table(title="Stays on the proxy")
        for c in ("host", "requests", "bytes", "why"):
            t.add_column(c, justify="right" if c in ("requests", "bytes") else "left")
        t.columns[0].no_wrap = True
        t.columns[0].min_width = max((len(x.host) for x in recs.stay_on_proxy[:top]), default=4)
        for x in recs.stay_on_proxy[:top]:
            t.add_row(x.host, f"{x.requests:,}", human_bytes(x.bytes), x.reason)
        con.print(t)
    if res.malformed_samples:
        con.print("\nmalformed line samples:")
        for m in res.malformed_samples[:5]:
            con.print(f"  {m['source']}: {m['line']!r}", markup=False)
