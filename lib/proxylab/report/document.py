"""The write-up, section by section, as Markdown and PNG outputs.

Notebook 04 calls one ``show_*`` method per cell; each displays Markdown (which
both the HTML and the Markdown exports render) and figures as PNG bytes (which
the HTML embeds and the Markdown export writes as files). Everything shown goes
through the same :class:`~proxylab.report.redact.Redactor`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from proxylab.analysis import Analysis, alike, derive
from proxylab.capture import Capture, RunRecord, Skipped
from proxylab.logs import cache
from proxylab.report import charts, i18n, publish, words
from proxylab.report.redact import Redactor, build
from proxylab.report.render import resolve
from proxylab.vocab import Verdict

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
              "NODE_USE_ENV_PROXY", "NODE_OPTIONS")  # the last two: Node's proxy switch
ENDPOINT_KEYS = ("s3_gateway", "execute_api_interface", "execute_api_private_dns")
# The provenance block's versions: (label key in i18n, the lab resource recording it).
# Only squid_version is recorded by the labs so far; the others read "not recorded"
# until a capture carries them under these names.
VERSIONS = (("prov_proxylab", "proxylab_version"), ("prov_python", "python_version"),
            ("prov_botocore", "botocore_version"), ("prov_squid", "squid_version"),
            ("prov_runtime", "awslambdaric_version"))


# Above this many runs the runs section is the summary view: the distribution over
# all runs, then one detailed run per group of alike runs (analysis/alike.py) with the
# others named; a seed-sized set is shown run by run.
SUMMARY_ABOVE = 12


def shown_runs(a: Analysis) -> list[str]:
    """The runs whose detail (table, reasons, timeline) a report shows: all of a small
    set, the first of each group of alike runs of a large one."""
    ids = [str(r) for r in a.tables.runs["run_id"]]
    if len(ids) <= SUMMARY_ABOVE:
        return ids
    return [g.shown for g in alike.groups(a.routes, a.tables.runs)]


def tables_dir() -> Path:
    """Where the report keeps derived tables: ``PROXYLAB_TABLES`` or ``data/tables``,
    a relative one from the project root (as the notebooks' capture paths are)."""
    return resolve(cache.default_dir())


def runtime_text(rec: RunRecord) -> str:
    """The scenario's Lambda runtime, with the version the local lab ran it on."""
    res = dict(rec.resources)
    version = (res.get("node_version") if str(rec.scenario.runtime).startswith("nodejs")
               else res.get("python_version"))
    return f"{rec.scenario.runtime} ({version})" if version else str(rec.scenario.runtime)


def md_escape(value: Any) -> str:
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    if text in ("<NA>", "nan", "NaT"):
        text = ""
    return text.replace("|", "\\|").replace("\n", "<br>")


_URL_RE = re.compile(r"(?<![`\w])(https?://[^\s;,)'`]+)")


def code_urls(text: str) -> str:
    """URLs in prose as code, so renderers do not turn lab addresses into links."""
    return _URL_RE.sub(r"`\1`", text)


def md_table(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(md_escape(v) for v in row) + " |")
    return "\n".join(lines)


def _display(obj_md: str | None = None, png: bytes | None = None, *, section: str = "",
             run: str | None = None, name: str = "", alt: str = "") -> None:
    """Display Markdown and a figure, each output carrying what the report's pages need
    (``report/publish.py``): its section and run, an image's file name and alt text."""
    from IPython.display import Image, Markdown, display

    meta = {"section": section, **({"run": run} if run else {})}
    if obj_md is not None:
        display(Markdown(obj_md), metadata={publish.META: meta})
    if png is not None:
        display(Image(data=png, format="png"),
                metadata={publish.META: {**meta, "name": name, "alt": alt}})


@dataclass
class Report:
    analysis: Analysis
    lang: str = "en"
    redactor: Redactor | None = None
    # Every fact-bearing sentence rendered so far, with the facts it states: what
    # lets a test hold the two languages to the same facts.
    said: list[words.Said] = field(default_factory=list, repr=False)

    @classmethod
    def load(cls, captures: Iterable[str | Path], lang: str = "en", redact: bool = False,
             key: str = "", skipped: Iterable[str] = ()) -> Report:
        """``skipped``: reasons of captures a selection (:func:`~proxylab.report.nb.select`)
        already set aside, reported beside those the loader itself skips."""
        if lang not in words.LANGS:
            raise ValueError(f"lang must be one of {', '.join(words.LANGS)}, not {lang!r}")
        a = derive([Path(c) for c in captures], cache_dir=tables_dir())
        extra = [m for m in skipped if m not in a.tables.skipped]
        if extra:  # the derived analysis is shared (analysis.derive): copy, never change
            a = dataclasses.replace(a, tables=dataclasses.replace(
                a.tables, skipped=[*extra, *a.tables.skipped]))
        return cls(a, lang, build(a.tables, enabled=redact, key=key))

    # ---------------------------------------------------------------- helpers
    def r(self, text: Any) -> Any:
        return self.redactor(text) if self.redactor is not None else text

    def t(self, key: str, **kw: Any) -> str:
        return i18n.t(self.lang, key, **kw)

    def say(self, said: words.Said) -> str:
        """Record what a sentence states, return its text."""
        self.said.append(said)
        return said.text

    @property
    def facts(self) -> frozenset[words.FactKey]:
        """The facts stated by every sentence rendered so far."""
        return frozenset(k for s in self.said for k in s.facts)

    @property
    def runs(self) -> pd.DataFrame:
        return self.analysis.tables.runs

    def _record(self, run_id: str) -> RunRecord:
        return self.analysis.tables.records[run_id]

    # --------------------------------------------------------------- sections
    def title_md(self, title: str | None = None) -> str:
        cats = sorted({str(c) for c in self.runs["catalog"] if str(c)})
        sub = self.t("catalogue", cats=", ".join(cats), n=len(self.runs)) if cats else ""
        text = f"# {title or self.t('title')}\n\n{sub}"
        if self.redactor is not None and self.redactor.enabled:
            text += f"\n\n*{self.t('redacted')}*"
        return text

    def question_md(self) -> str:
        return f"## {self.t('question_h')}\n\n{self.t('question')}"

    def answer_md(self) -> str:
        c = self.analysis.conclusion
        head = self.r(self.say(words.headline(c, self.lang)))
        lines = [f"## {self.t('answer_h')}", "", f"**{head}**", "",
                 f"### {self.t('findings_h')}", ""]
        lines += [f"- {self.r(self.say(words.finding(f, self.lang)))}" for f in c.findings]
        return "\n".join(lines)

    def setup_md(self) -> str:
        rows, env_rows, plumbing = [], [], {}
        none = self.t("none")
        for _, run in self.runs.drop_duplicates("scenario").iterrows():
            rec = self._record(str(run["run_id"]))
            shown = {k: v for k, v in rec.env.items()
                     if k.upper() in PROXY_VARS or k.upper().startswith("AWS_")}
            layout = rec.layout.to_dict()
            eps = ", ".join(self.t(f"ep_{k}") for k in ENDPOINT_KEYS if layout.get(k)) or none
            rows.append([run["scenario"], run["title"], run["function"], runtime_text(rec), eps])
            # One row per variable, the value whole in code (never wrapped inside a
            # table cell, never joined with <br>, which some blogs print as text).
            env_rows += [[run["scenario"] if i == 0 else "", f"`{k}`", f"`{v}`"]
                         for i, (k, v) in enumerate(shown.items())] or [[run["scenario"],
                                                                        none, ""]]
            plumbing.update(rec.lab.plumbing_env)
        text = [f"## {self.t('setup_h')}", "", self.t("setup"), "",
                f"**{self.t('scenarios_t')}**", "",
                self.r(md_table(self.t("scen_cols").split("|"), rows)), "",
                f"**{self.t('variables_t')}**", "",
                self.r(md_table(self.t("var_cols").split("|"), env_rows))]
        if plumbing:
            text += ["", f"*{self.t('plumbing')}:* " + ", ".join(
                f"`{k}={self.r(v)}`" for k, v in sorted(plumbing.items()))]
        note = self.squid_note()
        if note:
            text += ["", note]
        return "\n".join(text)

    def squid_note(self) -> str:
        """Where it matters - a report with a request that failed at the proxy - say that
        Squid 5 and 6 answer an unresolvable CONNECT differently (500 vs the seed's
        503) and which Squid these runs used (as their captures record it), so a reader
        comparing the logs with their own proxy's knows which status to expect."""
        failed = self.analysis.routes[self.analysis.routes["route"] == "failed-at-proxy"]
        if failed.empty:
            return ""
        versions = sorted({str(self._record(str(r)).lab.resources.get("squid_version") or "")
                           for r in failed["run_id"].unique()} - {""})
        if not versions:
            return f"*{self.t('squid_note_unknown')}*"
        return f"*{self.t('squid_note', versions=', '.join(versions))}*"

    def topology_alt(self) -> str:
        if self.runs.empty:
            return ""
        lab = self._record(str(self.runs["run_id"].iloc[-1])).lab
        union: set[str] = set()
        for rec in self.analysis.tables.records.values():
            union |= {k for k, v in rec.layout.to_dict().items() if v and k in ENDPOINT_KEYS}
        eps = ", ".join(self.t(f"ep_{k}") for k in ENDPOINT_KEYS if k in union) or self.t("none")
        return self.r(self.t("topology_alt", backend=lab.backend, region=lab.region or "?",
                             endpoints=eps))

    def matrix_alt(self) -> str:
        """The matrix in words: every scenario's route per service, as the cells say it."""
        w = i18n.chart(self.lang)
        r = self.analysis.routes
        if r.empty:
            return w["no_steps"]
        r = r.assign(service=r["step"].astype(str).map(lambda s: charts.STEP_SERVICE.get(s, s)))
        lines = []
        for scen, grp in r.groupby(r["scenario"].astype(str), sort=False):
            cells = []
            for service, cell in grp.groupby("service", sort=False):
                here = list(dict.fromkeys(cell["route"].astype(str)))
                cells.append(f"{service} {charts.route_words(cell, here, w)}")
            lines.append(f"{scen}: {', '.join(cells)}")
        return self.r(f"{w['matrix_title']}. " + "; ".join(lines) + ".")

    def topology_png(self) -> bytes | None:
        if self.runs.empty:
            return None
        rid = str(self.runs["run_id"].iloc[-1])
        lab = self._record(rid).lab.to_dict()
        # The union of the endpoint layouts the runs used, so every path is drawn.
        union: dict[str, Any] = {}
        for rec in self.analysis.tables.records.values():
            for k, v in rec.layout.to_dict().items():
                union[k] = union.get(k) or v
        return charts.png(charts.topology(lab, redact=self.r, endpoints=union or None,
                                          lang=self.lang))

    def matrix_md(self) -> str:
        return f"## {self.t('matrix_h')}\n\n{self.t('matrix')}" + self.runtimes_md()

    def runtimes_md(self) -> str:
        """Python and Node.js scenarios with the same variables, step by step (empty
        when the runs hold no such pair)."""
        rows = [[f"{p.python} / {p.node}", s.node_step, f"{s.python_route} · {s.python_client}",
                 f"{s.node_route} · {s.node_client}", self.t("yes") if s.differs else ""]
                for p in self.analysis.runtime_pairs for s in p.steps]
        if not rows:
            return ""
        return "\n".join(["", "", f"**{self.t('runtimes_t')}**", "", self.t("runtimes"), "",
                          self.r(md_table(self.t("runtimes_cols").split("|"), rows))])

    def matrix_png(self) -> bytes:
        return charts.route_matrix_png(self.analysis.routes, self.runs, redact=self.redactor,
                                       lang=self.lang)

    def run_md(self, run_id: str) -> str:
        run = self.runs[self.runs["run_id"] == run_id].iloc[0]
        routes = self.analysis.routes[self.analysis.routes["run_id"] == run_id]
        head = f"### {self._run_heading(run)}"
        meta = f"`{self.r(run_id)}` · {self.t('status')} **{run['status']}**"
        if isinstance(run["error"], str) and run["error"]:
            meta += f" · {self.r(run['error'])}"
        yes, no = self.t("yes"), self.t("no")
        rows = [[r["step"], r["host"], _route(r), r["outcome"],
                 _pred(r), "" if pd.isna(r["prediction_matches"]) else
                 (yes if r["prediction_matches"] else no)] for _, r in routes.iterrows()]
        parts = [head, "", meta, "", self.r(md_table(self.t("cols").split("|"), rows)), "",
                 f"**{self.t('why_t')}**", ""]
        for idx, r in routes.iterrows():
            flag = " ⚠" if r["route"] == "inconsistent" else ""
            why = self.say(words.why(self.analysis.fact(int(idx)), self.lang))
            parts.append(f"- **{r['step']}**{flag}: {code_urls(self.r(why))}")
        parts += self.hosts_md(run_id)
        ev = self.analysis.evidence
        ev = ev[(ev["run_id"] == run_id) & (ev["source"] != "function")]
        excerpt = list(dict.fromkeys(f"{e['file']}:{e['line_no']}: {e['text']}"
                                     for _, e in ev.iterrows()))
        if excerpt:
            parts += ["", f"**{self.t('excerpt_t')}**", "", "```text",
                      *[self.r(x).replace("\t", " ") for x in excerpt], "```"]
        return "\n".join(parts)

    def _run_heading(self, run: pd.Series) -> str:
        """"seed-1: title", and the lab's backend when the report holds several (the same
        scenario run locally and on AWS has two sections)."""
        head = f"{run['scenario']}: {self.r(md_escape(run['title']))}"
        backends = {rec.lab.backend for rec in self.analysis.tables.records.values()}
        backend = self._record(str(run["run_id"])).lab.backend
        if len(backends) > 1:
            head += f" ({backend})"
        # Repeats of one scenario on one backend get their ordinal, so no two sections
        # (and no two contents entries) read the same.
        same = [str(r) for r, s in zip(self.runs["run_id"], self.runs["scenario"], strict=True)
                if s == run["scenario"] and self._record(str(r)).lab.backend == backend]
        if len(same) > 1:
            head += f" #{same.index(str(run['run_id'])) + 1}"
        return head

    def no_steps_md(self, run_id: str) -> str:
        """A run without step lines: say so, with the run's error and the function's
        own error/timeout lines, instead of an empty table."""
        run = self.runs[self.runs["run_id"] == run_id].iloc[0]
        fe = self.analysis.tables.function_events
        bad = fe[(fe["run_id"] == run_id) & fe["kind"].isin(["error", "timeout"])]
        parts = [f"### {self._run_heading(run)}", "",
                 f"`{self.r(run_id)}` · {self.t('status')} **{run['status']}** · "
                 + self.t("no_steps")]
        if md_escape(run["error"]):
            parts += ["", self.r(md_escape(run["error"]))]
        if len(bad):
            parts += ["", "```text", *[self.r(str(m)) for m in bad["message"]], "```"]
        parts += self.hosts_md(run_id)
        return "\n".join(parts)

    def hosts_md(self, run_id: str) -> list[str]:
        """Every host the run's function contacted, from the evidence (a user's handler
        writes no step lines): a table, then each host's why, in the report's language."""
        hosts = self.analysis.hosts
        facts = hosts.of_run(run_id) if hosts is not None else []
        if not facts:
            return []
        yes, no = self.t("yes"), self.t("no")
        rows = [[f.host, f.decision.client, f.route if f.endpoint_kind is None else
                 f"{f.route} ({f.endpoint_kind})", f.predicted_route,
                 "" if f.prediction_matches is None else (yes if f.prediction_matches else no),
                 len(f.squid), int(f.service is not None), len(f.dns)] for f in facts]
        parts = ["", f"**{self.t('hosts_t')}**", "",
                 self.r(md_table(self.t("host_cols").split("|"), rows)), ""]
        for f in facts:
            why = self.say(words.why(f, self.lang))
            parts.append(f"- **{self.r(f.host)}**: {code_urls(self.r(why))}")
        return parts

    def timeline_png(self, run_id: str) -> bytes:
        return charts.timeline_png(self.analysis.tables, run_id, redact=self.redactor,
                                   lang=self.lang)

    def summary_md(self) -> str:
        """A large set at a glance: every run counted, per scenario and step."""
        groups = alike.groups(self.analysis.routes, self.runs)
        dist = alike.distribution(self.analysis.routes)

        def counts(c: dict[str, int]) -> str:
            return ", ".join(f"{k} ×{v}" for k, v in c.items())

        rows = [[d.scenario, d.step, d.runs, "<br>".join(d.hosts), counts(d.routes),
                 counts(d.outcomes)] for d in dist.itertuples(index=False)]
        return "\n".join([
            self.t("runs_summary", n=len(self.runs),
                   s=self.runs["scenario"].astype(str).nunique(), g=len(groups)), "",
            self.r(md_table(self.t("dist_cols").split("|"), rows))])

    def alike_md(self, group: alike.RunGroup) -> str:
        ids = ", ".join(f"`{self.r(rid)}`" for rid in group.others)
        return self.t("alike", k=len(group.others), run=f"`{self.r(group.shown)}`", ids=ids)

    def _show_run(self, rid: str) -> None:
        """One run's detail as the report's pages take it (``report/publish.py``): its
        table and timeline in the run's own part, or why it has no steps."""
        if (self.analysis.routes["run_id"] == rid).any():
            rec = self._record(rid)
            _display(self.run_md(rid), self.timeline_png(rid), section=publish.RUN_SECTION,
                     run=rid, name=f"timeline-{rec.scenario.id}-{rec.lab.backend}",
                     alt=self.t("timeline_alt", run=self.r(rid)))
        else:
            _display(self.no_steps_md(rid), section=publish.RUN_SECTION, run=rid)

    def checks_md(self) -> str:
        a = self.analysis
        parts = [f"## {self.t('checks_h')}", ""]
        c = a.conclusion
        if c.prediction_mismatches:
            mism = a.routes[a.routes["prediction_matches"] == False]  # noqa: E712 - nullable
            parts += [self.t("pred_bad"), ""] + [
                f"- {r['scenario']} {r['step']}: " + self.t("pred_line", p=_pred(r), o=_route(r))
                for _, r in mism.iterrows()]
        else:
            parts.append(self.t("pred_ok"))
        parts.append("")
        flagged = a.routes[a.routes["route"] == "inconsistent"]
        if len(flagged):
            parts += [self.t("incons_bad"), ""] + [
                f"- `{self.r(r['run_id'])}` {r['step']}: "
                + self.r(self.say(words.flags(a.fact(int(i)), self.lang)))
                for i, r in flagged.iterrows()]
        else:
            parts.append(self.t("incons_ok"))
        parts.append("")
        ex = a.expectations
        if ex.empty:
            parts.append(self.t("expect_none"))
            return "\n".join(parts)
        # A FAILED item contradicts the evidence; an UNCHECKED one the capture cannot
        # tell (no log of that front, missing evidence): never listed as "did not hold".
        failed = ex[ex["verdict"] == str(Verdict.FAILED)]
        unchecked = ex[ex["verdict"] == str(Verdict.UNCHECKED)]
        held = len(ex) - len(failed) - len(unchecked)
        if failed.empty and unchecked.empty:
            parts.append(self.t("expect_ok", n=len(ex)))
        elif failed.empty:
            parts.append(self.t("expect_held", held=held, n=len(ex)))
        else:
            parts += [self.t("expect_bad", bad=len(failed), n=len(ex)), "",
                      self.r(md_table(self.t("exp_cols").split("|"),
                                      failed[["scenario", "check", "expected", "observed"]]
                                      .itertuples(index=False)))]
        if len(unchecked):
            rows = [[f"`{self.r(r.run_id)}`", r.check, r.expected,
                     self.say(words.unchecked(str(r.scenario), str(r.check),
                                              None if pd.isna(r.reason) else str(r.reason),
                                              self.lang))]
                    for r in unchecked.itertuples(index=False)]
            parts += ["", self.t("expect_unchecked", m=len(unchecked), n=len(ex)), "",
                      self.r(md_table(self.t("unchecked_cols").split("|"), rows))]
        return "\n".join(parts)

    def quality_md(self) -> str:
        tb = self.analysis.tables
        s = tb.summary()
        rows = s["proxy_requests"] + s["function_events"] + s["dns_queries"] + s["service_hits"]
        parts = [f"## {self.t('quality_h')}", "",
                 self.t("quality", runs=s["runs"], lines=rows, bad=s["malformed_lines"])]
        if len(tb.malformed):
            parts += ["", md_table(["run", "file", "line", "reason"],
                                   [[self.r(m.run_id), m.file, m.line_no, m.reason]
                                    for m in tb.malformed.head(20).itertuples()])]
        missing = [(r.run_id, r.missing_evidence) for r in tb.runs.itertuples()
                   if isinstance(r.missing_evidence, str) and r.missing_evidence]
        if missing:
            parts += ["", self.t("missing"), ""] + [f"- `{self.r(a)}`: {self.r(b)}"
                                                   for a, b in missing]
        failed = [(r.run_id, r.error) for r in tb.runs.itertuples() if r.status == "failed"]
        if failed:
            parts += ["", self.t("failed_runs"), ""] + [f"- `{self.r(a)}`: {self.r(b)}"
                                                       for a, b in failed]
        changed = self.modified()
        if changed:
            parts += ["", self.t("modified_h"), ""] + [
                f"- `{self.r(rid)}`: {self.r(self.say(words.modified(rid, files, self.lang)))}"
                for rid, files in changed.items()]
        if tb.skipped:
            parts += ["", self.t("skipped", n=len(tb.skipped)), "",
                      self.r(md_table(self.t("skipped_cols").split("|"),
                                      [self._skipped_row(m) for m in tb.skipped]))]
        return "\n".join(parts)

    def modified(self) -> dict[str, list[str]]:
        """Per run, the raw files that changed after the capture wrote their checksums."""
        out: dict[str, list[str]] = {}
        for run in self.runs.itertuples():
            cap = Capture(path=Path(str(run.path)), record=self._record(str(run.run_id)))
            files = cap.modified()
            if files:
                out[str(run.run_id)] = files
        return out

    def method_md(self) -> str:
        return (f"## {self.t('method_h')}\n\n{self.t('method')}\n\n{self.provenance_md()}"
                f"\n\n### {self.t('glossary_h')}\n\n{self.t('glossary')}")

    def provenance_md(self) -> str:
        """When the captures were made and with what, as the captures record it: what a
        reader needs to reproduce a run or to tell that two reports are comparable."""
        recs = [self._record(str(r)) for r in self.runs["run_id"]]
        rows = [[self.t("prov_dates"), self._dates()],
                [self.t("prov_backend"), self._recorded([r.lab.backend for r in recs])],
                [self.t("prov_region"), self._recorded([r.lab.region for r in recs])]]
        rows += [[self.t(label), self._recorded([r.lab.resources.get(key) for r in recs])]
                 for label, key in VERSIONS]
        return "\n".join([f"### {self.t('prov_h')}", "",
                          self.r(md_table(self.t("prov_cols").split("|"), rows))])

    def _dates(self) -> str:
        times = pd.concat([self.runs["started_at"], self.runs["finished_at"]]).dropna()
        if times.empty:
            return self.t("not_recorded")
        first, last = times.min(), times.max()
        end = last.strftime("%H:%M" if first.date() == last.date() else "%Y-%m-%d %H:%M")
        return f"{first:%Y-%m-%d %H:%M} – {end} UTC"

    def _recorded(self, values: list[str | None]) -> str:
        """The distinct values the runs recorded, and how many runs recorded none."""
        have = sorted({str(v) for v in values if v})
        lacking = sum(1 for v in values if not v)
        if not have:
            return self.t("not_recorded")
        text = ", ".join(have)
        return text + (f" ({self.t('not_recorded_in', k=lacking, n=len(values))})"
                       if lacking else "")

    def _skipped_row(self, message: str) -> list[str]:
        """A skipped capture as (capture, reason in the report's language). The capture
        is named by its directory's last part, so a shared report holds no local paths.
        A reason without its kind (a plain string from an older caller) is shown as the
        loader wrote it, ``<dir>: <reason>`` or ``<dir> is not a capture (...)``."""
        if isinstance(message, Skipped):
            said = self.say(words.skipped(message.capture, message.kind, message.detail,
                                          self.lang))
            return [f"`{message.capture}`", said]
        head, sep, reason = message.partition(": ")
        if not sep:
            head, _, reason = message.partition(" ")
        return [f"`{Path(head).name}`", reason.strip()]

    # ------------------------------------------------------- notebook display
    def show(self, section: str, *args: Any) -> None:
        """Display one section (``title``, ``answer``, ``setup``, ``matrix``, ``runs``,
        ``checks``, ``quality``, ``method``)."""
        if section == "setup":
            _display(self.setup_md(), self.topology_png(), section=section, name="lab-topology",
                     alt=self.topology_alt())
        elif section == "matrix":
            _display(self.matrix_md(), self.matrix_png(), section=section, name="route-matrix",
                     alt=self.matrix_alt())
        elif section == "runs":
            _display(f"## {self.t('runs_h')}", section=section)
            if len(self.runs) <= SUMMARY_ABOVE:
                for rid in self.runs["run_id"].astype(str):
                    self._show_run(rid)
                return
            _display(self.summary_md(), section=section)
            for group in alike.groups(self.analysis.routes, self.runs):
                self._show_run(group.shown)
                if group.others:  # inside the shown run's part of the page
                    _display(self.alike_md(group), section=publish.RUN_SECTION,
                             run=group.shown)
        else:
            _display(getattr(self, f"{section}_md")(*args), section=section)


def _route(r: pd.Series) -> str:
    route = str(r["route"])
    if route == "endpoint" and not pd.isna(r["endpoint_kind"]):
        return f"endpoint ({r['endpoint_kind']})"
    if route == "inconsistent":
        return f"inconsistent (looks like {r['route_guess']})"
    return route


def _pred(r: pd.Series) -> str:
    p = str(r["predicted_route"])
    if p == "endpoint" and not pd.isna(r["predicted_kind"]):
        return f"endpoint ({r['predicted_kind']})"
    return p
