"""The client matrix report in English."""

from __future__ import annotations

import sys

from proxylab.clients.facts import BehaviourFact, Change, Summary
from proxylab.clients.words import common
from proxylab.vocab import Behaviour, MeasuredRoute

P, D, F = MeasuredRoute.PROXY, MeasuredRoute.DIRECT, MeasuredRoute.FAILED

TITLE = "Client matrix: which way each client's request went"
HEAD = {"summary": "Summary", "behaviour": "What each client does", "matrix": "The matrix",
        "changes": "Changes since the previous run", "cases": "Cases", "notes": "Notes"}
COLUMNS = {"case": "case", "version": "version", "target": "target",
           "environment": "environment", "asks": "what it asks", "client": "client",
           "question": "question", "answer": "answer"}
ROUTE = {P: "proxy", D: "direct", F: "failed"}
NOT_INSTALLED = "not installed"
NO_CHANGES = "No cell changed its route and no client its version."
NO_PREVIOUS = "No previous run to compare with."
LEGEND = ("`proxy`: Squid or a front saw the request come through the proxy; `direct`: a "
          "VPC endpoint served it, or it timed out with no proxy evidence (the subnet has no "
          "NAT); `failed`: neither (a dead proxy refused it, or the client could not use the "
          "proxy URL). A mark after the route: ✗ the client's rule predicted another route, "
          "? no rule is modelled for it, ↻ measured twice (it first timed out against its "
          "rule).")

QUESTION = {
    Behaviour.READS_ENV: "https_proxy (lowercase) for an https:// URL",
    Behaviour.UPPER_HTTP_PROXY: "HTTP_PROXY (uppercase) for an http:// URL",
    Behaviour.LOWER_WINS: "https_proxy=Squid, HTTPS_PROXY=a dead proxy",
    Behaviour.EMPTY_LOWER_CANCELS: "HTTPS_PROXY=Squid, https_proxy empty",
    Behaviour.NO_PROXY_LOWER_WINS: "no_proxy=another host, NO_PROXY=the host",
    Behaviour.DOT_MATCHES_APEX: "NO_PROXY=.host for the host itself",
    Behaviour.STAR_IN_LIST: "NO_PROXY=other,* (a star in a list)",
    Behaviour.GLOB: "NO_PROXY=*.domain",
    Behaviour.CIDR_IP: "NO_PROXY=a CIDR, IP-literal URL",
    Behaviour.CIDR_NAME: "NO_PROXY=a CIDR, the host by name",
    Behaviour.HOST_PORT: "NO_PROXY=host:443",
    Behaviour.BUCKET_HOST: "NO_PROXY=the bucket's host, an S3 GetObject",
    Behaviour.HTTPS_PROXY_URL: "https:// proxy URL",
    Behaviour.NO_SCHEME: "proxy URL without scheme",
}

# (question, route) -> what that route means for this client; default: the route.
ANSWER = {
    (Behaviour.READS_ENV, P): "read", (Behaviour.READS_ENV, D): "ignored: never reads it",
    (Behaviour.UPPER_HTTP_PROXY, P): "read", (Behaviour.UPPER_HTTP_PROXY, D): "ignored",
    (Behaviour.LOWER_WINS, P): "lowercase wins", (Behaviour.LOWER_WINS, F): "uppercase wins",
    (Behaviour.LOWER_WINS, D): "neither is used",
    (Behaviour.EMPTY_LOWER_CANCELS, D): "the empty one cancels the proxy",
    (Behaviour.EMPTY_LOWER_CANCELS, P): "the empty one is skipped: proxy",
    (Behaviour.NO_PROXY_LOWER_WINS, P): "no_proxy (lowercase) wins",
    (Behaviour.NO_PROXY_LOWER_WINS, D): "NO_PROXY (uppercase) wins",
    (Behaviour.BUCKET_HOST, P): "still proxied (decided on another host)",
    (Behaviour.BUCKET_HOST, D): "bypassed",
    (Behaviour.HTTPS_PROXY_URL, P): "used as plain HTTP",
    (Behaviour.HTTPS_PROXY_URL, F): "spoken TLS to (fails on a plain proxy)",
    (Behaviour.HTTPS_PROXY_URL, D): "dropped: direct",
    (Behaviour.NO_SCHEME, P): "read as http://", (Behaviour.NO_SCHEME, F): "refused",
}
MATCH = {D: "matches: direct", P: "does not match: proxy", F: "failed"}


def route(r: MeasuredRoute) -> str:
    return ROUTE[r]


def answer(fact: BehaviourFact) -> str:
    return common.answer(fact, sys.modules[__name__])


def behaviour(fact: BehaviourFact) -> str:
    mark = "" if fact.agrees else " (✗ not what its rule predicts)"
    return f"{fact.client} {fact.version}: {QUESTION[fact.behaviour]}: {answer(fact)}{mark}"


def summary(s: Summary) -> str:
    text = (f"{s.ran} of {s.cells} cells ran; {s.agrees} show the route their client's rule "
            f"predicts, {s.differs} another")
    if s.no_rule:
        text += f", {s.no_rule} have no modelled rule"
    if s.rechecked:
        text += f"; {s.rechecked} were measured twice"
    if s.wall_s is not None:
        text += f"; {s.wall_s:g} s in all"
    text += "."
    if s.not_installed:
        text += " Not installed: " + "; ".join(f"{c} (`{cmd}`)" for c, cmd in s.not_installed) \
            + "."
    return text


def _r(value: str | None, absent: str) -> str:
    return common.route_or(value, absent, sys.modules[__name__])


def change(c: Change) -> str:
    if not c.case:
        return f"{c.client}: version {c.before or 'none'} → {c.after or 'none'}"
    versions = "" if c.before_version == c.after_version else \
        f" ({c.before_version} → {c.after_version})"
    before, after = _r(c.before, "not run"), _r(c.after, "not run")
    return f"{c.client}{versions} under {c.case}: {before} → {after}"


def lab_line(meta: dict) -> str:
    lab = meta.get("lab", {})
    eps = lab.get("endpoints") or {}
    on = {True: "on", False: "off"}
    return (f"Lab `{lab.get('name', '?')}` ({lab.get('backend', '?')}, Squid "
            f"{lab.get('squid_version', '?')}), {meta.get('timeout_s', '?')} s per request, "
            f"{meta.get('workers', '?')} cells at a time; endpoints: S3 gateway "
            f"{on[bool(eps.get('s3_gateway'))]}, execute-api interface "
            f"{on[bool(eps.get('execute_api_interface'))]}.")


def unmatched(authority: str, n: int) -> str:
    return f"Squid logged {n} CONNECT {authority} that no front saw arrive."
