"""The one-request programs the script clients run (Python and Node source text).

Each makes a single request with the environment it was started with and prints
one JSON line, ``{"outcome": ..., "status": ..., "error": ..., "detail": ...}``,
with ``outcome`` one of :class:`proxylab.vocab.Outcome`'s values. The classification
of an error is done here, in the client's own language, because only there is the
exception chain (urllib3's ``reason``, undici's ``cause``) still an object; the
matrix only needs to tell a timeout (a direct connection into a VPC without NAT)
from everything else.
"""

from __future__ import annotations

# Shared head of the Python programs: report() and kind(exc).
_PY_HEAD = r'''
import json, sys

def report(outcome, status=None, error="", detail=""):
    print(json.dumps({"outcome": outcome, "status": status, "error": error[:600],
                      "detail": detail}))

def kind(exc):
    chain, seen, e = [], set(), exc
    while isinstance(e, BaseException) and id(e) not in seen:
        seen.add(id(e))
        chain.append(f"{type(e).__name__}: {e}")
        nxt = getattr(e, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = next((a for a in e.args if isinstance(a, BaseException)), None)
        e = nxt or e.__cause__ or e.__context__
    text = " <- ".join(chain)
    low = text.lower()
    if "timed out" in low or "timeout" in low:
        return "timeout", text
    if "certificate" in low or "ssl" in low:
        return "tls_error", text
    if "name or service not known" in low or "nodename nor servname" in low \
            or "temporary failure in name resolution" in low:
        return "dns_error", text
    if "tunnel" in low:
        return "tunnel_error", text
    return "other", text

def fail(exc):
    outcome, text = kind(exc)
    report(outcome, None, text)

def done(status):
    report("ok" if status < 400 else "http_error", status)
'''

URLLIB = _PY_HEAD + r'''
import urllib.error, urllib.request
url, limit = sys.argv[1], float(sys.argv[2])
try:
    with urllib.request.urlopen(url, timeout=limit) as r:
        done(r.status)
except urllib.error.HTTPError as e:
    done(e.code)
except Exception as e:
    fail(e)
'''



def _get(imports: str, call: str) -> str:
    """A program whose client returns the response (no exception for a 4xx/5xx)."""
    return _PY_HEAD + f"""
{imports}
url, limit = sys.argv[1], float(sys.argv[2])
try:
    done({call})
except Exception as e:
    fail(e)
"""


REQUESTS = _get("import requests", "requests.get(url, timeout=limit).status_code")
HTTPX = _get("import httpx", "httpx.get(url, timeout=limit).status_code")

# botocore decides on proxies once, when the client is made, against its endpoint
# URL: the endpoint it chose is printed as the detail, so the matrix can show it.
BOTOCORE = _PY_HEAD + r'''
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
bucket, key, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
endpoint = ""
try:
    cfg = Config(connect_timeout=limit, read_timeout=limit,
                 retries={"max_attempts": 1, "mode": "standard"})
    s3 = boto3.client("s3", config=cfg)
    endpoint = s3.meta.endpoint_url
    s3.get_object(Bucket=bucket, Key=key)
    report("ok", 200, detail=endpoint)
except ClientError as e:
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    report("ok" if status < 400 else "http_error", status, detail=endpoint)
except Exception as e:
    o, text = kind(e)
    report(o, None, text, detail=endpoint)
'''

_JS_HEAD = r'''
const [url, limitS] = process.argv.slice(1);
const limit = Number(limitS) * 1000;
// Exits as soon as it has reported: an aborted fetch leaves undici's connect
// attempt pending (10 s), which would keep the process alive past the timeout.
const report = (outcome, status, error = "") => {
  console.log(JSON.stringify({outcome, status, error: String(error).slice(0, 600)}));
  process.exit(0);
};
function kind(e) {
  const parts = [];
  for (let x = e, n = 0; x && n < 6; x = x.cause, n++)
    parts.push(`${x.name || "Error"}: ${x.code || ""} ${x.message || ""}`.trim());
  const text = parts.join(" <- "), low = text.toLowerCase();
  if (low.includes("timeout") || low.includes("timed out") || low.includes("etimedout"))
    return ["timeout", text];
  if (low.includes("cert") || low.includes("ssl") || low.includes("tls"))
    return ["tls_error", text];
  if (low.includes("enotfound") || low.includes("eai_again")) return ["dns_error", text];
  return ["other", text];
}
const done = (status) => report(status < 400 ? "ok" : "http_error", status);
'''

NODE_FETCH = _JS_HEAD + r'''
fetch(url, {signal: AbortSignal.timeout(limit)})
  .then(async (r) => { await r.arrayBuffer().catch(() => null); done(r.status); })
  .catch((e) => { const [o, t] = kind(e); report(o, null, t); });
'''

NODE_HTTP = _JS_HEAD + r'''
const lib = url.startsWith("https:") ? require("https") : require("http");
const req = lib.get(url, {timeout: limit}, (res) => {
  res.resume();
  res.on("end", () => done(res.statusCode));
});
req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), {code: "ETIMEDOUT"})));
req.on("error", (e) => { const [o, t] = kind(e); report(o, null, t); });
'''
