"""クライアント行列レポート（日本語）。"""

from __future__ import annotations

import sys

from proxylab.clients.facts import BehaviourFact, Change, Summary
from proxylab.clients.words import common
from proxylab.vocab import Behaviour, MeasuredRoute

P, D, F = MeasuredRoute.PROXY, MeasuredRoute.DIRECT, MeasuredRoute.FAILED

TITLE = "クライアント行列：各クライアントのリクエストはどの経路を通ったか"
HEAD = {"summary": "概要", "behaviour": "各クライアントの挙動", "matrix": "行列",
        "changes": "前回の実行からの変化", "cases": "ケース", "notes": "注記"}
COLUMNS = {"case": "ケース", "version": "バージョン", "target": "宛先",
           "environment": "環境変数", "asks": "確かめること", "client": "クライアント",
           "question": "問い", "answer": "答え"}
ROUTE = {P: "プロキシ", D: "直接", F: "失敗"}
NOT_INSTALLED = "未インストール"
NO_CHANGES = "経路が変わったセルも、バージョンが変わったクライアントもありません。"
NO_PREVIOUS = "比較する前回の実行がありません。"
LEGEND = ("「プロキシ」: Squid またはフロントがプロキシ経由の到着を記録した。「直接」: VPC "
          "エンドポイントが応答した、またはプロキシの記録なしにタイムアウトした（サブネットに "
          "NAT がない）。「失敗」: そのどちらでもない（止まったプロキシに拒否された、または "
          "クライアントがプロキシ URL を使えなかった）。経路の後の印: ✗ ルールの予測と異なる、"
          "? モデル化されたルールがない、↻ 2 回測定した（初回はルールに反してタイムアウト）。")

QUESTION = {
    Behaviour.READS_ENV: "https:// の URL に対する https_proxy（小文字）",
    Behaviour.UPPER_HTTP_PROXY: "http:// の URL に対する HTTP_PROXY（大文字）",
    Behaviour.LOWER_WINS: "https_proxy=Squid、HTTPS_PROXY=止まったプロキシ",
    Behaviour.EMPTY_LOWER_CANCELS: "HTTPS_PROXY=Squid、https_proxy が空",
    Behaviour.NO_PROXY_LOWER_WINS: "no_proxy=別のホスト、NO_PROXY=そのホスト",
    Behaviour.DOT_MATCHES_APEX: "NO_PROXY=.ホスト をそのホスト自身に",
    Behaviour.STAR_IN_LIST: "NO_PROXY=other,*（リスト中の *）",
    Behaviour.GLOB: "NO_PROXY=*.ドメイン",
    Behaviour.CIDR_IP: "NO_PROXY=CIDR、IP アドレスの URL",
    Behaviour.CIDR_NAME: "NO_PROXY=CIDR、ホスト名の URL",
    Behaviour.HOST_PORT: "NO_PROXY=ホスト:443",
    Behaviour.BUCKET_HOST: "NO_PROXY=バケットのホスト、S3 GetObject",
    Behaviour.HTTPS_PROXY_URL: "https:// のプロキシ URL",
    Behaviour.NO_SCHEME: "スキームのないプロキシ URL",
}

ANSWER = {
    (Behaviour.READS_ENV, P): "読む", (Behaviour.READS_ENV, D): "無視（読まない）",
    (Behaviour.UPPER_HTTP_PROXY, P): "読む", (Behaviour.UPPER_HTTP_PROXY, D): "無視",
    (Behaviour.LOWER_WINS, P): "小文字が優先", (Behaviour.LOWER_WINS, F): "大文字が優先",
    (Behaviour.LOWER_WINS, D): "どちらも使わない",
    (Behaviour.EMPTY_LOWER_CANCELS, D): "空の変数がプロキシを打ち消す",
    (Behaviour.EMPTY_LOWER_CANCELS, P): "空の変数は読み飛ばされ、プロキシ",
    (Behaviour.NO_PROXY_LOWER_WINS, P): "no_proxy（小文字）が優先",
    (Behaviour.NO_PROXY_LOWER_WINS, D): "NO_PROXY（大文字）が優先",
    (Behaviour.BUCKET_HOST, P): "なおプロキシ経由（別のホストで判定）",
    (Behaviour.BUCKET_HOST, D): "バイパスされる",
    (Behaviour.HTTPS_PROXY_URL, P): "平文 HTTP として使う",
    (Behaviour.HTTPS_PROXY_URL, F): "TLS で話す（平文のプロキシでは失敗）",
    (Behaviour.HTTPS_PROXY_URL, D): "捨てられ、直接",
    (Behaviour.NO_SCHEME, P): "http:// として読む", (Behaviour.NO_SCHEME, F): "拒否",
}
MATCH = {D: "一致：直接", P: "不一致：プロキシ", F: "失敗"}


def route(r: MeasuredRoute) -> str:
    return ROUTE[r]


def answer(fact: BehaviourFact) -> str:
    return common.answer(fact, sys.modules[__name__])


def behaviour(fact: BehaviourFact) -> str:
    mark = "" if fact.agrees else "（✗ ルールの予測と異なる）"
    return f"{fact.client} {fact.version}：{QUESTION[fact.behaviour]}：{answer(fact)}{mark}"


def summary(s: Summary) -> str:
    text = (f"{s.cells} セル中 {s.ran} セルを実行。{s.agrees} セルはクライアントのルールが予測する"
            f"経路、{s.differs} セルは別の経路")
    if s.no_rule:
        text += f"、{s.no_rule} セルはルール未モデル化"
    if s.rechecked:
        text += f"。{s.rechecked} セルは 2 回測定"
    if s.wall_s is not None:
        text += f"。全体で {s.wall_s:g} 秒"
    text += "。"
    if s.not_installed:
        text += "未インストール：" + "、".join(f"{c}（`{cmd}`）" for c, cmd in s.not_installed) \
            + "。"
    return text


def _r(value: str | None, absent: str) -> str:
    return common.route_or(value, absent, sys.modules[__name__])


def change(c: Change) -> str:
    if not c.case:
        return f"{c.client}：バージョン {c.before or 'なし'} → {c.after or 'なし'}"
    versions = "" if c.before_version == c.after_version else \
        f"（{c.before_version} → {c.after_version}）"
    return f"{c.client}{versions}、{c.case}：{_r(c.before, '未実行')} → {_r(c.after, '未実行')}"


def lab_line(meta: dict) -> str:
    lab = meta.get("lab", {})
    eps = lab.get("endpoints") or {}
    on = {True: "あり", False: "なし"}
    return (f"ラボ `{lab.get('name', '?')}`（{lab.get('backend', '?')}、Squid "
            f"{lab.get('squid_version', '?')}）、リクエストごとに {meta.get('timeout_s', '?')} 秒、"
            f"同時 {meta.get('workers', '?')} セル。エンドポイント：S3 ゲートウェイ "
            f"{on[bool(eps.get('s3_gateway'))]}、execute-api インターフェース "
            f"{on[bool(eps.get('execute_api_interface'))]}。")


def unmatched(authority: str, n: int) -> str:
    return f"Squid は CONNECT {authority} を {n} 件記録したが、どのフロントにも届いていない。"


# Each case's question, by case id (clients/cases.py holds the English one, which the
# matrix record keeps); a test requires one for every case.
CASES = {
    "https-upper": "HTTPS_PROXY (大文字) だけを設定",
    "https-lower": "https_proxy (小文字) だけを設定",
    "lower-vs-upper": "https_proxy=Squid、HTTPS_PROXY=止まったプロキシ: 小文字を先に読むのはどれか",
    "upper-vs-lower": "HTTPS_PROXY=Squid、https_proxy=止まったプロキシ: 大文字を先に読むのはどれか",
    "empty-lower": "HTTPS_PROXY=Squid、https_proxy は空: 空の小文字変数は大文字を打ち消すか",
    "http-proxy-only": "HTTP_PROXY だけを設定し、https:// の URL",
    "http-upper": "HTTP_PROXY (大文字) だけを設定し、http:// の URL",
    "no-proxy-exact": "NO_PROXY=<Web ホスト>",
    "no-proxy-suffix": "NO_PROXY=<親ドメイン> (素の接尾辞)",
    "no-proxy-dot": "NO_PROXY=.<親ドメイン> (先頭のドット)",
    "no-proxy-dot-apex": "NO_PROXY=.<Web ホスト> (ホストそのものに先頭のドット)",
    "no-proxy-lower-vs-upper": ("no_proxy=別のホスト、NO_PROXY=<Web ホスト>: 小文字の no_proxy を"
                                "先に読むのはどれか"),
    "no-proxy-star": "NO_PROXY=* だけ",
    "no-proxy-star-list": "NO_PROXY=other.invalid,* (リストの中の *)",
    "no-proxy-spaces": "NO_PROXY=other.invalid, <Web ホスト> (カンマの後に空白)",
    "no-proxy-glob": "NO_PROXY=*.<親ドメイン>",
    "no-proxy-cidr": "NO_PROXY=<Web の /24>、IP アドレスの http:// URL",
    "no-proxy-cidr-name": "NO_PROXY=<Web の /24>、Web ホストは名前で指定",
    "no-proxy-host-port": "NO_PROXY=<Web ホスト>:443",
    "no-proxy-bucket": "NO_PROXY=<バケットのホスト>、S3 オブジェクト",
    "no-proxy-s3-regional": ("NO_PROXY=s3.<リージョン>.amazonaws.com (監査が勧める修正)、"
                             "S3 オブジェクト"),
    "s3-proxy": "https_proxy/HTTPS_PROXY、S3 オブジェクト",
    "api-proxy": "https_proxy/HTTPS_PROXY、リージョン API",
    "no-scheme": "スキームのないプロキシ URL (host:port)",
    "https-scheme": "https:// のプロキシ URL (ラボの Squid は平文の HTTP で話す)",
}
