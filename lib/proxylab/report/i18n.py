"""The report's fixed text (headings, captions, method) in English and Japanese.

Nothing here states a result: sentences built from the analysis' facts are in
:mod:`proxylab.report.words`.
"""

from __future__ import annotations

from proxylab.vocab import Route

# The report's languages: each has its TEXT and CHART here and its words in
# report/words/ (defined here, where writing a page needs it without the analysis).
LANGS = ("en", "ja")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Which requests cross the HTTP proxy, and which go through VPC endpoints?",
        "question_h": "Question",
        "question": (
            "Can a VPC Lambda function use an HTTP proxy for internet access and, at the same "
            "time, reach S3 and API Gateway through VPC endpoints, bypassing the proxy? The "
            "write-up this lab reproduces (the *seed* experiment) answered yes, with "
            "`NO_PROXY` plus `AWS_ENDPOINT_URL_S3` / "
            "`AWS_ENDPOINT_URL_API_GATEWAY`, but did not test which variable causes the bypass. "
            "Every statement below is computed from the captured evidence: Squid's access log, "
            "the function's log, the resolvers' query logs and the access logs of the lab's "
            "stand-ins for S3, the web "
            "site and API Gateway."),
        "answer_h": "Answer",
        "findings_h": "Findings per target",
        "setup_h": "Setup",
        "setup": ("The function runs in a private subnet of the Lambda VPC with no NAT. Squid "
                  "runs in a peered proxy VPC. The diagram shows the lab the runs used; the "
                  "tables list each scenario's endpoints and its own variables (variables the lab "
                  "itself sets, such as its CA bundle, are listed apart)."),
        "scenarios_t": "Scenarios",
        "plumbing": "Variables the lab itself sets (not part of any scenario)",
        "matrix_h": "Routes at a glance",
        "matrix": ("Rows are scenarios, columns the services the function called (S3, the "
                   "web site, the API), each cell naming the host(s) its steps went to. The "
                   "colour and the bold words are the route the evidence shows; below them, "
                   "each step's outcome."),
        "runs_h": "Per scenario",
        "steps_t": "Steps",
        "why_t": "Why",
        "excerpt_t": "Log excerpts",
        "checks_h": "Checks",
        "pred_ok": "Every step took the route the clients' own proxy logic predicts.",
        "pred_bad": "Steps whose route differs from the clients' predicted route:",
        "incons_ok": "No run's evidence contradicts itself.",
        "incons_bad": ("Runs whose evidence disagrees with itself (not classified; see the "
                       "flag):"),
        "expect_ok": "All {n} expectations written in the scenarios held.",
        "expect_bad": "{bad} of {n} expectations written in the scenarios did not hold:",
        "expect_none": "The scenarios carry no `expect` blocks.",
        "expect_held": ("{held} of {n} expectations written in the scenarios held and none "
                        "failed."),
        "expect_unchecked": ("{m} of {n} expectations could not be checked against the "
                             "captures (not a failure: the evidence to decide is not there):"),
        "unchecked_cols": "run|check|expected|why not checked",
        "quality_h": "Data quality",
        "quality": ("{runs} runs, {lines} parsed evidence rows; {bad} malformed log lines were "
                    "set aside."),
        "missing": "Evidence the lab reported missing:",
        "failed_runs": "Runs the lab could not complete:",
        "modified_h": "Captures whose evidence was modified after capture:",
        "skipped": ("{n} captures were skipped because they could not be read (not analysed, "
                    "not counted above):"),
        "skipped_cols": "capture|reason",
        "method_h": "Method",
        "method": (
            "Each step's route comes from the evidence, not from configuration: a request the "
            "lab's service saw arriving via a VPC endpoint took the endpoint; one it saw from "
            "the internet with a matching Squid line crossed the proxy; a Squid line without a "
            "completed tunnel is a failure at the proxy; no Squid line and no request at the "
            "service is a failed direct attempt. The prediction re-runs urllib's "
            "`proxy_bypass_environment` "
            "on each scenario's variables (per request host for urllib; against the client's "
            "endpoint host, once per client, for botocore). For Node.js functions it applies "
            "each Node client's own rule, read from the runtime's source: the AWS SDK for "
            "JavaScript v3 never reads the proxy variables; fetch (undici) and https.request "
            "read them only with NODE_USE_ENV_PROXY=1 on Node 22.21 / 24.5 and later, each "
            "with its own NO_PROXY matching."),
        "redacted": ("Identifiers (account, bucket, API ids, VPC endpoint ids, request ids, "
                     "addresses) are replaced by stable placeholders."),
        "cols": "step|host|route|outcome|predicted|match",
        "runs_summary": ("{n} runs of {s} scenarios. The table counts every run; below it, "
                         "runs with the same routes and outcomes for every step ({g} groups) "
                         "are shown once, by their first run, and the others are named."),
        "dist_cols": "scenario|step|runs|host|routes|outcomes",
        "alike": "{k} more runs showed exactly what {run} shows: {ids}",
        "scen_cols": "scenario|title|function|runtime|endpoints",
        "hosts_t": "Every host the function contacted (from the evidence, whatever the code)",
        "host_cols": "host|client|route|predicted|match|Squid|front|DNS",
        "variables_t": "Each scenario's variables",
        "var_cols": "scenario|variable|value",
        "none": "none",
        "ep_s3_gateway": "S3 gateway endpoint",
        "ep_execute_api_interface": "execute-api interface endpoint",
        "ep_execute_api_private_dns": "its private DNS",
        "squid_note": ("Squid versions answer a CONNECT to a name they cannot resolve "
                       "differently: Squid 6 with 503 (as in the seed's log), Squid 5 with 500 "
                       "(its bug 5294). These runs used Squid {versions}."),
        "squid_note_unknown": ("Squid versions answer a CONNECT to a name they cannot resolve "
                               "differently: Squid 6 with 503 (as in the seed's log), Squid 5 "
                               "with 500 (its bug 5294). These captures do not record which "
                               "Squid they used."),
        "topology_alt": ("Diagram of the lab ({backend} backend, region {region}): the Lambda "
                         "VPC, with no NAT, is peered with the proxy VPC, whose Squid reaches "
                         "the internet and the public S3 and API addresses; VPC endpoints: "
                         "{endpoints}."),
        "timeline_alt": ("Timeline of run {run}: Squid tunnels as bars, requests at the lab's "
                         "services as markers, one row per host (the table above lists the "
                         "same requests)."),
        "contents": "Contents",
        "glossary_h": "Words used here",
        "glossary": (
            "- **seed**: the original write-up this lab reproduces; *seed-1* to *seed-4* are "
            "its four runs.\n"
            "- **scenario**: one function deployment and its environment variables, run in "
            "the lab.\n"
            "- **step**: one request the probe function makes (`s3_get`, `s3_put`, `web`, "
            "`api`).\n"
            "- **the lab's services**: local stand-ins for S3, the web site and API Gateway "
            "that log how each request reached them (from the internet or via a VPC "
            "endpoint).\n"
            "- **CONNECT / tunnel**: how a client asks an HTTP proxy for an HTTPS connection; "
            "Squid logs `TCP_TUNNEL/200` when the tunnel was made.\n"
            "- **gateway endpoint**: routes S3's public addresses from the VPC to S3 without "
            "the internet; **interface endpoint**: private addresses in the VPC for a service "
            "(here execute-api).\n"
            "- **NO_PROXY**: the hosts a client connects to directly; each client compares it "
            "with a different host (urllib: the request's; botocore: its endpoint's).\n"
            "- **predicted**: the route the clients' own proxy logic gives for the scenario's "
            "variables, computed without the lab."),
        "runtimes_t": "Python and Node.js side by side",
        "runtimes": ("Each Python scenario beside its Node.js twin: the same function, layout "
                     "and variables, each step's route and the client that decided it "
                     "(web_https / api_https: the same call with https.request instead of "
                     "fetch)."),
        "runtimes_cols": ("scenarios|step|Python: route · client|Node.js: route · client|"
                          "differs"),
        "exp_cols": "scenario|check|expected|observed",
        "yes": "yes", "no": "no",
        "catalogue": "Catalogue: {cats} · {n} runs",
        "pred_line": "predicted {p}, observed {o}",
        "status": "status",
        "no_steps": "no probe steps captured.",
        "prov_h": "Provenance",
        "prov_cols": "item|as the captures record it",
        "prov_dates": "runs made (UTC)",
        "prov_backend": "lab backend",
        "prov_region": "region",
        "prov_proxylab": "proxylab version",
        "prov_python": "Python version",
        "prov_botocore": "botocore version",
        "prov_squid": "Squid version",
        "prov_runtime": "runtime client (awslambdaric) version",
        "not_recorded": "not recorded",
        "not_recorded_in": "not recorded in {k} of {n} runs",
    },
    "ja": {
        "title": "どのリクエストが HTTP プロキシを通り、どれが VPC エンドポイントを通るのか",
        "question_h": "問い",
        "question": (
            "VPC 内の Lambda 関数が、インターネットへは HTTP プロキシを使い、同時に S3 と "
            "API Gateway へはプロキシを迂回して VPC エンドポイント経由でアクセスできるか。"
            "元の検証記事は `NO_PROXY` と `AWS_ENDPOINT_URL_S3` / "
            "`AWS_ENDPOINT_URL_API_GATEWAY` を設定すれば可能と結論づけましたが、どの変数が迂回を"
            "引き起こすのかは検証していません。以下の記述はすべて、取得した証跡 (Squid の "
            "アクセスログ、関数のログ、リゾルバーのクエリログ、各サービスのアクセスログ) から"
            "計算したものです。"),
        "answer_h": "結論",
        "findings_h": "対象ごとの結果",
        "setup_h": "構成",
        "setup": ("関数は NAT のない Lambda VPC のプライベートサブネットで動きます。Squid は "
                  "ピアリングされたプロキシ VPC にあります。図は各実行が使ったラボ、表は各"
                  "シナリオのエンドポイントと固有の環境変数です (CA バンドルなどラボ自身が設定する"
                  "変数は別に示します)。"),
        "scenarios_t": "シナリオ",
        "plumbing": "ラボ自身が設定する環境変数 (シナリオの一部ではない)",
        "matrix_h": "経路の一覧",
        "matrix": ("行がシナリオ、列が関数の呼び出したサービス (S3、Web サイト、API) で、各セルには"
                   "そのステップのリクエスト先ホストを記しています。色と太字は証跡が示す経路、"
                   "その下は各ステップの結果です。"),
        "runs_h": "シナリオごとの結果",
        "steps_t": "ステップ",
        "why_t": "判定の根拠",
        "excerpt_t": "ログの抜粋",
        "checks_h": "検証",
        "pred_ok": "すべてのステップが、クライアント自身のプロキシ判定ロジックの予測どおりの経路を"
                   "通りました。",
        "pred_bad": "予測と異なる経路を通ったステップ:",
        "incons_ok": "証跡が互いに矛盾する実行はありません。",
        "incons_bad": "証跡が互いに矛盾する実行 (分類せずフラグを付けています):",
        "expect_ok": "シナリオに書かれた期待 {n} 件はすべて満たされました。",
        "expect_bad": "シナリオに書かれた期待 {n} 件のうち {bad} 件が満たされませんでした:",
        "expect_none": "シナリオに `expect` はありません。",
        "expect_held": "シナリオに書かれた期待 {n} 件のうち {held} 件が満たされ、満たされなかった"
                       "ものはありません。",
        "expect_unchecked": ("期待 {n} 件のうち {m} 件はキャプチャから検証できませんでした "
                             "(失敗ではなく、判定に必要な証跡がありません):"),
        "unchecked_cols": "実行|検査|期待|検証できない理由",
        "quality_h": "データ品質",
        "quality": "実行 {runs} 件、解析した証跡 {lines} 行。形式不正のログ行 {bad} 行は別に"
                   "保管しました。",
        "missing": "ラボが取得できなかった証跡:",
        "failed_runs": "ラボが完了できなかった実行:",
        "modified_h": "取得後に証跡が変更されたキャプチャ:",
        "skipped": ("読み込めなかったためスキップしたキャプチャ {n} 件 (解析しておらず、"
                    "上の件数にも含みません):"),
        "skipped_cols": "キャプチャ|理由",
        "method_h": "方法",
        "method": (
            "各ステップの経路は設定ではなく証跡から決めています。サービス側が VPC エンドポイント"
            "経由で受けたリクエストはエンドポイント経由、インターネットから受け Squid にも"
            "対応する行があるものはプロキシ経由、Squid の行はあるがトンネルが成立していない"
            "ものはプロキシでの失敗、Squid にもサービス側にも記録がないものは直接接続の失敗です。"
            "予測は各シナリオの環境変数に対して urllib の `proxy_bypass_environment` を実行し"
            "直したものです (urllib はリクエスト先ホストごと、botocore はクライアント作成時に"
            "エンドポイントのホストに対して 1 回判定します)。Node.js の関数では、ランタイムの"
            "ソースから読み取った各 Node クライアント自身の規則を適用します。AWS SDK for "
            "JavaScript v3 はプロキシ変数を読まず、fetch (undici) と https.request は Node 22.21 / "
            "24.5 以降で NODE_USE_ENV_PROXY=1 のときだけ読み、NO_PROXY の一致のさせ方もそれぞれ"
            "異なります。"),
        "redacted": ("識別子 (アカウント、バケット、API ID、VPC エンドポイント ID、リクエスト ID、"
                     "アドレス) は一貫したプレースホルダーに置き換えています。"),
        "cols": "ステップ|ホスト|経路|結果|予測|一致",
        "runs_summary": ("{s} シナリオの {n} 回の実行です。表はすべての実行を数えています。"
                         "その下では、"
                         "すべてのステップで経路と結果が同じ実行 ({g} グループ) を最初の 1 回で"
                         "代表して示し、残りは名前だけ挙げます。"),
        "dist_cols": "シナリオ|ステップ|実行数|ホスト|経路|結果",
        "alike": "ほかに {k} 回の実行が {run} とまったく同じ結果でした: {ids}",
        "scen_cols": "シナリオ|タイトル|関数|ランタイム|エンドポイント",
        "hosts_t": "関数が接続したすべてのホスト (コードによらず証拠から)",
        "host_cols": "ホスト|クライアント|経路|予測|一致|Squid|フロント|DNS",
        "variables_t": "シナリオごとの環境変数",
        "var_cols": "シナリオ|変数|値",
        "none": "なし",
        "ep_s3_gateway": "S3 ゲートウェイ型エンドポイント",
        "ep_execute_api_interface": "execute-api インターフェイス型エンドポイント",
        "ep_execute_api_private_dns": "そのプライベート DNS",
        "squid_note": ("名前解決できないホストへの CONNECT に対する応答は Squid のバージョンで"
                       "異なります。Squid 6 は 503 (元の検証のログと同じ)、Squid 5 は 500 "
                       "(バグ 5294) を返します。これらの実行は Squid {versions} を使いました。"),
        "squid_note_unknown": ("名前解決できないホストへの CONNECT に対する応答は Squid の"
                               "バージョンで異なります。Squid 6 は 503 (元の検証のログと同じ)、"
                               "Squid 5 は 500 (バグ 5294) を返します。これらのキャプチャには "
                               "Squid のバージョンが記録されていません。"),
        "topology_alt": ("ラボの構成図 ({backend} バックエンド、リージョン {region}): NAT のない "
                         "Lambda VPC がプロキシ VPC とピアリングされ、プロキシ VPC の Squid が"
                         "インターネットと S3・API の公開アドレスに到達します。VPC エンドポイント: "
                         "{endpoints}。"),
        "timeline_alt": ("実行 {run} のタイムライン: Squid のトンネルを棒、ラボのサービスが受けた"
                         "リクエストを印で、ホストごとに 1 行で示します "
                         "(上の表と同じリクエスト)。"),
        "contents": "目次",
        "glossary_h": "用語",
        "glossary": (
            "- **seed (元の検証)**: このラボが再現する元の検証記事。*seed-1* から *seed-4* は"
            "その 4 回の実行です。\n"
            "- **シナリオ**: 関数のデプロイ 1 つとその環境変数。ラボで実行します。\n"
            "- **ステップ**: プローブ関数が送るリクエスト 1 件 (`s3_get`、`s3_put`、`web`、"
            "`api`)。\n"
            "- **ラボのサービス**: S3、Web サイト、API Gateway の代わりにラボが動かすサーバー。"
            "各リクエストがどこから (インターネットか VPC エンドポイントか) "
            "届いたかを記録します。\n"
            "- **CONNECT / トンネル**: クライアントが HTTP プロキシに HTTPS 接続を頼む方法。"
            "トンネルが成立すると Squid は `TCP_TUNNEL/200` と記録します。\n"
            "- **ゲートウェイ型エンドポイント**: VPC から S3 の公開アドレスへの通信を"
            "インターネットを"
            "通さず S3 へ送る経路。**インターフェイス型エンドポイント**: サービス (ここでは "
            "execute-api) 用に VPC 内に置かれるプライベートアドレス。\n"
            "- **NO_PROXY**: クライアントが直接接続するホストの一覧。比べる相手のホストは"
            "クライアントごとに異なります (urllib はリクエスト先、botocore はエンドポイント)。\n"
            "- **予測**: シナリオの環境変数に対してクライアント自身のプロキシ判定ロジックが出す"
            "経路。ラボを使わずに計算します。"),
        "runtimes_t": "Python と Node.js の比較",
        "runtimes": ("同じ関数・エンドポイント構成・環境変数で実行した Python と Node.js の"
                     "シナリオを並べ、各ステップの経路と、それを決めたクライアントを示します "
                     "(web_https / api_https は fetch の代わりに https.request で同じ"
                     "呼び出しをしたもの)。"),
        "runtimes_cols": ("シナリオ|ステップ|Python の経路 · クライアント|"
                          "Node.js の経路 · クライアント|違い"),
        "exp_cols": "シナリオ|検査|期待|観測",
        "yes": "はい", "no": "いいえ",
        "catalogue": "カタログ: {cats} · 実行 {n} 件",
        "pred_line": "予測 {p}、観測 {o}",
        "status": "状態",
        "no_steps": "プローブのステップは記録されていません。",
        "prov_h": "実行環境の記録",
        "prov_cols": "項目|キャプチャの記録",
        "prov_dates": "実行日時 (UTC)",
        "prov_backend": "ラボのバックエンド",
        "prov_region": "リージョン",
        "prov_proxylab": "proxylab のバージョン",
        "prov_python": "Python のバージョン",
        "prov_botocore": "botocore のバージョン",
        "prov_squid": "Squid のバージョン",
        "prov_runtime": "ランタイムクライアント (awslambdaric) のバージョン",
        "not_recorded": "記録なし",
        "not_recorded_in": "実行 {n} 件中 {k} 件は記録なし",
    },
}

# The charts' words (report/charts.py draws them): route and outcome words keyed by
# their vocabulary values, the rest by a short key. Step and service names stay as
# the tables spell them (they are identifiers, also in the per-scenario tables).
CHART: dict[str, dict[str, str]] = {
    "en": {
        Route.PROXY: "via proxy", Route.ENDPOINT: "VPC endpoint", Route.DIRECT: "direct",
        Route.FAILED_AT_PROXY: "FAILED at proxy", Route.FAILED_DIRECT: "FAILED direct",
        Route.INCONSISTENT: "inconsistent",
        "ok": "ok", "http_error": "HTTP err", "tunnel_error": "tunnel err",
        "timeout": "timeout", "dns_error": "DNS err", "tls_error": "TLS err", "other": "error",
        "gateway": "gateway endpoint", "interface": "interface endpoint",
        "not_called": "not called", "mixed": "mixed", "mixed_legend": "mixed (runs disagree)",
        "matrix_title": "Route taken by each request",
        "matrix_sub": "each cell: the route, each step's outcome, the host it called",
        "no_steps": "no probe steps captured",
        "no_timed": "no timed evidence in this run",
        "seconds": "seconds since the first evidence of this run",
        "tunnel_ok": "Squid tunnel (ok)", "squid_failed": "Squid request (failed)",
        "via_internet": "request via internet", "via_gateway": "via gateway endpoint",
        "via_interface": "via interface endpoint",
        "timeline_title": "Requests of run {run_id}",
        "place_lambda": "Lambda VPC", "place_proxy": "proxy VPC", "place_internet": "internet",
        "place_aws": "AWS",
        "about_lambda": "private subnet, no NAT: the function's only way out is the proxy "
                        "or a VPC endpoint",
        "about_proxy": "public subnet with Squid and an internet gateway",
        "about_internet": "public DNS and the web site",
        "about_aws": "VPC resolver, VPC endpoints, S3 and API Gateway (the lab's services)",
        "topo_function": "Lambda function (probe)",
        "topo_peering": "VPC peering", "topo_internet": "internet",
        "topo_public": "public S3 / API addresses",
        "topo_s3_gateway": "S3 gateway endpoint",
        "topo_interface": "execute-api interface endpoint",
        "topo_dns_on": "private DNS on", "topo_dns_off": "private DNS off",
        "topo_no_nat": "no NAT: no direct route to the internet",
        "topo_public_dns": "public DNS for private API names: {answer}",
        "topo_title": "Lab topology ({backend} backend, region {region})",
    },
    "ja": {
        Route.PROXY: "プロキシ経由", Route.ENDPOINT: "VPC エンドポイント", Route.DIRECT: "直接",
        Route.FAILED_AT_PROXY: "プロキシで失敗", Route.FAILED_DIRECT: "直接接続で失敗",
        Route.INCONSISTENT: "証跡が矛盾",
        "ok": "成功", "http_error": "HTTP エラー", "tunnel_error": "トンネルエラー",
        "timeout": "タイムアウト", "dns_error": "DNS エラー", "tls_error": "TLS エラー",
        "other": "エラー",
        "gateway": "ゲートウェイ型エンドポイント", "interface": "インターフェイス型エンドポイント",
        "not_called": "呼び出しなし", "mixed": "混在", "mixed_legend": "混在 (実行間で不一致)",
        "matrix_title": "各リクエストが通った経路",
        "matrix_sub": "各セル: 経路、各ステップの結果、呼び出したホスト",
        "no_steps": "プローブのステップは記録されていません",
        "no_timed": "この実行には時刻付きの証跡がありません",
        "seconds": "この実行の最初の証跡からの秒数",
        "tunnel_ok": "Squid のトンネル (成功)", "squid_failed": "Squid のリクエスト (失敗)",
        "via_internet": "インターネット経由で受信",
        "via_gateway": "ゲートウェイ型エンドポイント経由",
        "via_interface": "インターフェイス型エンドポイント経由",
        "timeline_title": "実行 {run_id} のリクエスト",
        "place_lambda": "Lambda VPC", "place_proxy": "プロキシ VPC",
        "place_internet": "インターネット", "place_aws": "AWS",
        # chart labels: line breaks where a reader would break them (fill() breaks
        # Japanese between any two characters: エンドポイン|ト)
        "about_lambda": "プライベートサブネット、NAT なし。\n関数の出口はプロキシか\n"
                        "VPC エンドポイントだけ",
        "about_proxy": "Squid とインターネットゲートウェイのあるパブリックサブネット",
        "about_internet": "公開 DNS と Web サイト",
        "about_aws": "VPC リゾルバー、\nVPC エンドポイント、\nS3 と API Gateway (ラボのサービス)",
        "topo_function": "Lambda 関数 (プローブ)",
        "topo_peering": "VPC ピアリング", "topo_internet": "インターネット",
        "topo_public": "S3 / API の公開アドレス",
        "topo_s3_gateway": "S3 ゲートウェイ型エンドポイント",
        "topo_interface": "execute-api インターフェイス型\nエンドポイント",
        "topo_dns_on": "プライベート DNS 有効", "topo_dns_off": "プライベート DNS 無効",
        "topo_no_nat": "NAT なし: インターネットへの直接経路はない",
        "topo_public_dns": "プライベート API 名の公開 DNS 応答: {answer}",
        "topo_title": "ラボの構成 ({backend} バックエンド、リージョン {region})",
    },
}


def chart(lang: str) -> dict[str, str]:
    """The charts' words in ``lang`` (English for a word a language lacks)."""
    return {**CHART["en"], **CHART.get(lang, {})}


def t(lang: str, key: str, **kw: object) -> str:
    text = TEXT.get(lang, TEXT["en"]).get(key) or TEXT["en"][key]
    return text.format(**kw) if kw else text


__all__ = ["CHART", "LANGS", "TEXT", "chart", "t"]
