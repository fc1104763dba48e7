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
    report("ok", 200, detail=f"endpoint {endpoint}")
except ClientError as e:
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    report("ok" if status < 400 else "http_error", status, detail=f"endpoint {endpoint}")
except Exception as e:
    o, text = kind(e)
    report(o, None, text, detail=f"endpoint {endpoint}" if endpoint else "")
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


# aiohttp reads proxy variables only with trust_env=True (then through urllib's
# getproxies() / proxy_bypass(), minus an https:// proxy URL, which it drops with a
# warning); both settings are matrix clients. ``TRUST_ENV`` is replaced per client.
_AIOHTTP = _PY_HEAD + r'''
import asyncio, aiohttp
url, limit = sys.argv[1], float(sys.argv[2])

async def get():
    timeout = aiohttp.ClientTimeout(total=limit)
    async with aiohttp.ClientSession(trust_env=TRUST_ENV, timeout=timeout) as session:
        async with session.get(url) as r:
            await r.read()
            return r.status

try:
    done(asyncio.run(get()))
except Exception as e:
    fail(e)
'''
AIOHTTP = _AIOHTTP.replace("TRUST_ENV", "False")
AIOHTTP_ENV = _AIOHTTP.replace("TRUST_ENV", "True")

# botocore's CRT path, as s3transfer uses it (boto3's download_file with
# preferred_transfer_client="crt"): the request is serialized by botocore and sent by
# awscrt's S3 client, whose proxy decision (aws-c-http) reads the environment per
# connection, against the request's own host. The lab CA is the ``verify`` bundle.
CRT = _PY_HEAD + r'''
import io, os
import botocore.session
from s3transfer.crt import (BotocoreCRTCredentialsWrapper, BotocoreCRTRequestSerializer,
                            CRTTransferManager, create_s3_crt_client)
bucket, key, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
try:
    session = botocore.session.get_session()
    region = session.get_config_variable("region")
    provider = BotocoreCRTCredentialsWrapper(session.get_credentials()) \
        .to_crt_credentials_provider()
    crt = create_s3_crt_client(region, crt_credentials_provider=provider,
                               verify=os.environ.get("SSL_CERT_FILE") or None)
    serializer = BotocoreCRTRequestSerializer(session, {"region_name": region})
    with CRTTransferManager(crt, serializer) as manager:
        manager.download(bucket, key, io.BytesIO()).result(timeout=limit)
    report("ok", 200)
except Exception as e:
    text = f"{type(e).__name__}: {e}"
    status = getattr(e, "status_code", None)
    if status:
        report("ok" if status < 400 else "http_error", status, text)
    elif type(e).__name__ == "TimeoutError" or "timeout" in text.lower() \
            or "AWS_IO_SOCKET_TIMEOUT" in text:
        report("timeout", None, text)
    else:
        fail(e)
'''

# The AWS SDK for JavaScript v3 (S3 GetObject): its default NodeHttpHandler takes no
# proxy from the environment at all. Arguments: bucket, key, timeout.
NODE_SDK_V3 = r'''
const [bucket, key, limitS] = process.argv.slice(1);
const limit = Number(limitS) * 1000;
const report = (outcome, status, error = "") => {
  console.log(JSON.stringify({outcome, status, error: String(error).slice(0, 600)}));
  process.exit(0);
};
const {S3Client, GetObjectCommand} = require("@aws-sdk/client-s3");
const s3 = new S3Client({maxAttempts: 1,
  requestHandler: {connectionTimeout: limit, requestTimeout: limit}});
s3.send(new GetObjectCommand({Bucket: bucket, Key: key}))
  .then(() => report("ok", 200))
  .catch((e) => {
    const status = e.$metadata && e.$metadata.httpStatusCode;
    if (status) return report(status < 400 ? "ok" : "http_error", status, e.name);
    const text = `${e.name}: ${e.code || ""} ${e.message}`, low = text.toLowerCase();
    if (low.includes("timeout") || low.includes("etimedout")) return report("timeout", null, text);
    report("other", null, text);
  });
'''
