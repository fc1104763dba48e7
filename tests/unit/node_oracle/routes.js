// Which route Node's own fetch and https.request pick for each URL (argv JSON list),
// under this process's environment: the real decision code, no network.
const http = require("node:http");
const https = require("node:https");
const net = require("node:net");
const urls = JSON.parse(process.argv[2]);
const sym = (o, name) => Object.getOwnPropertySymbols(o).find((s) => s.description === name);

function fetchRoute(url) {
  const d = globalThis[Symbol.for("undici.globalDispatcher.1")];
  if (!d || d.constructor.name !== "EnvHttpProxyAgent") return Promise.resolve(null);
  const kNo = sym(d, "no proxy agent");
  const originals = {};
  for (const name of ["no proxy agent", "http proxy agent", "https proxy agent"]) {
    const k = sym(d, name);
    originals[name] = d[k];
  }
  let seen;
  for (const name of Object.keys(originals)) {
    const agent = originals[name];
    const label = agent === originals["no proxy agent"] ? null
      : agent[sym(agent, "proxy agent options")]?.uri ?? agent[sym(agent, "proxy agent options")]?.toString();
    d[sym(d, name)] = { dispatch() { seen = label; throw new Error("proxylab-oracle"); },
                        close() {}, destroy() {} };
  }
  return fetch(url).then(() => "unexpected", () => (seen === undefined ? "undispatched" : seen)).finally(() => {
    for (const name of Object.keys(originals)) d[sym(d, name)] = originals[name];
  });
}

function httpRoute(url, proxies) {
  return new Promise((resolve) => {
    const mod = url.startsWith("https:") ? https : http;
    let done = false;
    const finish = (v) => { if (!done) { done = true; resolve(v); } };
    proxies.onRequest = (p) => finish(p);
    const req = mod.request(url, {
      lookup: (host, opts, cb) => { finish(null); cb(new Error("proxylab-oracle-direct")); },
      timeout: 3000,
    });
    // An address needs no lookup: a direct connection (to a closed loopback port) is
    // refused; a proxied one would have reached a listener first.
    req.on("error", () => setTimeout(() => finish(null), 200));
    req.end();
  });
}

async function main() {
  // A listener for each proxy port named in the environment (127.0.0.1 only).
  const proxies = { onRequest: null };
  const ports = new Set();
  for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]) {
    const m = /^https?:\/\/127\.0\.0\.1:(\d+)/.exec(process.env[k] || "");
    if (m) ports.add(Number(m[1]));
  }
  const servers = [];
  for (const port of ports) {
    const s = net.createServer((sock) => {
      sock.once("data", () => { proxies.onRequest?.(`http://127.0.0.1:${port}`); sock.destroy(); });
    });
    await new Promise((r) => s.listen(port, "127.0.0.1", r));
    servers.push(s);
  }
  const out = {};
  for (const url of urls) out[url] = { fetch: await fetchRoute(url), http: await httpRoute(url, proxies) };
  for (const s of servers) s.close();
  console.log(JSON.stringify(out));
  process.exit(0);
}
main();
