"""Check my NO_PROXY: for each entry of the user's value, for each client, does it
make that client bypass the proxy for the hosts the user names?

The answers come from the clients' rules (:mod:`proxylab.analysis.clients`), which
the client matrix measures against the real clients (its test requires every rule to
equal the measured cell), so a verdict here is what the lab shows. Each entry is
tried alone, in the user's own spelling of the variables (wget never reads
``NO_PROXY``; Go reads it first), with the user's proxy variables; the whole value
is tried per host too. The fix is the audit's (:func:`proxylab.audit.recommend.
recommend`) for AWS hosts, and plain domain suffixes for the rest, then checked
with the same rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from proxylab.analysis.clients import Request, decide
from proxylab.awsdata.hostnames import S3_BUCKET, classify
from proxylab.vocab import MatrixClient, StrEnum

NO_PROXY_NAMES = ("no_proxy", "NO_PROXY")
PROXY_NAMES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
               "ALL_PROXY", "REQUEST_METHOD")


class EntryVerdict(StrEnum):
    ALL = "all"  # every client that reads proxy variables bypasses these hosts with it
    SOME = "some"  # only some do
    NONE = "none"  # no client does (for any named host)


class HostRoute(StrEnum):
    DIRECT = "direct"  # the whole value sends this client direct to this host
    PROXY = "proxy"
    NO_PROXY_SET = "no-proxy-set"  # the client finds no proxy for this host at all
    IGNORES_ENV = "ignores-env"  # the client reads no proxy variable
    NOT_APPLICABLE = "n/a"  # the client does not make this kind of request (SDK, S3 only)
    NO_RULE = "no-rule"


@dataclass
class EntryCheck:
    entry: str
    matches: dict[str, list[str]]  # client -> the named hosts this entry alone bypasses
    verdict: EntryVerdict
    honoured_by: list[str]
    not_honoured_by: list[str]
    fix: str | None = None  # a form every env-reading client honours, if one exists


@dataclass
class CheckResult:
    env: dict[str, str]
    hosts: list[str]
    clients: list[str]
    entries: list[EntryCheck]
    routes: dict[str, dict[str, HostRoute]]  # host -> client -> route under the whole value
    recommended: str  # a NO_PROXY value that bypasses every named host for every client
    stay_on_proxy: list[str] = field(default_factory=list)  # hosts the audit keeps proxied
    ignoring: list[str] = field(default_factory=list)  # clients that read no variable
    # host -> client -> route with ``recommended`` in place of the user's value
    recommended_routes: dict[str, dict[str, HostRoute]] = field(default_factory=dict)

    def missed(self) -> list[tuple[str, str]]:
        """(host, client) pairs the recommended value still leaves on the proxy, for
        hosts not meant to stay there: empty when the fix works for every client."""
        return [(h, c) for h, row in self.recommended_routes.items() if h not in
                self.stay_on_proxy for c, r in row.items() if r == HostRoute.PROXY]


def env_from(pairs: list[str] | None, from_env: bool) -> dict[str, str]:
    """``--env K=V`` pairs over (with ``--from-env``) this process's proxy variables."""
    from proxylab.errors import UserError

    env: dict[str, str] = {}
    if from_env:
        env.update({k: v for k, v in os.environ.items() if k in (*NO_PROXY_NAMES, *PROXY_NAMES)})
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"--env {pair!r}: write NAME=VALUE")
        env[name] = value
    return env


def no_proxy_value(env: dict[str, str]) -> str:
    """The NO_PROXY value to check: the lowercase one if set, else the uppercase."""
    return env.get("no_proxy") or env.get("NO_PROXY") or ""


def _request(client: str, host: str) -> Request | None:
    """The request ``client`` would make to ``host``; None when it makes none (the SDK
    clients only fetch S3 objects here)."""
    info = classify(host)
    if client in (MatrixClient.BOTOCORE, MatrixClient.BOTOCORE_CRT, MatrixClient.NODE_SDK_V3):
        if info.flavour != S3_BUCKET or not info.bucket:
            return None
        return Request(f"https://{host}/", bucket=info.bucket, region=info.region or "")
    return Request(f"https://{host}/", region=info.region or "")


def _with_no_proxy(env: dict[str, str], value: str | None) -> dict[str, str]:
    """``env`` with every NO_PROXY spelling the user set replaced by ``value`` (both
    spellings when the user set none); ``None`` removes them."""
    names = [n for n in NO_PROXY_NAMES if n in env] or list(NO_PROXY_NAMES)
    out = {k: v for k, v in env.items() if k not in NO_PROXY_NAMES}
    if value is not None:
        out.update({n: value for n in names})
    return out


def route(client: str, env: dict[str, str], host: str) -> HostRoute:
    request = _request(client, host)
    if request is None:
        return HostRoute.NOT_APPLICABLE
    decision = decide(client, env, request)
    if decision is None:
        return HostRoute.NO_RULE
    if not decision.reads_env:
        return HostRoute.IGNORES_ENV
    if decision.proxy is not None:
        return HostRoute.PROXY
    baseline = decide(client, _with_no_proxy(env, None), request)
    if baseline is not None and baseline.proxy is None:
        return HostRoute.NO_PROXY_SET
    return HostRoute.DIRECT


def _entries(value: str) -> list[str]:
    return [e.strip() for e in value.split(",") if e.strip()]


def _plain(entry: str) -> str | None:
    """The plain-suffix form of an entry every env-reading client can honour (None: no
    such form: a CIDR, or ``*`` which only some read as 'everything')."""
    e = entry.strip()
    if e == "*" or "/" in e:
        return None
    e = e.split("://", 1)[-1]
    if e.startswith("*."):
        e = e[2:]
    e = e.lstrip(".")
    if ":" in e and not e.startswith("["):
        e = e.split(":", 1)[0]
    return e or None


def check(env: dict[str, str], hosts: list[str], clients: list[str] | None = None
          ) -> CheckResult:
    from proxylab.audit.recommend import HostTraffic, recommend

    clients = clients or [str(c) for c in MatrixClient]
    hosts = list(dict.fromkeys(h.strip().lower().rstrip(".") for h in hosts if h.strip()))
    value = no_proxy_value(env)
    routes = {h: {c: route(c, env, h) for c in clients} for h in hosts}
    ignoring = [c for c in clients
                if all(routes[h][c] in (HostRoute.IGNORES_ENV, HostRoute.NOT_APPLICABLE)
                       for h in hosts) and any(routes[h][c] == HostRoute.IGNORES_ENV
                                               for h in hosts)]
    entries = []
    for entry in _entries(value):
        alone = _with_no_proxy(env, entry)
        matches = {c: [h for h in hosts if route(c, alone, h) == HostRoute.DIRECT
                       and route(c, _with_no_proxy(env, None), h) == HostRoute.PROXY]
                   for c in clients}
        readers = [c for c in clients if c not in ignoring and any(
            route(c, _with_no_proxy(env, None), h) == HostRoute.PROXY for h in hosts)]
        targeted = sorted({h for c in readers for h in matches[c]})
        # A client that makes no request to any targeted host (botocore for a web host)
        # neither honours nor ignores the entry.
        # With no host matched at all, every client that requests a named host ignores it.
        applicable = {c: {h for h in (targeted or hosts) if _request(c, h) is not None}
                      for c in readers}
        honoured = [c for c in readers if targeted and applicable[c]
                    and set(matches[c]) >= applicable[c]]
        not_honoured = [c for c in readers if applicable[c] and c not in honoured]
        verdict = (EntryVerdict.NONE if not targeted or not honoured else
                   EntryVerdict.ALL if not not_honoured else EntryVerdict.SOME)
        fix = None
        if verdict != EntryVerdict.ALL:
            plain = _plain(entry)
            fix = plain if plain and plain != entry else None
        entries.append(EntryCheck(entry, matches, verdict, honoured, not_honoured, fix))
    traffic = [HostTraffic(h, 1, 0, classify(h)) for h in hosts]
    rec = recommend(traffic)
    stay = [s.host for s in rec.stay_on_proxy if classify(s.host).is_aws]
    # Non-AWS hosts the user's value already aims at keep their entries, in plain form.
    kept = [e.fix or e.entry for e in entries
            if (e.fix or e.entry) and _plain(e.fix or e.entry)
            and any(classify(h).is_aws is False for hs in e.matches.values() for h in hs)]
    parts = [*rec.no_proxy_all.split(","), *kept] if rec.no_proxy_all else kept
    recommended = ",".join(dict.fromkeys(p for p in parts if p))
    fixed = _with_no_proxy(env, recommended)
    after = {h: {c: route(c, fixed, h) for c in clients} for h in hosts}
    return CheckResult(env, hosts, clients, entries, routes, recommended, stay, ignoring, after)


def hosts_of_capture(path: str) -> list[str]:
    """The hosts a capture's requests went to: Squid's log and the service fronts'."""
    from pathlib import Path

    from proxylab.grammar.text import read_lines
    from proxylab.logs import services as services_log
    from proxylab.logs import squid as squid_log

    run = Path(path)
    out: list[str] = []
    for name, parse in (("proxy_access.log", squid_log.parse_lines),
                        ("services.log", services_log.parse_lines)):
        file = run / name
        if file.is_file():
            frame = parse(read_lines(file)).frame
            out += [str(h) for h in frame["host"].dropna().unique()]
    return list(dict.fromkeys(h.lower() for h in out if h and urlsplit(f"//{h}").hostname))


SHORT = {HostRoute.DIRECT: "direct", HostRoute.PROXY: "PROXY", HostRoute.NO_PROXY_SET: "no-proxy",
         HostRoute.IGNORES_ENV: "ignores", HostRoute.NOT_APPLICABLE: "n/a",
         HostRoute.NO_RULE: "?"}


def text(result: CheckResult) -> str:
    """The check as small plain-text tables (Markdown-compatible)."""
    clients = result.clients
    value = no_proxy_value(result.env)
    out = [f"NO_PROXY = {value!r}", "", "## Each entry alone", "",
           "| entry | verdict | honoured by | not honoured by | fix |", "|---|---|---|---|---|"]
    for e in result.entries:
        out.append(f"| `{e.entry}` | {e.verdict} | {', '.join(e.honoured_by) or '-'} | "
                   f"{', '.join(e.not_honoured_by) or '-'} | {e.fix or '-'} |")
    for title, routes in (("The whole value, per host", result.routes),
                          ("With the recommended value", result.recommended_routes)):
        out += ["", f"## {title}", "", "| host | " + " | ".join(clients) + " |",
                "|---|" + "---|" * len(clients)]
        for host, row in routes.items():
            out.append(f"| {host} | " + " | ".join(SHORT[row[c]] for c in clients) + " |")
    out += ["", f"Recommended NO_PROXY (works for every client that reads it): "
                f"{result.recommended or '(none)'}"]
    if result.stay_on_proxy:
        out.append("Stay on the proxy (no VPC endpoint serves them): "
                   + ", ".join(result.stay_on_proxy))
    if result.ignoring:
        out.append("Read no proxy variable at all (configure them in code or system "
                   "properties): " + ", ".join(result.ignoring))
    missed = result.missed()
    if missed:
        out.append("Still proxied with the recommended value: "
                   + ", ".join(f"{c} -> {h}" for h, c in missed))
    return "\n".join(out) + "\n"
