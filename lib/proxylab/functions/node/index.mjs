// The probe function for Lambda's Node.js runtimes: the seed's steps, one JSON line each.
//
// Deployed as-is to the local lab (run by the real aws-lambda-ric) and to real AWS
// Lambda (nodejs20.x / 22.x / 24.x, handler index.handler): it imports only Node's
// built-ins and @aws-sdk/client-s3, never anything of proxylab.
//
// Steps, in the seed's order, each catching its own errors:
//   s3_get     SDK v3 GetObjectCommand(BUCKET_NAME, SOURCE_KEY), body read
//   s3_put     SDK v3 PutObjectCommand of the same bytes to result_<yymmdd>.csv
//   web        fetch(WEB_URL)                 (undici; proxies only with NODE_USE_ENV_PROXY)
//   api        fetch(API_GATEWAY_URL)
//   web_https  https.request(WEB_URL)         (node:https; same NODE_USE_ENV_PROXY rule)
//   api_https  https.request(API_GATEWAY_URL)
//
// After each step one line {"proxylab":"step",...} exactly as the Python probe prints
// it (written to stdout directly, so the runtime's console prefix never touches it).
// The S3 client is created at module level, as in the seed. SDK v3 never reads
// HTTP(S)_PROXY / NO_PROXY: its NodeHttpHandler builds its own https.Agent.

import https from "node:https";
import { S3Client, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";

const BUCKET_NAME = process.env.BUCKET_NAME || "proxylab-demo-bucket";
const SOURCE_KEY = process.env.SOURCE_KEY || "input/data.csv";
const API_GATEWAY_URL = process.env.API_GATEWAY_URL
  || "https://q8rw2x7k1m.execute-api.ap-northeast-1.amazonaws.com/dev/data?id=111";
const WEB_URL = process.env.WEB_URL || "https://www.google.com";

function stepTimeoutMs() {
  const value = Number.parseFloat(process.env.STEP_TIMEOUT ?? "5");
  return (Number.isFinite(value) && value > 0 ? value : 5) * 1000;
}

export const STEP_TIMEOUT_MS = stepTimeoutMs();

// The URL of the last request the SDK sent (endpoint + addressing style).
let lastS3Url = null;

function makeS3Client() {
  // One attempt, short timeouts: a blocked path ends in STEP_TIMEOUT and each attempt
  // appears once in the proxy's log (as the Python probe's total_max_attempts=1).
  const client = new S3Client({
    maxAttempts: 1,
    requestHandler: { connectionTimeout: STEP_TIMEOUT_MS, requestTimeout: STEP_TIMEOUT_MS },
  });
  client.middlewareStack.add((next) => async (args) => {
    const r = args.request;
    if (r && r.hostname) {
      const port = r.port ? `:${r.port}` : "";
      const query = new URLSearchParams(
        Object.entries(r.query || {}).flatMap(([k, v]) =>
          Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v ?? ""]])).toString();
      lastS3Url = `${r.protocol}//${r.hostname}${port}${r.path}${query ? `?${query}` : ""}`;
    }
    return next(args);
  }, { step: "finalizeRequest", name: "proxylabRememberUrl" });
  return client;
}

// Created at init, as in the seed; a failure is reported by the S3 steps.
let s3Client = null;
let s3ClientError = null;
try {
  s3Client = makeS3Client();
} catch (err) {
  s3ClientError = err;
}

// ---------------------------------------------------------------------------- outcomes

const TUNNEL_STATUS = [
  /Proxy response \((\d{3})\)/, // fetch (undici): "Proxy response (503) !== 200 when HTTP Tunneling"
  // https (Node >= 24.5): "Failed to establish tunnel to h:443 via http://p:3128: HTTP/1.1 503 ..."
  /Failed to establish tunnel .*: HTTP\/\d\.\d (\d{3})/,
];
const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME"]);
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT", "ESOCKETTIMEDOUT", "ABORT_ERR"]);
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|CERT_|ERR_OSSL_)/;

/** The error and everything it wraps (cause, AggregateError's errors), breadth first. */
function chain(err) {
  const seen = [];
  const todo = [err];
  while (todo.length && seen.length < 20) {
    const item = todo.shift();
    if (item === null || typeof item !== "object" || seen.includes(item)) continue;
    seen.push(item);
    todo.push(item.cause);
    if (Array.isArray(item.errors)) todo.push(...item.errors);
  }
  return seen;
}

/** [outcome, status] from the real error a step threw (same outcomes as probe.py). */
export function classify(err) {
  const all = chain(err);
  for (const e of all) {
    for (const re of TUNNEL_STATUS) {
      const m = re.exec(String(e.message ?? ""));
      if (m) return ["tunnel_error", Number(m[1])];
    }
  }
  for (const e of all) {
    if (e.proxylabHttpStatus) return ["http_error", e.proxylabHttpStatus];
    const status = e.$metadata?.httpStatusCode;
    if (e.$fault && status) return ["http_error", status]; // an S3ServiceException
  }
  for (const e of all) if (DNS_CODES.has(e.code)) return ["dns_error", null];
  for (const e of all) {
    if (TIMEOUT_CODES.has(e.code) || e.name === "TimeoutError") return ["timeout", null];
  }
  for (const e of all) {
    if (typeof e.code === "string" && TLS_CODES.test(e.code)) return ["tls_error", null];
  }
  return ["other", null];
}

function describe(err) {
  const parts = [];
  for (const e of chain(err)) {
    const code = typeof e.code === "string" ? ` (${e.code})` : ""; // not DOMException's numbers
    const text = `${e.name ?? "Error"}: ${e.message ?? ""}${code}`;
    if (!parts.includes(text)) parts.push(text);
  }
  return parts.join(" <- ");
}

function emit(step, url, outcome, status, error, started) {
  let host = null;
  try {
    host = url ? new URL(url).hostname : null;
  } catch {
    host = null;
  }
  const record = {
    proxylab: "step", step, url, host, outcome, status, error,
    elapsed_ms: Math.round((performance.now() - started) * 10) / 10,
  };
  process.stdout.write(`${JSON.stringify(record)}\n`);
  const { proxylab: _marker, step: _step, ...summary } = record;
  return summary;
}

// ------------------------------------------------------------------------------- steps

async function s3Step(step, call) {
  const started = performance.now();
  lastS3Url = null;
  try {
    if (s3Client === null) throw s3ClientError ?? new Error("no S3 client");
    const result = await call();
    const status = result?.$metadata?.httpStatusCode ?? null;
    return [emit(step, lastS3Url, "ok", status, null, started), result, null];
  } catch (err) {
    const line = err.$fault ? `AWS ${err.name}: ${err.message}` : `Unexpected error: ${err}`;
    console.log(line);
    const [outcome, status] = classify(err);
    return [emit(step, lastS3Url, outcome, status, describe(err), started), null, line];
  }
}

function httpFailure(status) {
  const err = new Error(`HTTP Error ${status}`);
  err.proxylabHttpStatus = status;
  return err;
}

async function fetchGet(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
  await response.arrayBuffer();
  return response.status;
}

function httpsGet(url) {
  return new Promise((resolve, reject) => {
    const request = https.request(url, { method: "GET", timeout: STEP_TIMEOUT_MS }, (response) => {
      response.on("data", () => {});
      response.on("end", () => resolve(response.statusCode));
      response.on("error", reject);
    });
    request.on("timeout", () => {
      const err = new Error(`no answer within ${STEP_TIMEOUT_MS} ms`);
      err.code = "ETIMEDOUT";
      request.destroy(err);
    });
    request.on("error", reject);
    request.end();
  });
}

async function httpStep(step, label, url, get) {
  const started = performance.now();
  try {
    const status = await get(url);
    if (status >= 400) throw httpFailure(status);
    console.log(status === 200 ? `${label} access successful (200 OK)`
      : `${label} access failed with status code: ${status}`);
    return emit(step, url, "ok", status, null, started);
  } catch (err) {
    console.log(`${label} access error: ${err}`);
    const [outcome, status] = classify(err);
    return emit(step, url, outcome, status, describe(err), started);
  }
}

export const handler = async (_event, _context) => {
  const steps = {};
  let s3Error = null;

  console.log(`Downloading ${SOURCE_KEY} from bucket ${BUCKET_NAME}`);
  let [summary, got, err] = await s3Step("s3_get", async () => {
    const response = await s3Client.send(new GetObjectCommand({ Bucket: BUCKET_NAME, Key: SOURCE_KEY }));
    response.Body = await response.Body.transformToByteArray(); // a timeout mid-body is this step's
    return response;
  });
  steps.s3_get = summary;
  s3Error = s3Error ?? err;
  const body = got ? got.Body : new Uint8Array();

  const today = new Date().toISOString().slice(2, 10).replaceAll("-", "");
  const destinationKey = `result_${today}.csv`;
  console.log(`Uploading to ${destinationKey} in bucket ${BUCKET_NAME}`);
  [summary, , err] = await s3Step("s3_put", () =>
    s3Client.send(new PutObjectCommand({ Bucket: BUCKET_NAME, Key: destinationKey, Body: body })));
  steps.s3_put = summary;
  s3Error = s3Error ?? err;
  if (s3Error === null) console.log("S3 processing completed successfully.");

  console.log(`Accessing web URL: ${WEB_URL}`);
  steps.web = await httpStep("web", "Web", WEB_URL, fetchGet);
  console.log(`Accessing API Gateway URL: ${API_GATEWAY_URL}`);
  steps.api = await httpStep("api", "API Gateway", API_GATEWAY_URL, fetchGet);
  steps.web_https = await httpStep("web_https", "Web (https)", WEB_URL, httpsGet);
  steps.api_https = await httpStep("api_https", "API Gateway (https)", API_GATEWAY_URL, httpsGet);

  if (s3Error !== null) return { statusCode: 500, body: s3Error, steps };
  return { statusCode: 200, body: "Lambda function executed successfully.", steps };
};
