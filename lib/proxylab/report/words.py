"""Facts -> words, in English and Japanese: every sentence of the report that
states a result is written here, from the analysis' facts and nothing else.

The analysis hands over typed facts - :class:`~proxylab.analysis.routes.RouteFact`
(the route, the client's :class:`~proxylab.analysis.predict.Decision`, references
to the Squid, service and DNS rows), :class:`~proxylab.analysis.conclude.Finding`
and :class:`~proxylab.analysis.conclude.Condition` - and each language words
them with one function per fact kind. No language re-parses a log line or re-runs
the prediction, so the languages cannot disagree on a fact; what they say is
checkable: each rendering returns a :class:`Said` with the text *and* the fact
keys it stated, ``(scenario, step, route, kind, evidence)``, and a test requires
the same set of keys from both languages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxylab.analysis.conclude import Conclusion, Condition, Finding
from proxylab.analysis.predict import Decision
from proxylab.analysis.routes import DnsRef, Flag, RouteFact, ServiceRef, SquidRef
from proxylab.vocab import (
    BypassBasis,
    Client,
    ConditionKind,
    EndpointKind,
    EndpointSource,
    FlagKind,
    MatchKind,
    PathReason,
    ReasonKind,
    Route,
)

LANGS = ("en", "ja")
FactKey = tuple[str, str, str, str, str]  # (scenario or target, step, route/side, kind, evidence)


@dataclass(frozen=True)
class Said:
    """One rendered sentence and the facts it states."""

    text: str
    facts: frozenset[FactKey]


def _ref(file: str, line_no: int | None) -> str:
    return f"{file}:{line_no}" if line_no is not None else file


def _status(n: int | None, width: int = 0) -> str:
    return "-" if n is None else f"{n:0{width}d}"


# ------------------------------------------------------------------ step parts
# A step's "why" is a list of parts, each one fact; the list is the same in every
# language, each language has one phrase function per part kind.

Part = tuple[str, Any, FactKey]


def why_parts(f: RouteFact) -> list[Part]:
    """The facts one step's paragraph states, in order."""
    route = str(f.route)

    def key(kind: str, ev: str = "") -> FactKey:
        return (f.scenario, f.step, route, kind, ev)

    parts: list[Part] = [("decision", f.decision, key(str(f.decision.reason)))]
    sq = f.squid[0] if f.squid else None
    sq_key = key("squid", _ref("proxy_access.log", sq.line_no)) if sq else None
    svc = f.service
    svc_key = key("service", _ref("services.log", svc.line_no)) if svc else None
    guess = f.route_guess
    if guess == Route.PROXY:
        if sq is not None and sq_key:
            parts.append(("squid", sq, sq_key))
        if svc is not None and svc_key:
            parts.append(("front", svc, svc_key))
    elif guess == Route.ENDPOINT:
        if svc is not None and svc_key:
            parts.append(("endpoint-front", (f, svc), svc_key))
        else:
            parts.append(("endpoint-inferred", f, key("inferred")))
    elif guess == Route.FAILED_AT_PROXY:
        if sq is not None and sq_key:
            parts.append(("squid-failed", sq, sq_key))
        d = f.dns_from("proxy-vpc")
        if d is not None:
            parts.append(("dns", d, key("dns", _ref("dns.log", d.line_no))))
    elif guess == Route.DIRECT:
        if svc is not None and svc_key:
            parts.append(("direct-front", svc, svc_key))
        else:
            parts.append(("direct-inferred", f, key("inferred")))
    elif guess == Route.FAILED_DIRECT:
        parts.append(("nothing-seen", f, key("no-evidence")))
        d = f.dns_from("lambda-vpc")
        if d is not None:
            parts.append(("dns", d, key("dns", _ref("dns.log", d.line_no))))
    parts += [("flag", fl, key(str(fl.kind))) for fl in f.flags]
    if not f.flags and f.prediction_matches is False:
        parts.append(("mismatch", f, key(str(f.path_reason))))
    return parts


def why(f: RouteFact, lang: str) -> Said:
    """One step's paragraph: the client's decision, then what the evidence shows."""
    w = _WORDS[lang]
    said: dict[str, list[str]] = {"main": [], "flag": [], "mismatch": []}
    facts: set[FactKey] = set()
    for kind, payload, key in why_parts(f):
        text = w[kind](payload)
        if text:
            said["flag" if kind == "flag" else "mismatch" if kind == "mismatch" else "main"
                 ].append(text)
            facts.add(key)
    return Said(w["assemble"]((said["main"], said["flag"], said["mismatch"])), frozenset(facts))


# -------------------------------------------------------------------- English

def _cap(text: str) -> str:
    """Capitalise our own first word, never a client's or a variable's name."""
    first = text.split(" ", 1)[0]
    if first in ("botocore", "urllib", "botocore's") or "_" in first or "=" in first:
        return text
    return text[:1].upper() + text[1:]


_EN_SOURCE = {EndpointSource.AWS_ENDPOINT_URL_S3: "from AWS_ENDPOINT_URL_S3",
              EndpointSource.AWS_ENDPOINT_URL: "from AWS_ENDPOINT_URL",
              EndpointSource.DEFAULT: "the regional default",
              EndpointSource.LEGACY_GLOBAL: "us-east-1's legacy global endpoint"}


def en_cause(d: Decision) -> str:
    """Why the client went direct or to the proxy, without the consequence."""
    var = d.no_proxy_variable or "NO_PROXY"
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
    if d.reason == ReasonKind.NO_ENTRY_MATCHED:
        return f"no {var} entry ({d.no_proxy_value!r}) matches '{d.compared}'"
    return "no NO_PROXY is set"


def _en_decision(d: Decision) -> str:
    client = str(d.client)
    if d.proxy is None:
        effect = f"so {client} connected directly"
        if d.client == Client.BOTOCORE and d.request_host != d.decision_host:
            effect += f" to '{d.request_host}'"
    elif d.client == Client.BOTOCORE:
        effect = f"so botocore used {d.proxy} (from {d.proxy_variable})"
    elif d.scheme == "https":
        effect = f"so urllib sent a CONNECT to {d.proxy} (from {d.proxy_variable})"
    else:
        effect = (f"so urllib sent the request to {d.proxy} (from {d.proxy_variable}) as an "
                  "absolute-URI request, no CONNECT")
    text = f"{en_cause(d)}, {effect}"
    if d.proxy is not None and d.request_host_match is not None:
        text += (f" (the {d.no_proxy_variable or 'NO_PROXY'} entry "
                 f"'{d.request_host_match.entry}' matches the request host "
                 f"'{d.request_host}', but botocore decides against its endpoint host, once "
                 "per client)")
    if d.client == Client.BOTOCORE:
        src = _EN_SOURCE.get(d.endpoint_source, str(d.endpoint_source)) if d.endpoint_source \
            else ""
        where = (f"botocore's S3 endpoint is '{d.decision_host}' ({src}"
                 + (", which also switches to path-style requests" if d.path_style else "")
                 + ")")
        return f"{where}; {text}"
    return text


def _en_endpoint_name(kind: EndpointKind | None, host: str) -> str:
    if kind == EndpointKind.GATEWAY:
        return "S3 gateway endpoint"
    return "execute-api interface endpoint" if ".execute-api." in host else "interface endpoint"


_EN_HIER = {"HIER_NONE": " (no upstream contacted)",
            "HIER_DIRECT": " (Squid itself connected to the origin server)"}
_EN_RESOLVER = {"proxy-vpc": "the proxy VPC's resolver", "lambda-vpc": "the Lambda VPC's resolver",
                "public": "the public resolver"}


def _en_squid(s: SquidRef) -> str:
    return (f"Squid logged {s.method} {s.url} {s.squid_code}/{_status(s.http_status)} "
            f"({_ref('proxy_access.log', s.line_no)})")


def _en_front(h: ServiceRef) -> str:
    return (f"the {h.service} front saw it from {h.source_ip} (the proxy's side) and answered "
            f"{_status(h.status)} ({_ref('services.log', h.line_no)})")


def _en_endpoint_front(p: tuple[RouteFact, ServiceRef]) -> str:
    f, h = p
    vpce = f" {h.vpce_id}" if h.vpce_id else ""
    return (f"the {_en_endpoint_name(f.endpoint_kind, f.host)}{vpce} carried it (the front saw "
            f"it arrive via {h.via} from {h.source_ip}, status {_status(h.status)}; "
            f"{_ref('services.log', h.line_no)})")


def _en_squid_failed(s: SquidRef) -> str:
    return (f"Squid answered {s.squid_code}/{_status(s.http_status, 3)} with {s.hierarchy}"
            f"{_EN_HIER.get(s.hierarchy, '')} ({_ref('proxy_access.log', s.line_no)})")


def _en_dns(d: DnsRef) -> str:
    return (f"{_EN_RESOLVER.get(d.resolver, d.resolver + ' resolver')} answered {d.answer} for "
            f"{d.name} ({_ref('dns.log', d.line_no)})")


def _en_direct_front(h: ServiceRef) -> str:
    return (f"the {h.service} front saw it from the internet ({h.source_ip}) with no Squid "
            f"line: a direct (NAT) path ({_ref('services.log', h.line_no)})")


_EN_FLAG: dict[FlagKind, Callable[[Flag], str]] = {
    FlagKind.SQUID_FAILED_FRONT_SAW: lambda x: (
        f"Squid logged only failed requests for {x.host}, yet the {x.detail} front saw the "
        "request arrive from the internet"),
    FlagKind.TUNNEL_BUT_ENDPOINT: lambda x: (
        f"Squid tunnelled {x.host} but the front saw the request arrive through the "
        f"{x.detail}, and nothing of {x.host} from the internet"),
    FlagKind.OK_BUT_FRONT_ERROR: lambda x: f"the step reports ok but the front answered {x.detail}",
    FlagKind.OK_BUT_SQUID_FAILED: lambda x: (
        f"the step reports ok but Squid only logged failures for {x.host}"),
    FlagKind.TUNNEL_WITHOUT_FRONT: lambda x: (
        f"Squid tunnelled {x.host} and the step reports ok, but no service front logged the "
        "request"),
    FlagKind.PROXY_PREDICTED_SQUID_SILENT: lambda x: (
        f"the clients' logic sends {x.host} to the proxy, yet Squid logged nothing and the step "
        "succeeded (and no front log can tell more)"),
    FlagKind.OK_WITHOUT_EVIDENCE: lambda x: (
        f"the step reports ok but neither Squid nor any service front saw a request for "
        f"{x.host}"),
    FlagKind.TUNNEL_ERROR_WITHOUT_SQUID: lambda x: (
        f"the step reports a proxy tunnel error but Squid logged nothing for {x.host}"),
}

_EN_PATH = {
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
}


def _en_mismatch(f: RouteFact) -> str:
    kind = f" ({f.predicted_kind})" if f.predicted_kind else ""
    return (f"The clients' logic predicted {f.predicted_route}{kind} "
            f"({_EN_PATH[f.path_reason]}), not {f.route_guess}.")


def _en_assemble(p: tuple[list[str], list[str], list[str]]) -> str:
    main, flags, mism = p
    text = "; ".join([_cap(main[0]), *main[1:]]) + "." if main else ""
    if flags:
        text += " Evidence disagrees: " + "; ".join(flags) + "."
    if mism:
        text += " " + " ".join(mism)
    return text


# ------------------------------------------------------------------- Japanese

_JA_SOURCE = {EndpointSource.AWS_ENDPOINT_URL_S3: "AWS_ENDPOINT_URL_S3 による",
              EndpointSource.AWS_ENDPOINT_URL: "AWS_ENDPOINT_URL による",
              EndpointSource.DEFAULT: "リージョンの既定値",
              EndpointSource.LEGACY_GLOBAL: "us-east-1 の従来のグローバルエンドポイント"}


def ja_cause(d: Decision) -> str:
    var = d.no_proxy_variable or "NO_PROXY"
    if d.reason == ReasonKind.NO_PROXY_MATCHED and d.match is not None:
        if d.match.how == MatchKind.STAR:
            return f"{var}='*' はすべてのホストを迂回させる"
        if d.match.how == MatchKind.EXACT:
            return f"{var} のエントリ '{d.match.entry}' が '{d.compared}' と一致する"
        return (f"{var} のエントリ '{d.match.entry}' が '{d.compared}' にドメインのサフィックス"
                "として一致する")
    if d.reason == ReasonKind.PROXY_CANCELLED:
        return (f"{d.cancelled_by} が空の値で設定されており {str(d.cancelled_by).upper()} を"
                "打ち消す")
    if d.reason == ReasonKind.NO_PROXY_VARIABLE:
        return f"{d.scheme}_proxy 変数が設定されていない"
    if d.reason == ReasonKind.NO_ENTRY_MATCHED:
        return f"{var} ({d.no_proxy_value!r}) に '{d.compared}' に一致するエントリがない"
    return "NO_PROXY が設定されていない"


def _ja_decision(d: Decision) -> str:
    client = str(d.client)
    if d.proxy is None:
        to = f" '{d.request_host}' に" if (d.client == Client.BOTOCORE
                                           and d.request_host != d.decision_host) else ""
        effect = f"{client} は{to}直接接続しました"
    elif d.client == Client.BOTOCORE:
        effect = f"botocore は {d.proxy} ({d.proxy_variable} の値) を使いました"
    elif d.scheme == "https":
        effect = f"urllib は {d.proxy} ({d.proxy_variable} の値) に CONNECT を送りました"
    else:
        effect = (f"urllib は {d.proxy} ({d.proxy_variable} の値) に、CONNECT ではなく絶対 URI の"
                  "リクエストを送りました")
    text = f"{ja_cause(d)}ため、{effect}"
    if d.proxy is not None and d.request_host_match is not None:
        text += (f" ({d.no_proxy_variable or 'NO_PROXY'} のエントリ "
                 f"'{d.request_host_match.entry}' はリクエスト先ホスト '{d.request_host}' に一致"
                 "しますが、botocore はクライアントごとに一度、エンドポイントのホストに対して判定"
                 "します)")
    if d.client == Client.BOTOCORE:
        src = _JA_SOURCE.get(d.endpoint_source, str(d.endpoint_source)) if d.endpoint_source \
            else ""
        style = "。パス形式のリクエストにもなります" if d.path_style else ""
        return (f"botocore の S3 エンドポイントは '{d.decision_host}' ({src}{style}) で、"
                f"botocore はクライアント作成時に '{d.compared}' に対してプロキシを使うかを一度"
                f"だけ判定します。{text}")
    return text


def _ja_endpoint_name(kind: EndpointKind | None, host: str) -> str:
    if kind == EndpointKind.GATEWAY:
        return "S3 ゲートウェイエンドポイント"
    return ("execute-api インターフェイスエンドポイント" if ".execute-api." in host
            else "インターフェイスエンドポイント")


_JA_HIER = {"HIER_NONE": ": 上流に接続していない",
            "HIER_DIRECT": ": Squid 自身がオリジンに接続した"}
_JA_RESOLVER = {"proxy-vpc": "プロキシ VPC のリゾルバー", "lambda-vpc": "Lambda VPC のリゾルバー",
                "public": "パブリックリゾルバー"}


def _ja_squid(s: SquidRef) -> str:
    return (f"Squid は {s.method} {s.url} を {s.squid_code}/{_status(s.http_status)} と記録"
            f"しました ({_ref('proxy_access.log', s.line_no)})")


def _ja_front(h: ServiceRef) -> str:
    return (f"{h.service} のフロントはプロキシ側の {h.source_ip} から受け、{_status(h.status)} を"
            f"返しました ({_ref('services.log', h.line_no)})")


def _ja_endpoint_front(p: tuple[RouteFact, ServiceRef]) -> str:
    f, h = p
    vpce = f" {h.vpce_id}" if h.vpce_id else ""
    return (f"{_ja_endpoint_name(f.endpoint_kind, f.host)}{vpce} 経由でサービスに届きました "
            f"(フロントは {h.via} 経由で {h.source_ip} から受け、状態 {_status(h.status)}; "
            f"{_ref('services.log', h.line_no)})")


def _ja_squid_failed(s: SquidRef) -> str:
    return (f"Squid は {s.squid_code}/{_status(s.http_status, 3)} ({s.hierarchy}"
            f"{_JA_HIER.get(s.hierarchy, '')}) を返しました "
            f"({_ref('proxy_access.log', s.line_no)})")


def _ja_dns(d: DnsRef) -> str:
    return (f"{_JA_RESOLVER.get(d.resolver, d.resolver + ' リゾルバー')}の応答は {d.answer} でした "
            f"({d.name}; {_ref('dns.log', d.line_no)})")


def _ja_direct_front(h: ServiceRef) -> str:
    return (f"{h.service} のフロントが Squid の記録なしにインターネット側 ({h.source_ip}) から"
            f"受けました: 直接 (NAT) の経路です ({_ref('services.log', h.line_no)})")


_JA_FLAG: dict[FlagKind, Callable[[Flag], str]] = {
    FlagKind.SQUID_FAILED_FRONT_SAW: lambda x: (
        f"Squid は {x.host} の失敗したリクエストしか記録していないのに、{x.detail} のフロントは"
        "インターネットからリクエストを受けています"),
    FlagKind.TUNNEL_BUT_ENDPOINT: lambda x: (
        f"Squid は {x.host} をトンネルしたのに、フロントは {x.detail} 経由で受けており、"
        f"インターネットからの {x.host} の記録はありません"),
    FlagKind.OK_BUT_FRONT_ERROR: lambda x: (
        f"ステップは ok と報告していますが、フロントは {x.detail} を返しました"),
    FlagKind.OK_BUT_SQUID_FAILED: lambda x: (
        f"ステップは ok と報告していますが、Squid は {x.host} の失敗しか記録していません"),
    FlagKind.TUNNEL_WITHOUT_FRONT: lambda x: (
        f"Squid は {x.host} をトンネルしステップも ok ですが、どのサービスのフロントも"
        "記録していません"),
    FlagKind.PROXY_PREDICTED_SQUID_SILENT: lambda x: (
        f"クライアントのロジックでは {x.host} はプロキシに送られるはずですが、Squid には記録が"
        "なく、ステップは成功しました (フロントのログもありません)"),
    FlagKind.OK_WITHOUT_EVIDENCE: lambda x: (
        f"ステップは ok と報告していますが、Squid もサービスのフロントも {x.host} への"
        "リクエストを記録していません"),
    FlagKind.TUNNEL_ERROR_WITHOUT_SQUID: lambda x: (
        f"ステップはプロキシのトンネルエラーを報告していますが、Squid には {x.host} の記録が"
        "ありません"),
}

_JA_PATH = {
    PathReason.PROXY_INTERNET: "プロキシはインターネット経由で到達します",
    PathReason.PRIVATE_NAME_UNRESOLVED: ("プライベート API の名前は VPC の外では解決できないため、"
                                         "プロキシはトンネルを開けません"),
    PathReason.S3_GATEWAY: ("S3 のパブリックアドレスは S3 ゲートウェイエンドポイントへ"
                            "ルーティングされます"),
    PathReason.NO_S3_ROUTE: "S3 ゲートウェイエンドポイントも NAT もなく、S3 への経路がありません",
    PathReason.INTERFACE_PRIVATE_DNS: ("プライベート DNS が execute-api の名前をインターフェイス"
                                       "エンドポイントに向けます"),
    PathReason.NO_EXECUTE_API_ROUTE: ("プライベート DNS 付きの execute-api インターフェイス"
                                      "エンドポイントも NAT もなく、経路がありません"),
    PathReason.NO_NAT: "Lambda VPC には NAT がなく、インターネットへの直接の経路がありません",
}


def _ja_mismatch(f: RouteFact) -> str:
    kind = f" ({f.predicted_kind})" if f.predicted_kind else ""
    return (f"クライアントのロジックの予測は {f.predicted_route}{kind} ({_JA_PATH[f.path_reason]}) "
            f"でしたが、観測は {f.route_guess} でした。")


def _ja_assemble(p: tuple[list[str], list[str], list[str]]) -> str:
    main, flags, mism = p
    text = "。".join(main) + "。" if main else ""
    if flags:
        text += " 証跡が矛盾しています: " + "; ".join(flags) + "。"
    if mism:
        text += " " + " ".join(mism)
    return text


_WORDS: dict[str, dict[str, Callable[[Any], str]]] = {
    "en": {
        "decision": _en_decision, "squid": _en_squid, "front": _en_front,
        "endpoint-front": _en_endpoint_front,
        "endpoint-inferred": lambda f: (
            f"Squid logged nothing for it and it succeeded, so the "
            f"{_en_endpoint_name(f.endpoint_kind, f.host)} carried it (inferred: this backend "
            "has no front log for the service)"),
        "squid-failed": _en_squid_failed, "dns": _en_dns, "direct-front": _en_direct_front,
        "direct-inferred": lambda f: (
            "Squid logged nothing for it and it succeeded; this backend has no front log for "
            "the service, so the path is inferred: direct, not through the proxy"),
        "nothing-seen": lambda f: (
            f"no Squid line and no front saw it; the step ended {f.outcome}"),
        "flag": lambda x: _EN_FLAG[x.kind](x), "mismatch": _en_mismatch,
        "assemble": _en_assemble,
    },
    "ja": {
        "decision": _ja_decision, "squid": _ja_squid, "front": _ja_front,
        "endpoint-front": _ja_endpoint_front,
        "endpoint-inferred": lambda f: (
            "Squid に記録がなくステップは成功したため、"
            f"{_ja_endpoint_name(f.endpoint_kind, f.host)}が運んだと推定しました "
            "(このバックエンドにはこのサービスのフロントのログがありません)"),
        "squid-failed": _ja_squid_failed, "dns": _ja_dns, "direct-front": _ja_direct_front,
        "direct-inferred": lambda f: (
            "Squid に記録がなくステップは成功しました。このバックエンドにはこのサービスのフロントの"
            "ログがないため、プロキシを通らない直接の経路と推定しました"),
        "nothing-seen": lambda f: (
            f"Squid にもサービス側にも記録がなく、ステップは {f.outcome} で終わりました"),
        "flag": lambda x: _JA_FLAG[x.kind](x), "mismatch": _ja_mismatch,
        "assemble": _ja_assemble,
    },
}


def flags(f: RouteFact, lang: str) -> Said:
    """The ways one step's evidence contradicts itself (the checks section)."""
    w = _JA_FLAG if lang == "ja" else _EN_FLAG
    return Said("; ".join(w[x.kind](x) for x in f.flags),
                frozenset((f.scenario, f.step, str(f.route), str(x.kind), "") for x in f.flags))


# ----------------------------------------------------------------- conclusion

LABEL = {"en": {"s3": "S3", "web": "the web site", "regional-api": "the regional API",
                "private-api": "the private API"},
         "ja": {"s3": "S3", "web": "Web サイト", "regional-api": "リージョン API",
                "private-api": "プライベート API"}}


def condition(c: Condition, lang: str) -> str:
    if lang == "ja":
        return {ConditionKind.VAR_SET: lambda: f"{c.variable} が設定されていた",
                ConditionKind.NO_PROXY_MATCHED: lambda: (
                    f"{c.variable} が {c.client} の判定対象ホストに一致した"),
                ConditionKind.CLIENT_DIRECT: lambda: (
                    "クライアント自身のプロキシ判定が直接接続を選んだ"),
                ConditionKind.LAYOUT: lambda: f"構成に {c.key.replace('_', ' ')} があった",
                }[c.kind]()
    return {ConditionKind.VAR_SET: lambda: f"{c.variable} was set",
            ConditionKind.NO_PROXY_MATCHED: lambda: (
                f"{c.variable} matched the host {c.client} decides on"),
            ConditionKind.CLIENT_DIRECT: lambda: (
                "the client's own proxy logic chose a direct connection"),
            ConditionKind.LAYOUT: lambda: f"the layout had {c.key.replace('_', ' ')}",
            }[c.kind]()


def finding_facts(f: Finding) -> frozenset[FactKey]:
    """What a finding's sentence states, in every language."""
    t = f.target
    keys: set[FactKey] = {(t, s, "bypassed", "", "") for s in f.bypassed_in}
    keys |= {(t, s, "crossed", "", "") for s in f.crossed_in}
    keys |= {(t, "", "explained", str(c.kind), c.variable or c.key) for c in f.explained_by}
    if (f.bypassed_in and f.crossed_in and f.acting and len(f.explained_by) > 1 and f.others
            and not f.reasons):
        keys |= {(t, "", "acting", v, "") for v in f.acting}
    keys |= {(t, s, "reason", str(d.reason), "") for s, d in f.reasons.items()}
    keys |= {(t, s, "failed", route, outcome) for s, (route, outcome) in f.failed.items()}
    keys |= {(t, s, "mixed", "", "") for s in f.mixed}
    return frozenset(keys)


def _join_en(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def finding(f: Finding, lang: str) -> Said:
    return Said((_finding_ja if lang == "ja" else _finding_en)(f), finding_facts(f))


def _finding_en(f: Finding) -> str:
    label = _cap(LABEL["en"].get(f.target, f.label))
    if not f.bypassed_in:
        text = (f"{label} crossed the proxy in every scenario that called it "
                f"({', '.join(f.crossed_in)})")
    elif not f.crossed_in:
        text = (f"{label} bypassed the proxy in every scenario that called it "
                f"({', '.join(f.bypassed_in)})")
    else:
        text = f"{label} bypassed the proxy only in {', '.join(f.bypassed_in)}"
        conds = _join_en([condition(c, "en") for c in f.explained_by])
        if f.explained_by and f.reasons:
            text += " - exactly where " + conds + " (" + "; ".join(
                f"{s}: {en_cause(d)}" for s, d in f.reasons.items()) + ")"
        elif f.explained_by:
            text += " - exactly where " + conds
            if f.acting and len(f.explained_by) > 1 and f.others:
                text += (f". These runs cannot separate them, but the clients' own logic "
                         f"acts on {_join_en(f.acting)} only: without "
                         f"{_join_en(f.others)} the decision is unchanged")
        else:
            text += " - no single variable or layout setting explains the split"
    if f.failed:
        text += ". It failed in " + ", ".join(f"{s} ({r}, {o})" for s, (r, o) in f.failed.items())
    if f.mixed:
        text += f". Repeated runs disagreed in {', '.join(f.mixed)}"
    return text + "."


def _finding_ja(f: Finding) -> str:
    label = LABEL["ja"].get(f.target, f.label)
    if not f.bypassed_in:
        text = (f"{label}は、呼び出したすべてのシナリオ ({', '.join(f.crossed_in)}) で"
                "プロキシを経由しました")
    elif not f.crossed_in:
        text = (f"{label}は、呼び出したすべてのシナリオ ({', '.join(f.bypassed_in)}) で"
                "プロキシを経由しませんでした")
    else:
        text = f"{label}がプロキシを迂回したのは {', '.join(f.bypassed_in)} だけです"
        if f.explained_by:
            text += "。これはちょうど " + "、".join(condition(c, "ja") for c in f.explained_by) + \
                " シナリオです"
            if f.reasons:
                text += " (" + "; ".join(f"{s}: {ja_cause(d)}" for s, d in f.reasons.items()) + ")"
            elif f.acting and len(f.explained_by) > 1 and f.others:
                text += (f"。これらの実行だけでは区別できませんが、クライアント自身のロジックが"
                         f"見るのは {'、'.join(f.acting)} だけで、{'、'.join(f.others)} を外しても"
                         "判定は変わりません")
        else:
            text += "。単一の変数や構成では説明できません"
    if f.failed:
        text += "。失敗: " + "、".join(f"{s} ({r}, {o})" for s, (r, o) in f.failed.items())
    if f.mixed:
        text += f"。繰り返し実行で結果が分かれたシナリオ: {', '.join(f.mixed)}"
    return text + "。"


def headline_facts(c: Conclusion) -> frozenset[FactKey]:
    keys: set[FactKey] = {("headline", f.target, "bypassed", str(c.basis), "")
                          for f in c.bypassing}
    keys |= {("headline", "", "acting", v, "") for v in c.acting
             if c.basis == BypassBasis.ACTING}
    keys |= {("headline", f.target, "always-bypassed", "", "") for f in c.always_bypassed}
    keys |= {("headline", f.target, "never-bypassed", "", "") for f in c.never_bypassed}
    return frozenset(keys)


def headline(c: Conclusion, lang: str) -> Said:
    return Said((_headline_ja if lang == "ja" else _headline_en)(c), headline_facts(c))


def _headline_en(c: Conclusion) -> str:
    if not c.findings:
        return "No probe steps were captured, so there is nothing to conclude."
    lab = LABEL["en"]
    parts = []
    if c.bypassing:
        what = _join_en([lab[f.target] for f in c.bypassing])
        cond = {BypassBasis.ACTING: f" only when {_join_en(c.acting)} matched them",
                BypassBasis.CLIENT_DIRECT: (" only where the clients' own proxy logic chose a "
                                            "direct connection"),
                }.get(c.basis or BypassBasis.SOME, " in some scenarios")
        where = "; ".join(f"{lab[f.target]}: {', '.join(f.bypassed_in)}" for f in c.bypassing)
        parts.append(f"{_cap(what)} bypassed the proxy{cond} ({where})")
    if c.always_bypassed:
        parts.append(_join_en([lab[f.target] for f in c.always_bypassed])
                     + " never used the proxy")
    if c.never_bypassed:
        parts.append(_join_en([lab[f.target] for f in c.never_bypassed])
                     + " always crossed the proxy")
    return _cap("; ".join(parts) + ".")


def _headline_ja(c: Conclusion) -> str:
    if not c.findings:
        return "プローブのステップが記録されていないため、結論はありません。"
    lab = LABEL["ja"]
    parts = []
    if c.bypassing:
        what = "と".join(lab[f.target] for f in c.bypassing)
        where = "; ".join(f"{lab[f.target]}: {', '.join(f.bypassed_in)}" for f in c.bypassing)
        cond = {BypassBasis.ACTING: f"{'と'.join(c.acting)} が一致したときだけ",
                BypassBasis.CLIENT_DIRECT: ("クライアント自身のプロキシ判定が直接接続を選んだ"
                                            "ときだけ"),
                }.get(c.basis or BypassBasis.SOME, "一部のシナリオで")
        parts.append(f"{what}は、{cond}プロキシを迂回しました ({where})")
    if c.always_bypassed:
        parts.append("と".join(lab[f.target] for f in c.always_bypassed)
                     + "は常にプロキシを迂回しました")
    if c.never_bypassed:
        parts.append("と".join(lab[f.target] for f in c.never_bypassed)
                     + "は常にプロキシを経由しました")
    return "。".join(parts) + "。"


__all__ = ["LANGS", "Said", "condition", "finding", "flags", "headline", "why", "why_parts"]
