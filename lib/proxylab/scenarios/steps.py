"""A declarative probe: what the function does, as a list of named steps, no code.

A scenario's ``steps:`` lists AWS calls and HTTP requests; the probe
(``functions/probe.py``) runs them in order with the real boto3 and urllib and
writes one step line each (:mod:`proxylab.grammar.step`)::

    steps:
      - name: read-secret
        aws: {service: secretsmanager, operation: get_secret_value,
              params: {SecretId: db}}
        timeout_s: 3
      - name: s3-path
        aws: {service: s3, operation: get_object,
              params: {Bucket: "${bucket}", Key: "${source_key}"},
              config: {addressing_style: path, use_dualstack_endpoint: false,
                       proxies: {https: "${proxy_url}"}}}
      - name: private-api
        http: {url: "${regional_api_url}", method: GET,
               headers: {x-apigw-api-id: "${private_api_id}"}}

``url_from_env: NAME`` takes the URL from the function's variable at run time (the
seed's function reads WEB_URL and API_GATEWAY_URL, which the lab sets per function
variant). A parameter ``{from_step: NAME}`` is the body the named AWS step read (the seed's
put sends what its get read). The list travels to the probe in the invocation
event (``proxylab_steps``), resolved against the lab's resources, so it costs no
environment variable and the capture's run.json records exactly what ran.

:data:`SEED_STEPS` is the seed's four steps as such a list; the probe runs its own
copy when the event names none (it cannot import proxylab; a test holds the two
equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from proxylab.scenarios.model import EVENT_KEY, resolve_text

__all__ = ["EVENT_KEY", "SEED_STEPS", "ProbeStep", "StepChecker"]
STEP_FIELDS = ("name", "aws", "http", "timeout_s")
AWS_FIELDS = ("service", "operation", "params", "config", "region")
CONFIG_FIELDS = ("addressing_style", "use_dualstack_endpoint", "use_fips_endpoint", "proxies",
                 "endpoint_url")
HTTP_FIELDS = ("url", "url_from_env", "method", "headers", "body")
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
ADDRESSING = ("auto", "virtual", "path")
MAX_STEP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ProbeStep:
    """One named step: an AWS call (``aws``) or an HTTP request (``http``)."""

    name: str
    aws: dict[str, Any] | None = None
    http: dict[str, Any] | None = None
    timeout_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        if self.aws is not None:
            d["aws"] = self.aws
        if self.http is not None:
            d["http"] = self.http
        if self.timeout_s is not None:
            d["timeout_s"] = self.timeout_s
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeStep:
        return cls(str(d["name"]), d.get("aws"), d.get("http"),
                   None if d.get("timeout_s") is None else float(d["timeout_s"]))

    def resolved(self, resources: dict[str, str]) -> ProbeStep:
        """``${name}`` in every string replaced by the lab's value (KeyError: missing)."""
        return ProbeStep(self.name, _resolve(self.aws, resources),
                         _resolve(self.http, resources), self.timeout_s)


def _resolve(value: Any, resources: dict[str, str]) -> Any:
    if isinstance(value, str):
        return resolve_text(value, resources)
    if isinstance(value, dict):
        return {k: _resolve(v, resources) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, resources) for v in value]
    return value


# The seed's four steps (functions/probe.py SEED_STEPS is the function's copy, built
# from its variables; these are the same steps with the lab's references).
SEED_STEPS: tuple[ProbeStep, ...] = (
    ProbeStep("s3_get", aws={"service": "s3", "operation": "get_object",
                             "params": {"Bucket": "${bucket}", "Key": "${source_key}"}}),
    ProbeStep("s3_put", aws={"service": "s3", "operation": "put_object",
                             "params": {"Bucket": "${bucket}", "Key": "result_<yymmdd>.csv",
                                        "Body": {"from_step": "s3_get"}}}),
    ProbeStep("web", http={"url_from_env": "WEB_URL", "method": "GET"}),
    ProbeStep("api", http={"url_from_env": "API_GATEWAY_URL", "method": "GET"}),
)


@lru_cache(maxsize=1)
def _loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


@dataclass
class StepChecker:
    """Checks a ``steps:`` value with the catalogue validator's helpers (``v``: its
    ``problem``/``at``/``check_keys``/``expect_type``/``choice``/``refs``), so every
    problem names file:line, scenario and field (``steps[2].aws.operation``)."""

    v: Any
    sid: str | None
    names: dict[str, int] = field(default_factory=dict)

    def steps(self, value: Any, where: Any) -> tuple[ProbeStep, ...] | None:
        from proxylab.scenarios.yaml_source import _Map

        if not isinstance(value, list):
            self.v.expect_type(value, (list,), "a list of steps", where)
            return None
        out: list[ProbeStep] = []
        ok = True
        for i, item in enumerate(value):
            prefix = f"steps[{i}]."
            here = type(where)(getattr(item, "line", None) or where.line, self.sid,
                               prefix.rstrip("."))
            if not isinstance(item, _Map):
                self.v.expect_type(item, (_Map,), "a mapping", here)
                ok = False
                continue
            step = self.step(item, prefix, here)
            ok = ok and step is not None
            if step is not None:
                out.append(step)
        return tuple(out) if ok else None

    def step(self, m: Any, prefix: str, here: Any) -> ProbeStep | None:
        v, sid = self.v, self.sid
        before = len(v.problems)
        v.check_keys(m, STEP_FIELDS, sid, prefix)
        name = m.get("name")
        if "name" not in m:
            v.problem(here, "missing 'name'")
        elif v.expect_type(name, (str,), "a string", v.at(m, "name", sid, prefix)):
            if not name or any(c.isspace() for c in name):
                v.problem(v.at(m, "name", sid, prefix), f"{name!r} is not a step name "
                          "(no spaces)")
            elif name in self.names:
                v.problem(v.at(m, "name", sid, prefix),
                          f"duplicate step name (first at line {self.names[name]})")
            else:
                self.names[name] = m.lines.get("name", m.line)
        kinds = [k for k in ("aws", "http") if k in m]
        if len(kinds) != 1:
            v.problem(here, "a step is exactly one of 'aws' (an AWS call) or 'http' (a request)"
                      + (f"; it has {' and '.join(kinds)}" if kinds else ""))
        aws = self.aws(m["aws"], v.at(m, "aws", sid, prefix), prefix + "aws.") \
            if "aws" in m else None
        http = self.http(m["http"], v.at(m, "http", sid, prefix), prefix + "http.") \
            if "http" in m else None
        timeout = None
        if "timeout_s" in m:
            w = v.at(m, "timeout_s", sid, prefix)
            t = m["timeout_s"]
            if v.expect_type(t, (int, float), "a number of seconds", w):
                if not 0 < t <= MAX_STEP_TIMEOUT_S:
                    v.problem(w, f"{t} is out of range (0 < timeout_s <= {MAX_STEP_TIMEOUT_S:g})")
                else:
                    timeout = float(t)
        if len(v.problems) > before:
            return None
        return ProbeStep(str(name), aws, http, timeout)

    def _plain(self, value: Any, where: Any) -> Any:
        """YAML value -> plain JSON-able value, references checked."""
        from proxylab.scenarios.yaml_source import _Map

        if isinstance(value, str):
            self.v.refs(value, where)
            return value
        if isinstance(value, _Map):
            return {str(k): self._plain(x, where) for k, x in value.items()}
        if isinstance(value, list):
            return [self._plain(x, where) for x in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        self.v.problem(where, f"not representable as JSON: {type(value).__name__}")
        return None

    def aws(self, m: Any, where: Any, prefix: str) -> dict[str, Any] | None:
        from proxylab.scenarios.yaml_source import _Map

        v, sid = self.v, self.sid
        if not v.expect_type(m, (_Map,), "a mapping", where):
            return None
        v.check_keys(m, AWS_FIELDS, sid, prefix)
        out: dict[str, Any] = {}
        service = operation = None
        for key in ("service", "operation"):
            w = v.at(m, key, sid, prefix)
            if key not in m:
                v.problem(w, "missing")
            elif v.expect_type(m[key], (str,), "a string", w):
                out[key] = m[key]
        service, operation = out.get("service"), out.get("operation")
        if service and operation:
            self._check_operation(service, operation, v.at(m, "operation", sid, prefix),
                                  v.at(m, "service", sid, prefix))
        if "region" in m and v.expect_type(m["region"], (str,), "a string",
                                           v.at(m, "region", sid, prefix)):
            out["region"] = m["region"]
        if "params" in m:
            w = v.at(m, "params", sid, prefix)
            if v.expect_type(m["params"], (_Map,), "a mapping", w):
                out["params"] = self._plain(m["params"], w)
        if "config" in m:
            w = v.at(m, "config", sid, prefix)
            c = m["config"]
            if v.expect_type(c, (_Map,), "a mapping", w):
                p2 = prefix + "config."
                v.check_keys(c, CONFIG_FIELDS, sid, p2)
                cfg: dict[str, Any] = {}
                if "addressing_style" in c:
                    a = v.choice(c["addressing_style"], ADDRESSING,
                                 v.at(c, "addressing_style", sid, p2))
                    if a:
                        cfg["addressing_style"] = a
                for flag in ("use_dualstack_endpoint", "use_fips_endpoint"):
                    if flag in c and v.expect_type(c[flag], (bool,), "true or false",
                                                   v.at(c, flag, sid, p2)):
                        cfg[flag] = c[flag]
                for key in ("proxies",):
                    if key in c and v.expect_type(c[key], (_Map,), "a mapping of scheme to "
                                                  "proxy URL", v.at(c, key, sid, p2)):
                        cfg[key] = self._plain(c[key], v.at(c, key, sid, p2))
                if "endpoint_url" in c and v.expect_type(c["endpoint_url"], (str,), "a string",
                                                         v.at(c, "endpoint_url", sid, p2)):
                    cfg["endpoint_url"] = self._plain(c["endpoint_url"],
                                                      v.at(c, "endpoint_url", sid, p2))
                out["config"] = cfg
        return out

    def _check_operation(self, service: str, operation: str, w_op: Any, w_svc: Any) -> None:
        """The service and operation exist in botocore's data (boto3's method name)."""
        from botocore import xform_name
        from botocore.exceptions import UnknownServiceError

        from proxylab.errors import did_you_mean

        loader = _loader()
        try:
            model = loader.load_service_model(service, "service-2")
        except UnknownServiceError:
            names = loader.list_available_services("service-2")
            self.v.problem(w_svc, f"{service!r} is not a botocore service"
                           + did_you_mean(service, names))
            return
        ops = sorted(xform_name(o) for o in model.get("operations", {}))
        if operation not in ops:
            self.v.problem(w_op, f"{operation!r} is not an operation of {service} (boto3's "
                           "method name, e.g. get_object)" + did_you_mean(operation, ops))

    def http(self, m: Any, where: Any, prefix: str) -> dict[str, Any] | None:
        from proxylab.scenarios.yaml_source import _Map

        v, sid = self.v, self.sid
        if not v.expect_type(m, (_Map,), "a mapping", where):
            return None
        v.check_keys(m, HTTP_FIELDS, sid, prefix)
        out: dict[str, Any] = {}
        w = v.at(m, "url", sid, prefix)
        if ("url" in m) == ("url_from_env" in m):
            v.problem(w, "give exactly one of 'url' or 'url_from_env' (a variable the function "
                      "reads its URL from, as the seed's WEB_URL and API_GATEWAY_URL)")
        if "url_from_env" in m:
            we = v.at(m, "url_from_env", sid, prefix)
            if v.expect_type(m["url_from_env"], (str,), "a string", we):
                out["url_from_env"] = m["url_from_env"]
        if "url" not in m:
            pass
        elif v.expect_type(m["url"], (str,), "a string", w):
            url = m["url"]
            v.refs(url, w)
            if not (url.startswith("http://") or url.startswith("https://")
                    or url.startswith("${")):
                v.problem(w, f"{url!r} is not an http:// or https:// URL")
            out["url"] = url
        if "method" in m:
            meth = v.choice(m["method"], METHODS, v.at(m, "method", sid, prefix))
            if meth:
                out["method"] = meth
        if "headers" in m:
            hw = v.at(m, "headers", sid, prefix)
            h = m["headers"]
            if v.expect_type(h, (_Map,), "a mapping", hw):
                for k, x in h.items():
                    if v.expect_type(x, (str,), "a string",
                                     v.at(h, k, sid, prefix + "headers.")):
                        v.refs(x, hw)
                out["headers"] = {str(k): x for k, x in h.items() if isinstance(x, str)}
        if "body" in m and v.expect_type(m["body"], (str,), "a string",
                                         v.at(m, "body", sid, prefix)):
            out["body"] = m["body"]
        return out
