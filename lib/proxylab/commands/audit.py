"""`proxylab audit`: which AWS traffic still crosses the proxy, from Squid access logs.

Reads native/common/combined Squid logs (plain or gzip, files, directories, globs,
``-`` for stdin), aggregates them in bounded memory, classifies destination hosts
with botocore's endpoint data and prints per-region NO_PROXY values and VPC
endpoints. Exits non-zero only when nothing at all could be parsed, so one bad
rotated file does not hide the rest.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import sys
import threading

from proxylab.audit.options import default_processes
from proxylab.audit.options import parse_time as _parse_time
from proxylab.errors import UserError

PROGRESS_MIN_BYTES = 64 << 20  # show a progress bar from this much input on


class _AuditParser(argparse.ArgumentParser):
    """``proxylab audit PATH...``, and ``proxylab audit rules|sql ...`` beside it.

    The audit's paths are positional, so real sub-parsers would make every path a
    would-be command; instead the first word picks :data:`_SUBCOMMANDS`' parser
    (a log file literally named ``rules`` or ``sql`` is still ``./rules``)."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        args = list(sys.argv[1:] if args is None else args)
        if args and args[0] in _SUBCOMMANDS:
            return _SUBCOMMANDS[args[0]]().parse_known_args(args[1:], namespace)
        return super().parse_known_args(args, namespace)


def _rules_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="proxylab audit rules",
        description="Export the host-classification rules derived from botocore's data "
        "(exact hosts and suffixes -> service, region, partition, flavour, NO_PROXY entry, "
        "VPC endpoint), for joining in Athena/Spark/ClickHouse/DuckDB. Each row carries the "
        "botocore version; parquet files also hold it as metadata.")
    p.add_argument("--format", choices=("parquet", "csv"), default="csv")
    p.add_argument("--out", metavar="FILE",
                   help="write here (default: standard output; parquet needs --out)")
    p.set_defaults(func=run_rules)
    return p


def _sql_parser() -> argparse.ArgumentParser:
    from proxylab.audit.sql import ENGINES

    p = argparse.ArgumentParser(
        prog="proxylab audit sql",
        description="Print the SQL that audits Squid native access logs where they live: "
        "a table over LOC, the rules table, and the queries giving the same aggregates as "
        "`proxylab audit --format json` (per host:port/method/status, per time bucket, per "
        "client, line counts; malformed lines counted) plus a per-host table joined with "
        "the rules.")
    p.add_argument("--engine", choices=ENGINES, default="duckdb")
    p.add_argument("--location", required=True, metavar="LOC",
                   help="the logs: a path or glob (plain or gzip), an s3:// prefix, ...")
    p.add_argument("--rules", default="proxylab-rules.parquet", metavar="LOC",
                   help="where `proxylab audit rules --format parquet` was put")
    p.add_argument("--bucket", type=int, default=3600, metavar="SECONDS",
                   help="time-series bucket for the timeline (default 3600)")
    p.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    p.set_defaults(func=run_sql)
    return p


_SUBCOMMANDS = {"rules": _rules_parser, "sql": _sql_parser}


def run_rules(args: argparse.Namespace) -> int:
    from proxylab.audit.rules import write_rules

    if args.out:
        write_rules(args.out, args.format)
    elif args.format == "parquet":
        raise UserError("parquet is binary: pass --out FILE (or use --format csv)")
    else:
        import io

        buf = io.StringIO()
        write_rules(buf, "csv")
        sys.stdout.write(buf.getvalue())
    return 0


def run_sql(args: argparse.Namespace) -> int:
    from proxylab.audit.sql import script

    try:
        text = script(args.engine, args.location, args.rules, max(1, args.bucket))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser_class = sub._parser_class
    sub._parser_class = _AuditParser
    try:
        _register(sub)
    finally:
        sub._parser_class = parser_class


def _register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="audit Squid access logs: AWS traffic through the proxy, NO_PROXY and endpoints",
        description=(
            "Which AWS services still go through the proxy, how much, and which NO_PROXY "
            "value / VPC endpoints would move them off it."
        ),
        epilog="also: `proxylab audit rules --help` (the classification rules as data) and "
        "`proxylab audit sql --help` (the same audit as SQL for DuckDB, Athena, ClickHouse, "
        "Spark)",
    )
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="log file (plain or gzip), directory, glob, or - for stdin; for a "
                   "cluster/server engine, a location it reads (s3://, hdfs://, ...)")
    p.add_argument("--since", type=parse_time, help="only lines at/after this time "
                   "(ISO 8601, e.g. 2025-05-25T05:00Z, or epoch seconds)")
    p.add_argument("--until", type=parse_time, help="only lines before this time")
    p.add_argument("--client-cidr", action="append", default=[], type=parse_cidr,
                   metavar="CIDR", help="only requests from these client networks (repeatable)")
    p.add_argument("--format", choices=("table", "json", "csv", "env"), default="table",
                   help="table (default), json, csv (--csv-table), or env: the NO_PROXY line "
                        "to set, whole on one line, with what it is for as # comments")
    p.add_argument("--csv-table", default="hosts",
                   choices=("hosts", "services", "timeline", "clients", "no_proxy", "endpoints"),
                   help="which table --format csv prints (default: hosts)")
    p.add_argument("--log-format", choices=("auto", "native", "common", "combined"),
                   default="auto", help="Squid logformat (default: detected per file)")
    _engine_arguments(p)
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes for a large (>= 64 MiB) plain file: default 2 when two "
                   "CPUs are usable, else 1; each adds ~130 MB peak RSS")
    p.add_argument("--bucket", type=int, default=None, metavar="SECONDS",
                   help="time-series bucket for the timeline (default: an hour, or 6 hours, "
                   "a day, a week when the logs fill more than 1,500 of them; the JSON's "
                   "summary.bucket_seconds says which)")
    p.add_argument("--top", type=int, default=25, help="rows per table in --format table")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    p.add_argument("--report", metavar="DIR", help="also execute notebooks/05-audit.ipynb on "
                   "these aggregates (papermill; saved as DIR/aggregates.json) and render "
                   "DIR/audit.html and DIR/audit.md")
    p.add_argument("--prove", action="store_true",
                   help="run clients in the local lab with the recommended NO_PROXY and "
                   "endpoints against the audited hosts it serves, and predict the rest by "
                   "the clients' rules (see `proxylab clients`)")
    p.add_argument("--prove-client", action="extend", nargs="+", metavar="NAME",
                   help="the clients --prove runs (default: the Python, curl, Go, SDK and "
                   "JDK ones)")
    p.add_argument("--keep-lab", action="store_true", help="--prove: leave the lab up")
    p.set_defaults(func=run)


def _engine_arguments(p: argparse.ArgumentParser) -> None:
    from proxylab.audit.engines import DEFAULT

    # no argparse choices: an unknown name is told apart (with a did-you-mean and the
    # installed engines' names) by get_engine, which reads entry points only then
    p.add_argument("--engine", default=DEFAULT, metavar="NAME",
                   help=f"where the logs are read (default: {DEFAULT}): c (in-process, "
                   "compiled reader of the native logformat; least CPU and memory; the "
                   "other formats and --client-cidr go to polars), polars (in-process), "
                   "arrow (in-process, multi-threaded reader), duckdb / chdb "
                   "(the generated SQL in-process: DuckDB, ClickHouse's engine), spark "
                   "(local mode with a JDK, or a cluster: SPARK_REMOTE / --spark-master), "
                   "clickhouse (a ClickHouse server: --clickhouse-url)")
    p.add_argument("--spark-master", metavar="URL",
                   help="spark.master for --engine spark (default: Spark's own settings, "
                   "else local[*]); SPARK_REMOTE selects Spark Connect instead")
    p.add_argument("--clickhouse-url", metavar="URL",
                   help="ClickHouse HTTP interface for --engine clickhouse "
                   "(default: $CLICKHOUSE_URL), e.g. http://localhost:8123")
    p.add_argument("--clickhouse-timeout", type=float, metavar="SECONDS",
                   help="timeout of each ClickHouse request (default 600)")
    p.add_argument("--save-aggregates", metavar="FILE",
                   help="also write the aggregates (JSON, .gz compresses) for a later "
                   "--from-aggregates or the notebook's aggregates parameter")
    p.add_argument("--from-aggregates", metavar="FILE",
                   help="report on aggregates written by any engine (--save-aggregates), or "
                   "on a directory of `proxylab audit sql` query results (NAME.csv/.parquet)")


def engine_for(args: argparse.Namespace):
    from proxylab.audit.engines import get_engine

    return get_engine(args.engine).configure(
        spark_master=args.spark_master, clickhouse_url=args.clickhouse_url,
        clickhouse_timeout=args.clickhouse_timeout)


def aggregates_for(args: argparse.Namespace):
    """The aggregates from a file, or from a non-default engine."""
    from proxylab.audit import aggfile
    from proxylab.audit.engines import run_engine
    from proxylab.audit.options import IngestOptions

    # The SQL engines and aggregate files fold by a fixed bucket: --bucket, else an hour
    # (the in-process engine alone picks one from the log's span).
    bucket = max(1, args.bucket or 3600)
    if args.from_aggregates:
        return aggfile.read(args.from_aggregates, bucket)
    opts = IngestOptions(since=args.since, until=args.until,
                         client_cidrs=tuple(args.client_cidr),
                         bucket_seconds=bucket, log_format=args.log_format)
    return run_engine(engine_for(args), list(args.paths), opts)


def parse_time(value: str) -> float:
    """:func:`proxylab.audit.options.parse_time`, its error as argparse's."""
    try:
        return _parse_time(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_cidr(value: str):
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a CIDR (e.g. 10.1.0.0/16)") from exc


def run(args: argparse.Namespace) -> int:
    # The objects an audit builds (botocore's endpoint data, host tables) are acyclic and
    # live to the end, so the cyclic collector only costs time (~70 ms): paused meanwhile.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_paths(args)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_paths(args: argparse.Namespace) -> int:
    from proxylab.audit import parallel
    from proxylab.audit.options import IngestOptions
    from proxylab.audit.sources import expand_paths

    if bool(args.paths) == bool(args.from_aggregates):
        raise UserError("give the logs to audit (PATH...) or --from-aggregates FILE, "
                        "not both" if args.paths else "no input: give log paths, or "
                        "--from-aggregates FILE (written by --save-aggregates)")
    if args.from_aggregates and (args.since is not None or args.until is not None
                                 or args.client_cidr):
        raise UserError("--since/--until/--client-cidr filter lines as they are read; "
                        "aggregates from --from-aggregates are already reduced: filter "
                        "when making them")
    if args.from_aggregates or not engine_for(args).in_process:
        return _report(args, aggregates_for(args))
    engine_for(args).require()
    sources = expand_paths(args.paths)
    processes = default_processes() if args.jobs is None else max(1, args.jobs)
    if (any(parallel.splittable(s, processes) for s in sources)
            or parallel.files_in_processes(sources, IngestOptions(processes=processes))):
        # Workers start importing now, alongside this process (polars not loaded yet),
        # and every process runs polars on one thread: the processes fill the cores.
        # (When polars is already loaded, as in a notebook, the setting is moot there.)
        parallel.prestart(processes - 1)
        for k, v in parallel.PROCESS_ENV.items():
            os.environ.setdefault(k, v)
    try:
        return _run(args, sources, processes)
    finally:
        parallel.release_prestarted()


def _run(args: argparse.Namespace, sources, processes: int) -> int:
    from proxylab.audit.ingest import IngestOptions, ingest

    opts = IngestOptions(
        since=args.since, until=args.until, client_cidrs=tuple(args.client_cidr),
        bucket_seconds=max(1, args.bucket or 3600), bucket_auto=args.bucket is None,
        log_format=args.log_format, engine=args.engine,
        processes=processes,
    )
    # the classification's tables load while the logs are read (the compiled reader
    # scans without the GIL): ~30 ms off a small audit's wall time
    from proxylab.awsdata.hostnames import preload

    warm = threading.Thread(target=preload, name="audit-preload", daemon=True)
    warm.start()
    total = sum(s.size or 0 for s in sources)
    show = (not args.no_progress and total >= PROGRESS_MIN_BYTES and sys.stderr.isatty())
    if show:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress("[progress.description]{task.description}", BarColumn(),
                      DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                      console=_stderr_console(), transient=True) as bar:
            task = bar.add_task("reading logs", total=total)
            agg = ingest(sources, opts, progress=lambda n: bar.advance(task, n))
    else:
        agg = ingest(sources, opts)
    warm.join()
    return _report(args, agg)


def _report(args: argparse.Namespace, agg) -> int:
    for src in agg.sources:
        if src.error:
            print(f"proxylab audit: warning: {src.name}: stream ended early ({src.error}); "
                  f"kept the {src.lines:,} lines read before it", file=sys.stderr)
    if agg.parsed == 0 and agg.filtered == 0:
        raise UserError(_nothing_parsed(agg))
    # pandas/botocore only now: their memory need not stack on the ingestion peak.
    from proxylab.audit.report import (
        build_result,
        render_csv,
        render_env,
        render_json,
        render_table,
    )

    res = build_result(agg)
    if args.format == "json":
        sys.stdout.write(render_json(res))
    elif args.format == "csv":
        sys.stdout.write(render_csv(res, args.csv_table))
    elif args.format == "env":
        sys.stdout.write(render_env(res))
    else:
        render_table(res, top=args.top)
    if getattr(args, "prove", False):
        _prove(args, res.recommendations)
    if args.save_aggregates:
        from proxylab.audit import aggfile

        aggfile.write(agg, args.save_aggregates, args.engine)
    if args.report:
        _render_report(args, agg)
    return 0


def _prove(args: argparse.Namespace, recommendations) -> None:
    from proxylab.clients import prove
    from proxylab.labs.registry import get_lab

    result = prove.prove(recommendations, get_lab("local"), args.prove_client,
                         keep_lab=args.keep_lab,
                         say=lambda m: print(f"proxylab audit --prove: {m}", file=sys.stderr))
    out = sys.stderr if args.format in ("json", "csv") else sys.stdout
    out.write(prove.text(result))


def _render_report(args: argparse.Namespace, agg) -> None:
    from pathlib import Path

    from proxylab.audit import aggfile
    from proxylab.audit.nb import render

    print(f"proxylab audit: rendering the audit notebook into {args.report}", file=sys.stderr)
    out_dir = Path(args.report)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The notebook reads the aggregates this run made: the logs are read once, by
    # whichever engine, and standard input works too.
    saved = aggfile.write(agg, out_dir / "aggregates.json", args.engine)
    out = render([], out_dir, aggregates=str(saved.resolve()), bucket_seconds=args.bucket)
    print(f"proxylab audit: wrote {out['html']} and {out['markdown']}", file=sys.stderr)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _nothing_parsed(agg) -> str:
    parts = []
    for s in agg.sources:
        if s.lines == 0 and not s.error:
            why = "empty"
        elif s.error and s.lines == 0:
            why = f"unreadable ({s.error})"
        else:
            why = f"{s.lines:,} lines, none in Squid {s.format} format" + (
                f"; stream error: {s.error}" if s.error else "")
        parts.append(f"{s.name}: {why}")
    sample = f"; first bad line: {ascii(agg.samples[0].line[:80])}" if agg.samples else ""
    return ("no Squid access-log line could be parsed (" + "; ".join(parts) + ")" + sample
            + ". Expected the native format, e.g. '1748149505.823    135 10.1.143.211 "
            "TCP_TUNNEL/200 19109 CONNECT host:443 - HIER_DIRECT/1.2.3.4 -', or --log-format "
            "common/combined")
