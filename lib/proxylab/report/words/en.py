"""The report's sentences in English: one function per fact kind (see
:mod:`proxylab.report.words.facts`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxylab.analysis.conclude import Conclusion, Condition, Finding
from proxylab.analysis.predict import Decision
from proxylab.analysis.routes import DnsRef, Flag, RouteFact, ServiceRef, SquidRef
from proxylab.report.words.facts import ref, status_text
from proxylab.vocab import (
    BypassBasis,
    Client,
    ConditionKind,
    EndpointKind,
    EndpointSource,
    FlagKind,
    MatchKind,
    NoProxyRule,
    PathReason,
    ReasonKind,
    SkipKind,
    UncheckedReason,
)


def _cap(text: str) -> str:
    """Capitalise our own first word, never a client's or a variable's name."""
    first = text.split(" ", 1)[0]
    if first in ("botocore", "urllib", "botocore's", "undici") or "_" in first or "=" in first:
        return text
    return text[:1].upper() + text[1:]


SOURCE = {EndpointSource.AWS_ENDPOINT_URL_S3: "from AWS_ENDPOINT_URL_S3",
          EndpointSource.AWS_ENDPOINT_URL: "from AWS_ENDPOINT_URL",
          EndpointSource.DEFAULT: "the regional default",
          EndpointSource.LEGACY_GLOBAL: "the legacy global endpoint, which botocore keeps for "
                                        "this service and region unless told regional",
          EndpointSource.GLOBAL: "the service's one global endpoint",
          EndpointSource.SERVICE_VARIABLE: "from the service's AWS_ENDPOINT_URL_ variable",
          EndpointSource.CLIENT_ARGUMENT: "the client's endpoint_url argument"}
FLAGS = {"dualstack": "dual-stack", "fips": "FIPS"}


NODE_CLIENT = {Client.AWS_SDK_JS_V3: "the AWS SDK for JavaScript v3",
               Client.NODE_FETCH: "Node's fetch", Client.NODE_HTTP: "Node's https.request"}
NODE_RULE = {
    NoProxyRule.UNDICI_7: "undici 7 (Node {v}'s fetch) strips a leading '*.' or '.' and matches "
                          "every NO_PROXY entry against the host and its subdomains",
    NoProxyRule.UNDICI_6: "undici 6 (Node {v}'s fetch) matches an entry that does not start with "
                          "'.' or '*' only against the host itself, and one that does as a "
                          "plain string suffix",
    NoProxyRule.NODE_HTTP: "Node {v}'s http.request matches a bare NO_PROXY entry only against "
                           "the host itself (or host:port); '.x' matches x and its subdomains, "
                           "'*.x' only its subdomains",
    NoProxyRule.NODE_HTTP_NO_BOUNDARY: "Node {v}'s http.request matches a bare NO_PROXY entry "
                                       "only against the host itself (or host:port); '.x' "
                                       "matches any host ending in x, across labels too "
                                       "('.ample.com' matches example.com), '*.x' only its "
                                       "subdomains",
}


NODE_REASONS = (ReasonKind.CLIENT_IGNORES_ENV, ReasonKind.ENV_PROXY_OFF,
                ReasonKind.ENV_PROXY_UNSUPPORTED)


def client_name(d: Decision) -> str:
    name = NODE_CLIENT.get(d.client, str(d.client))
    return name.replace("https.request", "http.request") if d.scheme == "http" else name


def node_rule(d: Decision) -> str:
    """The Node client's own NO_PROXY rule, the one that decided this request."""
    return "by its own rule, " + NODE_RULE[d.rule].format(v=d.runtime_version) if d.rule else ""


def node_cause(d: Decision) -> str | None:
    if d.reason == ReasonKind.CLIENT_IGNORES_ENV:
        return ("the AWS SDK for JavaScript v3 never reads HTTP_PROXY, HTTPS_PROXY or NO_PROXY "
                "(its NodeHttpHandler creates its own https.Agent)")
    if d.reason == ReasonKind.ENV_PROXY_OFF:
        return (f"{client_name(d)} on Node {d.runtime_version} reads the proxy variables only "
                "with NODE_USE_ENV_PROXY=1 (or --use-env-proxy), which is not set")
    if d.reason == ReasonKind.ENV_PROXY_UNSUPPORTED:
        return (f"Node {d.runtime_version} has no NODE_USE_ENV_PROXY (it arrived in 22.21 and "
                f"24.5), set or not: {client_name(d)} never reads the proxy variables there")
    return None


def cause(d: Decision) -> str:
    """Why the client went direct or to the proxy, without the consequence."""
    var = d.no_proxy_variable or "NO_PROXY"
    if d.client.node and (text := node_cause(d)) is not None:
        return text
    if d.reason == ReasonKind.NO_PROXY_MATCHED and d.match is not None:
        if d.match.how == MatchKind.STAR:
            return f"{var}='*' bypasses every host"
        if d.match.how == MatchKind.EXACT:
            return f"the {var} entry '{d.match.entry}' equals '{d.compared}'"
        return f"the {var} entry '{d.match.entry}' matches '{d.compared}' as a domain suffix"
    if d.reason == ReasonKind.PROXY_CANCELLED:
        return (f"{d.cancelled_by} is set but empty, which cancels "
                f"{str(d.cancelled_by).upper()}")
    if d.reason == ReasonKind.NO_PROXY_VARIABLE:
        return f"no {d.scheme}_proxy variable is set"
    if d.reason == ReasonKind.CONFIG_PROXIES:
        return ("the client's Config(proxies=...) names its proxies, so botocore reads no "
                "proxy variable and no NO_PROXY")
    if d.reason == ReasonKind.NO_ENTRY_MATCHED:
        return f"no {var} entry ({d.no_proxy_value!r}) matches '{d.compared}'"
    return "no NO_PROXY is set"


def decision(d: Decision) -> str:
    client = client_name(d)
    if d.proxy is None:
        # The Node reasons name the client already.
        subject = "it" if d.reason in NODE_REASONS else client
        effect = f"so {subject} connected directly"
        if d.client == Client.AWS_SDK_JS_V3 or (d.client == Client.BOTOCORE
                                                and d.request_host != d.decision_host):
            effect += f" to '{d.request_host}'"
    elif d.client.node:
        via = (f"a CONNECT to {d.proxy}" if d.scheme == "https"
               else f"the request to {d.proxy} as an absolute-URI request, no CONNECT")
        effect = f"so {client} sent {via} (from {d.proxy_variable})"
    elif d.proxy_tls:
        effect = (f"so {client} opened a TLS connection to the proxy {d.proxy} itself (from "
                  f"{d.proxy_variable}: an https:// proxy URL), before any HTTP")
    elif d.proxy_self_connect:
        effect = (f"so urllib, given an https:// proxy URL ({d.proxy}, from {d.proxy_variable}) "
                  f"for an http:// URL, sent the proxy a CONNECT for the proxy's own address "
                  f"{d.proxy_self_connect}")
    elif d.client == Client.BOTOCORE:
        effect = f"so botocore used {d.proxy} (from {d.proxy_variable})"
    elif d.scheme == "https":
        effect = f"so urllib sent a CONNECT to {d.proxy} (from {d.proxy_variable})"
    else:
        effect = (f"so urllib sent the request to {d.proxy} (from {d.proxy_variable}) as an "
                  "absolute-URI request, no CONNECT")
    text = f"{cause(d)}, {effect}"
    if d.proxy is not None and d.request_host_match is not None:
        text += (f" (the {d.no_proxy_variable or 'NO_PROXY'} entry "
                 f"'{d.request_host_match.entry}' matches the request host "
                 f"'{d.request_host}', but botocore decides against its endpoint host, once "
                 "per client)")
    if d.client == Client.BOTOCORE:
        src = SOURCE.get(d.endpoint_source, str(d.endpoint_source)) if d.endpoint_source \
            else "assumed: a default client for the host's service"
        if d.endpoint_source == EndpointSource.SERVICE_VARIABLE and d.endpoint_variable:
            src = f"from {d.endpoint_variable}"
        kinds = [FLAGS[f] for f in d.endpoint_flags if f in FLAGS]
        inner = src + (f"; {' and '.join(kinds)}" if kinds else "")
        if d.path_style:
            inner += (", which also switches to path-style requests" if d.endpoint_variable
                      else ", path-style requests")
        inner = inner.lstrip(";, ")
        where = (f"botocore's {d.service or 's3'} endpoint is '{d.decision_host}'"
                 + (f" ({inner})" if inner else ""))
        return f"{where}; {text}"
    return text


def endpoint_name(kind: EndpointKind | None, host: str) -> str:
    if kind == EndpointKind.GATEWAY:
        return "S3 gateway endpoint"
    return "execute-api interface endpoint" if ".execute-api." in host else "interface endpoint"


HIER = {"HIER_NONE": " (no upstream contacted)",
        "HIER_DIRECT": " (Squid itself connected to the origin server)"}
RESOLVER = {"proxy-vpc": "the proxy VPC's resolver", "lambda-vpc": "the Lambda VPC's resolver",
            "public": "the public resolver"}


def squid(s: SquidRef) -> str:
    return (f"Squid logged {s.method} {s.url} {s.squid_code}/{status_text(s.http_status)} "
            f"({ref('proxy_access.log', s.line_no)})")


def front(h: ServiceRef) -> str:
    return (f"the lab's {h.service} service saw it from {h.source_ip} (the proxy's side) "
            "and answered "
            f"{status_text(h.status)} ({ref('services.log', h.line_no)})")


def endpoint_front(p: tuple[RouteFact, ServiceRef]) -> str:
    f, h = p
    vpce = f" {h.vpce_id}" if h.vpce_id else ""
    return (f"the {endpoint_name(f.endpoint_kind, f.host)}{vpce} carried it (the lab's service saw "
            f"it arrive via {h.via} from {h.source_ip}, status {status_text(h.status)}; "
            f"{ref('services.log', h.line_no)})")


DENIAL = {
    "auth-required": ": the proxy asked for credentials and the function sent none, or wrong "
                     "ones",
    "not-on-allowlist": ": the host is not on the proxy's allowlist",
    "refused-by-rules": ": refused by the proxy's own rules (its default hardening)",
}


def squid_failed(s: SquidRef) -> str:
    why = DENIAL.get(str(s.denial), "") if s.denial else ""
    if s.url.startswith("error:"):
        why += (f": Squid logged {s.url} - what reached its plain HTTP port was not an HTTP "
                "request")
    return (f"Squid answered {s.squid_code}/{status_text(s.http_status, 3)} with {s.hierarchy}"
            f"{HIER.get(s.hierarchy, '')}{why} ({ref('proxy_access.log', s.line_no)})")


def dns(d: DnsRef) -> str:
    return (f"{RESOLVER.get(d.resolver, d.resolver + ' resolver')} answered {d.answer} for "
            f"{d.name} ({ref('dns.log', d.line_no)})")


def direct_front(h: ServiceRef) -> str:
    return (f"the lab's {h.service} service saw it from the internet ({h.source_ip}) with no Squid "
            f"line: a direct (NAT) path ({ref('services.log', h.line_no)})")


FLAG: dict[FlagKind, Callable[[Flag], str]] = {
    FlagKind.SQUID_FAILED_FRONT_SAW: lambda x: (
        f"Squid logged only failed requests for {x.host}, yet the lab's {x.detail} service saw the "
        "request arrive from the internet"),
    FlagKind.TUNNEL_BUT_ENDPOINT: lambda x: (
        f"Squid tunnelled {x.host} but the lab's service saw the request arrive through the "
        f"{x.detail}, and nothing of {x.host} from the internet"),
    FlagKind.OK_BUT_FRONT_ERROR: lambda x: (
        f"the step reports ok but the lab's service answered {x.detail}"),
    FlagKind.OK_BUT_SQUID_FAILED: lambda x: (
        f"the step reports ok but Squid only logged failures for {x.host}"),
    FlagKind.TUNNEL_WITHOUT_FRONT: lambda x: (
        f"Squid tunnelled {x.host} and the step reports ok, but none of the lab's services "
        "logged the "
        "request"),
    FlagKind.PROXY_PREDICTED_SQUID_SILENT: lambda x: (
        f"the clients' logic sends {x.host} to the proxy, yet Squid logged nothing and the step "
        "succeeded (and no service log can tell more)"),
    FlagKind.OK_WITHOUT_EVIDENCE: lambda x: (
        f"the step reports ok but neither Squid nor any of the lab's services saw a request for "
        f"{x.host}"),
    FlagKind.TUNNEL_ERROR_WITHOUT_SQUID: lambda x: (
        f"the step reports a proxy tunnel error but Squid logged nothing for {x.host}"),
}

PATH = {
    PathReason.PROXY_INTERNET: "the proxy reaches it over the internet",
    PathReason.PRIVATE_NAME_UNRESOLVED: ("the private API's name does not resolve outside the "
                                         "VPC, so the proxy cannot open the tunnel"),
    PathReason.S3_GATEWAY: "S3's public addresses are routed through the S3 gateway endpoint",
    PathReason.NO_S3_ROUTE: "no S3 gateway endpoint and no NAT: no route to S3",
    PathReason.INTERFACE_PRIVATE_DNS: ("private DNS points execute-api names at the interface "
                                       "endpoint"),
    PathReason.NO_EXECUTE_API_ROUTE: ("no execute-api interface endpoint with private DNS and no "
                                      "NAT: no route"),
    PathReason.NO_NAT: "the Lambda VPC has no NAT: direct internet traffic has no route",
    PathReason.PROXY_SELF_CONNECT: ("the proxy refuses a CONNECT for its own address (not an "
                                    "SSL port)"),
    PathReason.PROXY_TLS_PLAIN_PORT: ("the client speaks TLS to the proxy, whose port is plain "
                                      "HTTP: Squid cannot read the request"),
    PathReason.DYNAMODB_GATEWAY: ("DynamoDB's public addresses are routed through the DynamoDB "
                                  "gateway endpoint"),
    PathReason.INTERFACE_NAME: ("an endpoint-specific name resolves to the interface endpoint's "
                                "address in the VPC"),
    PathReason.SERVICE_PRIVATE_DNS: ("private DNS points the service's own name at its "
                                     "interface endpoint"),
}


def mismatch(f: RouteFact) -> str:
    kind = f" ({f.predicted_kind})" if f.predicted_kind else ""
    return (f"The clients' logic predicted {f.predicted_route}{kind} "
            f"({PATH[f.path_reason]}), not {f.route_guess}.")


def assemble(p: tuple[list[str], list[str], list[str]]) -> str:
    main, flags, mism = p
    text = "; ".join([_cap(main[0]), *main[1:]]) + "." if main else ""
    if flags:
        text += " Evidence disagrees: " + "; ".join(flags) + "."
    if mism:
        text += " " + " ".join(mism)
    return text


PARTS: dict[str, Callable[[Any], str]] = {
    "decision": decision, "squid": squid, "front": front,
    "endpoint-front": endpoint_front,
    "endpoint-inferred": lambda f: (
        f"Squid logged nothing for it and it succeeded, so the "
        f"{endpoint_name(f.endpoint_kind, f.host)} carried it (inferred: this backend "
        "keeps no log of that service)"),
    "squid-failed": squid_failed, "dns": dns, "direct-front": direct_front,
    "direct-inferred": lambda f: (
        "Squid logged nothing for it and it succeeded; this backend keeps no log of "
        "that service, so the path is inferred: direct, not through the proxy"),
    "nothing-seen": lambda f: (
        f"no Squid line and no service saw it; the step ended {f.outcome}"),
    "flag": lambda x: FLAG[x.kind](x), "mismatch": mismatch,
    "node-rule": node_rule,
    "assemble": assemble,
}


LABEL = {"s3": "S3", "web": "the web site", "regional-api": "the regional API",
         "private-api": "the private API"}


def condition(c: Condition) -> str:
    return {ConditionKind.VAR_SET: lambda: f"{c.variable} was set",
            ConditionKind.NO_PROXY_MATCHED: lambda: (
                f"{c.variable} matched the host {c.client} decides on"),
            ConditionKind.CLIENT_DIRECT: lambda: (
                "the client's own proxy logic chose a direct connection"),
            ConditionKind.LAYOUT: lambda: f"the layout had {c.key.replace('_', ' ')}",
            }[c.kind]()


def join(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def finding(f: Finding) -> str:
    label = _cap(LABEL.get(f.target, f.label))
    if not f.bypassed_in:
        text = (f"{label} crossed the proxy in every scenario that called it "
                f"({', '.join(f.crossed_in)})")
    elif not f.crossed_in:
        text = (f"{label} bypassed the proxy in every scenario that called it "
                f"({', '.join(f.bypassed_in)})")
    else:
        text = f"{label} bypassed the proxy only in {', '.join(f.bypassed_in)}"
        conds = join([condition(c) for c in f.explained_by])
        if f.explained_by and f.reasons:
            text += " - exactly where " + conds + " (" + "; ".join(
                f"{s}: {cause(d)}" for s, d in f.reasons.items()) + ")"
        elif f.explained_by:
            text += " - exactly where " + conds
            if f.acting and len(f.explained_by) > 1 and f.others:
                text += (f". These runs cannot separate them, but the clients' own logic "
                         f"acts on {join(f.acting)} only: without "
                         f"{join(f.others)} the decision is unchanged")
        else:
            text += " - no single variable or layout setting explains the split"
    if f.failed:
        text += ". It failed in " + ", ".join(f"{s} ({r}, {o})" for s, (r, o) in f.failed.items())
    if f.mixed:
        text += f". Repeated runs disagreed in {', '.join(f.mixed)}"
    return text + "."


def headline(c: Conclusion) -> str:
    if not c.findings:
        return "No probe steps were captured, so there is nothing to conclude."
    lab = LABEL
    parts = []
    if c.bypassing:
        what = join([lab[f.target] for f in c.bypassing])
        cond = {BypassBasis.ACTING: f" only when {join(c.acting)} matched them",
                BypassBasis.CLIENT_DIRECT: (" only where the clients' own proxy logic chose a "
                                            "direct connection"),
                }.get(c.basis or BypassBasis.SOME, " in some scenarios")
        where = "; ".join(f"{lab[f.target]}: {', '.join(f.bypassed_in)}" for f in c.bypassing)
        parts.append(f"{_cap(what)} bypassed the proxy{cond} ({where})")
    if c.always_bypassed:
        parts.append(join([lab[f.target] for f in c.always_bypassed])
                     + " never used the proxy")
    if c.never_bypassed:
        parts.append(join([lab[f.target] for f in c.never_bypassed])
                     + " always crossed the proxy")
    return _cap("; ".join(parts) + ".")


UNCHECKED: dict[UncheckedReason | None, str] = {
    UncheckedReason.SERVICE_NOT_LOGGED: "the lab keeps no log of that service",
    UncheckedReason.EVIDENCE_INCOMPLETE: "the capture notes that evidence as missing or partial",
    UncheckedReason.UNKNOWN_RESOURCE: "it names a resource the lab does not have",
    None: "the capture cannot tell",  # no reason recorded
}


def modified(files: list[str]) -> str:
    return ("evidence modified after capture (the content no longer matches the checksum "
            "run.json recorded for " + join(files) + ")")


# The loader's reasons for a capture it set aside (capture.SkipKind), as it says them.
SKIPPED: dict[SkipKind, str] = {
    SkipKind.NO_RUN_JSON: "not a capture (no run.json)",
    SkipKind.INCOMPLETE: "incomplete capture, no run.json ({detail})",
    SkipKind.INTERRUPTED: ("incomplete capture, no run.json (the run was interrupted or is "
                           "still running)"),
    SkipKind.UNREADABLE_JSON: "run.json is not readable JSON ({detail})",
    SkipKind.NEWER_FORMAT: ("run.json has format version {detail}; this proxylab reads up to "
                            "{max} (upgrade proxylab to read it)"),
    SkipKind.INVALID: "run.json is not a valid run record: {detail}",
}
