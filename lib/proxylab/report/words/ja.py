"""The report's sentences in Japanese: one function per fact kind, the same kinds
as :mod:`proxylab.report.words.en`."""

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

SOURCE = {EndpointSource.AWS_ENDPOINT_URL_S3: "AWS_ENDPOINT_URL_S3 による",
          EndpointSource.AWS_ENDPOINT_URL: "AWS_ENDPOINT_URL による",
          EndpointSource.DEFAULT: "リージョンの既定値",
          EndpointSource.LEGACY_GLOBAL: ("従来のグローバルエンドポイント。リージョン別を"
                                         "指定しない限り botocore はこのサービスとリージョン"
                                         "でこれを使います"),
          EndpointSource.GLOBAL: "サービス唯一のグローバルエンドポイント",
          EndpointSource.SERVICE_VARIABLE: "サービスの AWS_ENDPOINT_URL_ 変数による",
          EndpointSource.CLIENT_ARGUMENT: "クライアントの endpoint_url 引数による"}
FLAGS = {"dualstack": "デュアルスタック", "fips": "FIPS"}


NODE_CLIENT = {Client.AWS_SDK_JS_V3: "AWS SDK for JavaScript v3",
               Client.NODE_FETCH: "Node の fetch", Client.NODE_HTTP: "Node の https.request"}
NODE_RULE = {
    NoProxyRule.UNDICI_7: "undici 7 (Node {v} の fetch) は先頭の '*.' や '.' を取り除き、"
                          "NO_PROXY のどのエントリもホストとそのサブドメインに一致させます",
    NoProxyRule.UNDICI_6: "undici 6 (Node {v} の fetch) は、'.' や '*' で始まらないエントリをホスト"
                          "そのものにだけ、始まるエントリを単なる末尾の文字列として一致させます",
    NoProxyRule.NODE_HTTP: "Node {v} の http.request は、素の NO_PROXY エントリをホストそのもの "
                           "(または host:port) にだけ一致させ、'.x' は x とそのサブドメインに、"
                           "'*.x' はサブドメインにだけ一致させます",
    NoProxyRule.NODE_HTTP_NO_BOUNDARY: "Node {v} の http.request は、素の NO_PROXY エントリを"
                                       "ホストそのもの (または host:port) にだけ一致させ、'.x' は"
                                       "ラベルの境界に関係なく x で終わるすべてのホストに "
                                       "('.ample.com' は example.com にも)、'*.x' はサブドメイン"
                                       "にだけ一致させます",
}


def client_name(d: Decision) -> str:
    name = NODE_CLIENT.get(d.client, str(d.client))
    return name.replace("https.request", "http.request") if d.scheme == "http" else name


def node_rule(d: Decision) -> str:
    """Node クライアント自身の NO_PROXY の規則 (このリクエストを決めたもの)。"""
    return "クライアント自身の規則では、" + NODE_RULE[d.rule].format(v=d.runtime_version) \
        if d.rule else ""


def node_cause(d: Decision) -> str | None:
    if d.reason == ReasonKind.CLIENT_IGNORES_ENV:
        return ("AWS SDK for JavaScript v3 は HTTP_PROXY・HTTPS_PROXY・NO_PROXY を一切読まない "
                "(NodeHttpHandler が独自の https.Agent を作る)")
    if d.reason == ReasonKind.ENV_PROXY_OFF:
        return (f"Node {d.runtime_version} の {client_name(d)} は NODE_USE_ENV_PROXY=1 (または "
                "--use-env-proxy) のときだけプロキシ変数を読むが、それが設定されていない")
    if d.reason == ReasonKind.ENV_PROXY_UNSUPPORTED:
        return (f"Node {d.runtime_version} には NODE_USE_ENV_PROXY がない (22.21 と 24.5 で導入) "
                f"ので、設定の有無にかかわらず {client_name(d)} はプロキシ変数を読まない")
    return None


def cause(d: Decision) -> str:
    var = d.no_proxy_variable or "NO_PROXY"
    if d.client.node and (text := node_cause(d)) is not None:
        return text
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
    if d.reason == ReasonKind.CONFIG_PROXIES:
        return ("クライアントの Config(proxies=...) がプロキシを指定しており、botocore はプロキシ"
                "変数も NO_PROXY も読まない")
    if d.reason == ReasonKind.NO_ENTRY_MATCHED:
        return f"{var} ({d.no_proxy_value!r}) に '{d.compared}' に一致するエントリがない"
    return "NO_PROXY が設定されていない"


def decision(d: Decision) -> str:
    client = client_name(d)
    if d.proxy is None:
        to = f" '{d.request_host}' に" if (
            (d.client == Client.BOTOCORE and d.request_host != d.decision_host)
            or d.client == Client.AWS_SDK_JS_V3) else ""
        effect = f"{client} は{to}直接接続しました"
    elif d.client.node:
        via = ("に CONNECT を送りました" if d.scheme == "https"
               else "に、CONNECT ではなく絶対 URI のリクエストを送りました")
        effect = f"{client} は {d.proxy} ({d.proxy_variable} の値) {via}"
    elif d.proxy_tls:
        effect = (f"{client} は HTTP を送る前にプロキシ {d.proxy} ({d.proxy_variable} の値: "
                  "https:// のプロキシ URL) そのものと TLS 接続を始めました")
    elif d.proxy_self_connect:
        effect = (f"urllib は http:// の URL に https:// のプロキシ URL ({d.proxy}, "
                  f"{d.proxy_variable} の値) を与えられ、プロキシ自身のアドレス "
                  f"{d.proxy_self_connect} への CONNECT をプロキシに送りました")
    elif d.client == Client.BOTOCORE:
        effect = f"botocore は {d.proxy} ({d.proxy_variable} の値) を使いました"
    elif d.scheme == "https":
        effect = f"urllib は {d.proxy} ({d.proxy_variable} の値) に CONNECT を送りました"
    else:
        effect = (f"urllib は {d.proxy} ({d.proxy_variable} の値) に、CONNECT ではなく絶対 URI の"
                  "リクエストを送りました")
    text = f"{cause(d)}ため、{effect}"
    if d.proxy is not None and d.request_host_match is not None:
        text += (f" ({d.no_proxy_variable or 'NO_PROXY'} のエントリ "
                 f"'{d.request_host_match.entry}' はリクエスト先ホスト '{d.request_host}' に一致"
                 "しますが、botocore はクライアントごとに一度、エンドポイントのホストに対して判定"
                 "します)")
    if d.client == Client.BOTOCORE:
        src = SOURCE.get(d.endpoint_source, str(d.endpoint_source)) if d.endpoint_source \
            else "ホストのサービスの既定クライアントと仮定"
        if d.endpoint_source == EndpointSource.SERVICE_VARIABLE and d.endpoint_variable:
            src = f"{d.endpoint_variable} による"
        kinds = [FLAGS[f] for f in d.endpoint_flags if f in FLAGS]
        if kinds:
            src = (src + "、" if src else "") + "・".join(kinds)
        style = "。パス形式のリクエストにもなります" if d.path_style else ""
        inner = f"{src}{style}".removeprefix("。")
        return (f"botocore の {d.service or 's3'} エンドポイントは '{d.decision_host}' "
                + (f"({inner}) " if inner else "") + "で、"
                f"botocore はクライアント作成時に '{d.compared}' に対してプロキシを使うかを一度"
                f"だけ判定します。{text}")
    return text


def endpoint_name(kind: EndpointKind | None, host: str) -> str:
    if kind == EndpointKind.GATEWAY:
        return "S3 ゲートウェイエンドポイント"
    return ("execute-api インターフェイスエンドポイント" if ".execute-api." in host
            else "インターフェイスエンドポイント")


HIER = {"HIER_NONE": ": 上流に接続していない",
        "HIER_DIRECT": ": Squid 自身がオリジンに接続した"}
RESOLVER = {"proxy-vpc": "プロキシ VPC のリゾルバー", "lambda-vpc": "Lambda VPC のリゾルバー",
            "public": "パブリックリゾルバー"}


def squid(s: SquidRef) -> str:
    return (f"Squid は {s.method} {s.url} を {s.squid_code}/{status_text(s.http_status)} と記録"
            f"しました ({ref('proxy_access.log', s.line_no)})")


def front(h: ServiceRef) -> str:
    return (f"{h.service} のサービス (ラボ) はプロキシ側の {h.source_ip} から受け、"
            f"{status_text(h.status)} を"
            f"返しました ({ref('services.log', h.line_no)})")


def endpoint_front(p: tuple[RouteFact, ServiceRef]) -> str:
    f, h = p
    vpce = f" {h.vpce_id}" if h.vpce_id else ""
    return (f"{endpoint_name(f.endpoint_kind, f.host)}{vpce} 経由でサービスに届きました "
            f"(ラボのサービスは {h.via} 経由で {h.source_ip} から受け、"
            f"状態 {status_text(h.status)}; "
            f"{ref('services.log', h.line_no)})")


DENIAL = {
    "auth-required": "。プロキシが認証情報を求めましたが、関数は送らなかったか誤っていました",
    "not-on-allowlist": "。このホストはプロキシの許可リストにありません",
    "refused-by-rules": "。プロキシ自身の規則 (既定のハードニング) で拒否されました",
}


def squid_failed(s: SquidRef) -> str:
    why = DENIAL.get(str(s.denial), "") if s.denial else ""
    if s.url.startswith("error:"):
        why += (f"。Squid は {s.url} と記録しました: 平文 HTTP のポートに届いたものが HTTP "
                "リクエストではありませんでした")
    return (f"Squid は {s.squid_code}/{status_text(s.http_status, 3)} ({s.hierarchy}"
            f"{HIER.get(s.hierarchy, '')}) を返しました "
            f"({ref('proxy_access.log', s.line_no)}){why}")


def dns(d: DnsRef) -> str:
    return (f"{RESOLVER.get(d.resolver, d.resolver + ' リゾルバー')}の応答は {d.answer} でした "
            f"({d.name}; {ref('dns.log', d.line_no)})")


def direct_front(h: ServiceRef) -> str:
    return (f"{h.service} のサービス (ラボ) が Squid の記録なしにインターネット側 "
            f"({h.source_ip}) から"
            f"受けました: 直接 (NAT) の経路です ({ref('services.log', h.line_no)})")


FLAG: dict[FlagKind, Callable[[Flag], str]] = {
    FlagKind.SQUID_FAILED_FRONT_SAW: lambda x: (
        f"Squid は {x.host} の失敗したリクエストしか記録していないのに、"
        f"{x.detail} のサービス (ラボ) は"
        "インターネットからリクエストを受けています"),
    FlagKind.TUNNEL_BUT_ENDPOINT: lambda x: (
        f"Squid は {x.host} をトンネルしたのに、ラボのサービスは {x.detail} 経由で受けており、"
        f"インターネットからの {x.host} の記録はありません"),
    FlagKind.OK_BUT_FRONT_ERROR: lambda x: (
        f"ステップは ok と報告していますが、ラボのサービスは {x.detail} を返しました"),
    FlagKind.OK_BUT_SQUID_FAILED: lambda x: (
        f"ステップは ok と報告していますが、Squid は {x.host} の失敗しか記録していません"),
    FlagKind.TUNNEL_WITHOUT_FRONT: lambda x: (
        f"Squid は {x.host} をトンネルしステップも ok ですが、どのラボのサービスも"
        "記録していません"),
    FlagKind.PROXY_PREDICTED_SQUID_SILENT: lambda x: (
        f"クライアントのロジックでは {x.host} はプロキシに送られるはずですが、Squid には記録が"
        "なく、ステップは成功しました (サービスのログもありません)"),
    FlagKind.OK_WITHOUT_EVIDENCE: lambda x: (
        f"ステップは ok と報告していますが、Squid もラボのサービスも {x.host} への"
        "リクエストを記録していません"),
    FlagKind.TUNNEL_ERROR_WITHOUT_SQUID: lambda x: (
        f"ステップはプロキシのトンネルエラーを報告していますが、Squid には {x.host} の記録が"
        "ありません"),
}

PATH = {
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
    PathReason.PROXY_SELF_CONNECT: ("プロキシは自身のアドレスへの CONNECT を拒否します (SSL "
                                    "ポートではないため)"),
    PathReason.PROXY_TLS_PLAIN_PORT: ("クライアントはプロキシと TLS で話しますが、プロキシの"
                                      "ポートは平文 HTTP なので Squid はリクエストを読めません"),
    PathReason.DYNAMODB_GATEWAY: ("DynamoDB のパブリックアドレスは DynamoDB ゲートウェイ"
                                  "エンドポイントへルーティングされます"),
    PathReason.INTERFACE_NAME: ("エンドポイント固有の名前は VPC 内のインターフェイス"
                                "エンドポイントのアドレスに解決されます"),
    PathReason.SERVICE_PRIVATE_DNS: ("プライベート DNS がサービス自身の名前をその"
                                     "インターフェイスエンドポイントに向けます"),
}


def mismatch(f: RouteFact) -> str:
    kind = f" ({f.predicted_kind})" if f.predicted_kind else ""
    return (f"クライアントのロジックの予測は {f.predicted_route}{kind} ({PATH[f.path_reason]}) "
            f"でしたが、観測は {f.route_guess} でした。")


def assemble(p: tuple[list[str], list[str], list[str]]) -> str:
    main, flags, mism = p
    text = "。".join(main) + "。" if main else ""
    if flags:
        text += " 証跡が矛盾しています: " + "; ".join(flags) + "。"
    if mism:
        text += " " + " ".join(mism)
    return text


PARTS: dict[str, Callable[[Any], str]] = {
    "decision": decision, "squid": squid, "front": front,
    "endpoint-front": endpoint_front,
    "endpoint-inferred": lambda f: (
        "Squid に記録がなくステップは成功したため、"
        f"{endpoint_name(f.endpoint_kind, f.host)}が運んだと推定しました "
        "(このバックエンドにはこのサービスのログがありません)"),
    "squid-failed": squid_failed, "dns": dns, "direct-front": direct_front,
    "direct-inferred": lambda f: (
        "Squid に記録がなくステップは成功しました。このバックエンドにはこのラボのサービスの"
        "ログがないため、プロキシを通らない直接の経路と推定しました"),
    "nothing-seen": lambda f: (
        f"Squid にもサービス側にも記録がなく、ステップは {f.outcome} で終わりました"),
    "flag": lambda x: FLAG[x.kind](x), "mismatch": mismatch,
    "node-rule": node_rule,
    "assemble": assemble,
}


LABEL = {"s3": "S3", "web": "Web サイト", "regional-api": "リージョン API",
         "private-api": "プライベート API"}


def condition(c: Condition) -> str:
    return {ConditionKind.VAR_SET: lambda: f"{c.variable} が設定されていた",
            ConditionKind.NO_PROXY_MATCHED: lambda: (
                f"{c.variable} が {c.client} の判定対象ホストに一致した"),
            ConditionKind.CLIENT_DIRECT: lambda: (
                "クライアント自身のプロキシ判定が直接接続を選んだ"),
            ConditionKind.LAYOUT: lambda: f"構成に {c.key.replace('_', ' ')} があった",
            }[c.kind]()


def finding(f: Finding) -> str:
    label = LABEL.get(f.target, f.label)
    if not f.bypassed_in:
        text = (f"{label}は、呼び出したすべてのシナリオ ({', '.join(f.crossed_in)}) で"
                "プロキシを経由しました")
    elif not f.crossed_in:
        text = (f"{label}は、呼び出したすべてのシナリオ ({', '.join(f.bypassed_in)}) で"
                "プロキシを経由しませんでした")
    else:
        text = f"{label}がプロキシを迂回したのは {', '.join(f.bypassed_in)} だけです"
        if f.explained_by:
            text += ("。これはちょうど " + "、".join(condition(c) for c in f.explained_by)
                     + " シナリオです")
            if f.reasons:
                text += " (" + "; ".join(f"{s}: {cause(d)}" for s, d in f.reasons.items()) + ")"
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


def headline(c: Conclusion) -> str:
    if not c.findings:
        return "プローブのステップが記録されていないため、結論はありません。"
    lab = LABEL
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


UNCHECKED: dict[UncheckedReason | None, str] = {
    UncheckedReason.SERVICE_NOT_LOGGED: "ラボにそのサービスのログがありません",
    UncheckedReason.EVIDENCE_INCOMPLETE: "キャプチャがその証跡を欠落または不完全と記録しています",
    UncheckedReason.UNKNOWN_RESOURCE: "ラボにない資源を指定しています",
    None: "キャプチャからは判断できません",  # no reason recorded
}


def modified(files: list[str]) -> str:
    return ("取得後に証跡が変更されています (" + "、".join(files)
            + " の内容が run.json に記録したチェックサムと一致しません)")


# キャプチャを読み込めなかった理由 (capture.SkipKind)。detail は読み込み側のメッセージのまま。
SKIPPED: dict[SkipKind, str] = {
    SkipKind.NO_RUN_JSON: "キャプチャではありません (run.json がありません)",
    SkipKind.INCOMPLETE: "キャプチャが不完全で run.json がありません ({detail})",
    SkipKind.INTERRUPTED: ("キャプチャが不完全で run.json がありません (実行が中断されたか、"
                           "まだ実行中です)"),
    SkipKind.UNREADABLE_JSON: "run.json を JSON として読めません ({detail})",
    SkipKind.NEWER_FORMAT: ("run.json の形式バージョンは {detail} ですが、この proxylab が"
                            "読めるのは {max} までです (proxylab を更新してください)"),
    SkipKind.INVALID: "run.json が実行記録として正しくありません: {detail}",
}
