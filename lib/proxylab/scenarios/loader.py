"""Load a scenario catalogue from YAML and check all of it before any lab starts.

Every problem is collected (not just the first), each with the file, the line,
the scenario and the dotted field it concerns, so a user fixes a file in one go:

    my.yaml:14: scenario 'seed-3': field 'env.NO_PROXY': expected a string, got list

The format is documented in docs/scenarios.md; keep the two in step.

Why one module of ~700 lines: it is the whole scenario format, field by field, in the
order docs/scenarios.md describes it, all reporting into one collector of located
problems; reading the YAML safely is apart (:mod:`.yaml_source`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import yaml

from proxylab.labs.base import EndpointLayout, InterfaceEndpoint
from proxylab.labs.local.lambda_env import RESERVED_KEYS as RESERVED_ENV
from proxylab.labs.proxy_policy import POLICY_FIELDS, ProxyPolicy
from proxylab.labs.proxy_policy import problems as policy_problems
from proxylab.scenarios.model import (
    ENV_SIZE_LIMIT,
    FUNCTIONS,
    KNOWN_RESOURCES,
    OUTCOMES,
    PRIVATE_API_PUBLIC_DNS,
    RUN_STATUSES,
    STEPS,
    VIAS,
    Catalog,
    Expectation,
    Problem,
    Scenario,
    ScenarioError,
    did_you_mean,
    references,
    resolve_text,
)
from proxylab.scenarios.steps import StepChecker
from proxylab.scenarios.yaml_source import MAX_CATALOG_BYTES, TooBig, _Map, load_bounded
from proxylab.vocab import Runtime

CATALOG_FIELDS = ("catalog", "title", "description", "region", "defaults", "scenarios")
SCENARIO_FIELDS = (
    "id",
    "title",
    "description",
    "function",
    "endpoints",
    "env",
    "event",
    "timeout_s",
    "handler",
    "code",
    "runtime",
    "expect",
    "proxy",
    "region",
    "internet",
    "steps",
)
DEFAULT_FIELDS = ("function", "endpoints", "env", "event", "timeout_s", "handler", "code",
                  "proxy", "runtime", "region", "internet", "steps")
RUNTIMES = tuple(str(r) for r in Runtime)
# Which files hold a handler's module, per runtime family (Lambda's own lookup order
# for Node: index.mjs, then .js, then .cjs).
CODE_SUFFIXES = {"python": (".py",), "nodejs": (".mjs", ".js", ".cjs")}
# The proxy policy travels inside the layout but is written as its own 'proxy:' block.
# ... and the internet stand-in's hosts are the scenario's own 'internet:' list.
ENDPOINT_FIELDS = tuple(f for f in EndpointLayout.__dataclass_fields__
                        if f not in ("proxy", "internet_hosts"))
INTERFACE_FIELDS = tuple(f for f in InterfaceEndpoint.__dataclass_fields__ if f != "service")
HOST_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
                     r"(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
URL_HOST_RE = re.compile(r"\bhttps?://([A-Za-z0-9.-]+)")
EXPECT_FIELDS = ("status", "crosses_proxy", "bypasses_proxy", "steps", "services")
MAX_TIMEOUT_S = 900  # Lambda's maximum function timeout

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HANDLER_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


# --------------------------------------------------------------------------- YAML


def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's data (cached tables)."""
    from proxylab.awsdata.hostnames import partitions

    return frozenset(r for p in partitions() for r in p.regions if p.region_re.match(r))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        _Map: "mapping",
        dict: "mapping",
    }.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- catalogue lookup


def packaged_catalogs() -> dict[str, Path]:
    """Catalogues shipped with proxylab, by name (``seed``, ``examples``)."""
    root = importlib_resources.files("proxylab.scenarios")
    out = {}
    for entry in root.iterdir():
        if entry.name.endswith(".yaml"):
            out[entry.name[: -len(".yaml")]] = Path(str(entry))
    return dict(sorted(out.items()))


def resolve_catalog_path(ref: str | Path) -> Path:
    """``seed`` / ``examples`` -> the packaged file; anything else -> a user's file.

    A bare name that is neither packaged nor an existing file is an error listing
    both possibilities."""
    text = str(ref)
    path = Path(text).expanduser()
    looks_like_path = isinstance(ref, Path) or "/" in text or text.endswith((".yaml", ".yml"))
    packaged = packaged_catalogs()
    if not looks_like_path and text in packaged:
        return packaged[text]
    if path.is_file():
        return path
    if path.exists():
        raise ScenarioError(f"{text}: is not a file (a catalogue is one YAML file)")
    hint = "" if looks_like_path else did_you_mean(text, list(packaged))
    raise ScenarioError(
        f"{text}: no such catalogue file{hint} (packaged catalogues: {', '.join(packaged)})"
    )


# --------------------------------------------------------------------------- loading


def load_catalog(ref: str | Path) -> Catalog:
    """Read, parse and validate a catalogue; raise :class:`ScenarioError` listing
    every problem found."""
    path = resolve_catalog_path(ref)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    catalog, problems = parse_catalog(text, path)
    if problems or catalog is None:
        raise ScenarioError(problems)
    return catalog


def validate_catalog(ref: str | Path) -> tuple[Catalog | None, list[Problem]]:
    """Like :func:`load_catalog` but returns the problems instead of raising."""
    try:
        path = resolve_catalog_path(ref)
        text = path.read_text(encoding="utf-8")
    except ScenarioError as exc:
        return None, exc.problems
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(file=str(ref), message=f"cannot read: {exc}")]
    return parse_catalog(text, path)


class _Blank(dict):
    """Resources in which every reference exists and is empty."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


def env_size_floor(env: dict[str, str]) -> int:
    """The smallest size the variables can have once references are resolved (each
    reference counted as empty): what `validate` can check of Lambda's 4 KB limit
    before a lab exists. ``Scenario.resolve_env`` applies the exact limit at run time."""
    return sum(len(k) + len(resolve_text(str(v), _Blank())) for k, v in env.items())


def parse_catalog(text: str, path: Path) -> tuple[Catalog | None, list[Problem]]:
    """Parse catalogue text; ``path`` names it in messages and anchors ``code``."""
    v = _Validator(str(path), path.parent)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CATALOG_BYTES:
        return None, [Problem(file=str(path), message=f"the file is larger than "
                              f"{MAX_CATALOG_BYTES >> 20} MiB; a catalogue is a few kilobytes")]
    try:
        data = load_bounded(text)
    except TooBig as exc:
        return None, [Problem(file=str(path), message=str(exc))]
    except RecursionError:
        return None, [Problem(file=str(path), message="the YAML is nested too deeply")]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = f", column {mark.column + 1}" if mark else ""
        detail = " ".join(x for x in (exc.context, exc.problem) if x)
        return None, [
            Problem(file=str(path), line=line, message=f"YAML syntax error{col}: {detail}")
        ]
    except yaml.YAMLError as exc:
        return None, [Problem(file=str(path), message=f"YAML error: {exc}")]
    catalog = v.catalog(data, path)
    # In file order, so a user reads them top to bottom next to the file.
    found = sorted(v.problems, key=lambda p: p.line or 0)
    return (None if found else catalog), found


@dataclass
class _Where:
    line: int | None
    scenario: str | None
    field: str


class _Validator:
    """Walks the parsed YAML, building records and collecting problems."""

    def __init__(self, file: str, base_dir: Path):
        self.file = file
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.default_keys: set[str] = set()  # fields 'defaults' gives, valid or not

    def problem(self, where: _Where, message: str) -> None:
        self.problems.append(
            Problem(
                file=self.file,
                line=where.line,
                scenario=where.scenario,
                field=where.field or None,
                message=message,
            )
        )

    # -- helpers -----------------------------------------------------------

    @staticmethod
    def at(m: _Map, key: str, scenario: str | None, prefix: str = "") -> _Where:
        return _Where(m.lines.get(key, m.line), scenario, f"{prefix}{key}")

    def check_keys(
        self, m: _Map, allowed: tuple[str, ...], scenario: str | None, prefix: str
    ) -> None:
        for key, line in m.duplicates:
            self.problem(_Where(line, scenario, f"{prefix}{key}"), "duplicate key (given twice)")
        for key in m:
            if key not in allowed:
                name = str(key)
                self.problem(
                    _Where(m.lines.get(key, m.line), scenario, f"{prefix}{name}"),
                    "unknown field"
                    + did_you_mean(name, allowed)
                    + f" (allowed: {', '.join(allowed)})",
                )

    def expect_type(self, value: Any, types: tuple[type, ...], what: str, where: _Where) -> bool:
        ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
        if not ok:
            hint = ""
            if what == "a string" and isinstance(value, (bool, int, float)):
                hint = ' (quote it: "…")'
            if what == "a string" and value is None:
                hint = ' (an empty value is written "")'
            self.problem(where, f"expected {what}, got {_type_name(value)}{hint}")
        return ok

    def choice(self, value: Any, choices: tuple[str, ...], where: _Where) -> str | None:
        if not self.expect_type(value, (str,), "a string", where):
            return None
        if value not in choices:
            self.problem(
                where,
                f"{value!r} is not one of: {', '.join(choices)}" + did_you_mean(value, choices),
            )
            return None
        return value

    def refs(self, text: str, where: _Where) -> None:
        for name in references(text):
            if name not in KNOWN_RESOURCES:
                self.problem(
                    where,
                    f"unknown reference ${{{name}}}"
                    + did_you_mean(name, KNOWN_RESOURCES)
                    + f" (lab resources: {', '.join(KNOWN_RESOURCES)};"
                    + " write $${ for a literal ${)",
                )

    # -- catalogue ---------------------------------------------------------

    def catalog(self, data: Any, path: Path) -> Catalog | None:
        top = _Where(1, None, "")
        if data is None:
            self.problem(
                top, "the file is empty (expected a mapping with 'catalog', 'title', 'scenarios')"
            )
            return None
        if not isinstance(data, _Map):
            self.problem(top, f"expected a mapping at the top level, got {_type_name(data)}")
            return None
        self.check_keys(data, CATALOG_FIELDS, None, "")
        cat_id = self.required_id(data, "catalog", None)
        title = self.required_str(data, "title", None)
        description = self.optional_str(data, "description", None)
        defaults: dict[str, Any] = {}
        region = None
        if "region" in data:
            region = self.region(data["region"], self.at(data, "region", None))
        if "defaults" in data:
            d = data["defaults"]
            if self.expect_type(d, (_Map,), "a mapping", self.at(data, "defaults", None)):
                self.check_keys(d, DEFAULT_FIELDS, None, "defaults.")
                self.default_keys = {k for k in d if isinstance(k, str)}
                defaults = self.fields(d, None, "defaults.")
        if region is not None:  # the catalogue's region: what 'defaults' says wins
            defaults.setdefault("region", region)
        scenarios: list[Scenario] = []
        if "scenarios" not in data:
            self.problem(_Where(data.line, None, "scenarios"), "missing (a list of scenarios)")
        else:
            items = data["scenarios"]
            where = self.at(data, "scenarios", None)
            if self.expect_type(items, (list,), "a list", where):
                if not items:
                    self.problem(where, "empty: a catalogue needs at least one scenario")
                seen: dict[str, int] = {}
                for index, item in enumerate(items):
                    s = self.scenario(item, index, defaults, where.line, seen)
                    if s is not None:
                        scenarios.append(s)
        if cat_id is None or title is None:
            return None
        return Catalog(
            id=cat_id, title=title, path=path, description=description or "", scenarios=scenarios,
            region=region,
        )

    def required_id(self, m: _Map, key: str, scenario: str | None) -> str | None:
        if key not in m:
            self.problem(_Where(m.line, scenario, key), "missing")
            return None
        value, where = m[key], self.at(m, key, scenario)
        if not self.expect_type(value, (str,), "a string", where):
            return None
        if not ID_RE.match(value):
            self.problem(
                where,
                f"{value!r} is not a valid id (letters, digits, '.', '_', '-'; "
                "starting with a letter or digit; at most 64 characters)",
            )
            return None
        return value

    def required_str(self, m: _Map, key: str, scenario: str | None) -> str | None:
        if key not in m:
            self.problem(_Where(m.line, scenario, key), "missing")
            return None
        value = m[key]
        return (
            value
            if self.expect_type(value, (str,), "a string", self.at(m, key, scenario))
            else None
        )

    def optional_str(self, m: _Map, key: str, scenario: str | None) -> str | None:
        if key not in m:
            return None
        value = m[key]
        return (
            value
            if self.expect_type(value, (str,), "a string", self.at(m, key, scenario))
            else None
        )

    # -- scenario ----------------------------------------------------------

    def scenario(
        self,
        item: Any,
        index: int,
        defaults: dict[str, Any],
        list_line: int | None,
        seen: dict[str, int],
    ) -> Scenario | None:
        label = f"#{index + 1}"
        if not isinstance(item, _Map):
            self.problem(
                _Where(list_line, label, ""), f"expected a mapping, got {_type_name(item)}"
            )
            return None
        sid = label
        if "id" not in item:
            self.problem(_Where(item.line, label, "id"), "missing")
        else:
            got = self.required_id(item, "id", label)
            if got is not None:
                sid = got
                if got in seen:
                    self.problem(
                        self.at(item, "id", got),
                        f"duplicate id (scenario #{index + 1}; first defined at line {seen[got]})",
                    )
                else:
                    seen[got] = item.lines.get("id", item.line)
        self.check_keys(item, SCENARIO_FIELDS, sid, "")
        title = self.optional_str(item, "title", sid)
        description = self.optional_str(item, "description", sid)
        own = self.fields(item, sid, "")
        merged = dict(defaults)
        for key, value in own.items():
            if key == "env":
                env = dict(defaults.get("env", {}))
                env.update(value)
                merged["env"] = env
            elif key in ("endpoints", "proxy"):
                merged[key] = {**defaults.get(key, {}), **value}
            else:
                merged[key] = value
        env = {k: v for k, v in merged.get("env", {}).items() if v is not None}
        floor = env_size_floor(env)
        if floor > ENV_SIZE_LIMIT:
            self.problem(self.at(item, "env", sid) if "env" in item else _Where(item.line, sid,
                                                                                "env"),
                         f"at least {floor} bytes of variables (before ${{...}} references are "
                         f"filled in); Lambda allows {ENV_SIZE_LIMIT}, so `run` would refuse it")
        layout = {**EndpointLayout().to_dict(), **merged.get("endpoints", {})}
        layout["interfaces"] = tuple(layout.get("interfaces") or ())
        layout["proxy"] = ProxyPolicy.from_dict(merged.get("proxy"))
        layout["internet_hosts"] = internet_hosts(merged.get("internet", ()), env)
        ep_where = (self.at(item, "endpoints", sid) if "endpoints" in item
                    else _Where(item.line, sid, "endpoints"))
        for ep in layout["interfaces"]:
            if (ep.service == "s3" and ep.private_dns and not layout["s3_gateway"]
                    and ep.private_dns_only_for_inbound_resolver_endpoint):
                self.problem(ep_where, "interfaces.s3: private_dns_only_for_inbound_resolver_"
                             "endpoint needs an S3 gateway endpoint (AWS refuses it without one):"
                             " set s3_gateway: true, or the option to false")
        if layout["execute_api_private_dns"] and not layout["execute_api_interface"]:
            self.problem(
                self.at(item, "endpoints", sid)
                if "endpoints" in item
                else _Where(item.line, sid, "endpoints"),
                "execute_api_private_dns: true needs execute_api_interface: true "
                "(private DNS is a property of the interface endpoint)",
            )
        function = merged.get("function")
        if "function" not in item and "function" not in self.default_keys:
            self.problem(
                _Where(item.line, sid, "function"),
                f"missing (one of: {', '.join(FUNCTIONS)}; or set it in 'defaults')",
            )
        code, handler = merged.get("code"), merged.get("handler")
        runtime = Runtime(merged.get("runtime", Runtime.PYTHON3))
        if handler is not None and "code" not in item and "code" not in self.default_keys:
            self.problem(
                self.at(item, "handler", sid)
                if "handler" in item
                else _Where(item.line, sid, "handler"),
                "'handler' needs 'code' (the probe's own handler cannot be changed)",
            )
        handler_given = "handler" in item or "handler" in self.default_keys
        if code is not None and (handler is not None or not handler_given):
            handler = self.code_handler(code, handler, item, sid, runtime)
        steps = merged.get("steps", ())
        if steps and (code is not None or runtime is not Runtime.PYTHON3):
            where = self.at(item, "steps", sid) if "steps" in item else _Where(item.line, sid,
                                                                               "steps")
            self.problem(where, "'steps' are run by the Python probe; a scenario with its own "
                         "'code' or a Node runtime runs that instead")
        expect = None
        if "expect" in item:
            expect = self.expect(item["expect"], self.at(item, "expect", sid), sid)
        if function is None or sid == label:
            return None
        return Scenario(
            id=sid,
            title=title or sid,
            description=(description or "").strip(),
            function=function,
            endpoints=EndpointLayout(**layout),
            env=env,
            event=merged.get("event", {}),
            timeout_s=merged.get("timeout_s", 30.0),
            code=None if code is None else str(code),
            handler=handler,
            expect=expect,
            source=self.file,
            line=item.line,
            runtime=runtime,
            region=merged.get("region"),
            steps=tuple(steps),
        )

    def fields(self, m: _Map, sid: str | None, prefix: str) -> dict[str, Any]:
        """The checked values of the fields a scenario and 'defaults' share."""
        out: dict[str, Any] = {}
        if "function" in m:
            f = self.choice(m["function"], FUNCTIONS, self.at(m, "function", sid, prefix))
            if f is not None:
                out["function"] = f
        if "endpoints" in m:
            e = self.endpoints(m["endpoints"], self.at(m, "endpoints", sid, prefix), sid, prefix)
            if e is not None:
                out["endpoints"] = e
        if "proxy" in m:
            pol = self.proxy(m["proxy"], self.at(m, "proxy", sid, prefix), sid, prefix)
            if pol is not None:
                out["proxy"] = pol
        if "env" in m:
            env = self.env(m["env"], self.at(m, "env", sid, prefix), sid, prefix)
            if env is not None:
                out["env"] = env
        if "event" in m:
            where = self.at(m, "event", sid, prefix)
            event = m["event"]
            if self.expect_type(event, (_Map,), "a mapping", where):
                try:
                    out["event"] = json.loads(json.dumps(event))
                except (TypeError, ValueError) as exc:
                    self.problem(
                        where, f"not representable as JSON (a Lambda event is JSON): {exc}"
                    )
        if "timeout_s" in m:
            where = self.at(m, "timeout_s", sid, prefix)
            t = m["timeout_s"]
            if self.expect_type(t, (int, float), "a number of seconds", where):
                if not 0 < t <= MAX_TIMEOUT_S:
                    self.problem(
                        where, f"{t} is out of range (Lambda allows 1 to {MAX_TIMEOUT_S} seconds)"
                    )
                else:
                    out["timeout_s"] = float(t)
        if "handler" in m:
            where = self.at(m, "handler", sid, prefix)
            h = m["handler"]
            if self.expect_type(h, (str,), "a string", where):
                if HANDLER_RE.match(h):
                    out["handler"] = h
                else:
                    self.problem(where, f"{h!r} is not a Python handler (write module.function)")
        if "internet" in m:
            hosts = self.hosts(m["internet"], self.at(m, "internet", sid, prefix))
            if hosts is not None:
                out["internet"] = hosts
        if "region" in m:
            reg = self.region(m["region"], self.at(m, "region", sid, prefix))
            if reg is not None:
                out["region"] = reg
        if "runtime" in m:
            r = self.choice(m["runtime"], RUNTIMES, self.at(m, "runtime", sid, prefix))
            if r is not None:
                out["runtime"] = r
        if "steps" in m:
            got = StepChecker(self, sid).steps(m["steps"], self.at(m, "steps", sid, prefix))
            if got is not None:
                out["steps"] = got
        if "code" in m:
            where = self.at(m, "code", sid, prefix)
            c = m["code"]
            if self.expect_type(c, (str,), "a string", where):
                p = (self.base_dir / c).resolve()
                if not p.exists():
                    self.problem(
                        where, f"{c!r} does not exist (looked for {p}; relative to the catalogue)"
                    )
                elif p.is_file() and not any(p.suffix in x for x in CODE_SUFFIXES.values()):
                    self.problem(where, f"{c!r} is not a .py, .mjs or .js file or a directory")
                else:
                    out["code"] = p
        return out

    def interfaces(self, value: Any, where: _Where, sid: str | None,
                   prefix: str) -> tuple[InterfaceEndpoint, ...] | None:
        """``interfaces: {service: {private_dns: ..., ...}}``: one interface endpoint per
        service, named by botocore's endpoint prefix."""
        from proxylab.awsdata.hostnames import service_index

        if not self.expect_type(value, (_Map,), "a mapping of service -> options", where):
            return None
        known = sorted(service_index())
        out = []
        for service, opts in value.items():
            w = _Where(value.lines.get(service, value.line), sid, f"{prefix}{service}")
            if service == "execute-api":
                self.problem(w, "the execute-api interface endpoint is the seed's own: use "
                             "execute_api_interface and execute_api_private_dns")
                continue
            if service not in known:
                self.problem(w, f"{service!r} is not a service endpoint prefix in botocore's "
                             "data" + did_you_mean(str(service), known))
                continue
            opts = _Map() if opts is None else opts
            if not self.expect_type(opts, (_Map,), "a mapping of options", w):
                continue
            self.check_keys(opts, INTERFACE_FIELDS, sid, f"{prefix}{service}.")
            flags = {}
            for key in INTERFACE_FIELDS:
                if key in opts and self.expect_type(opts[key], (bool,), "true or false",
                                                    self.at(opts, key, sid,
                                                            f"{prefix}{service}.")):
                    flags[key] = opts[key]
            if service != "s3" and "private_dns_only_for_inbound_resolver_endpoint" in flags:
                self.problem(w, "private_dns_only_for_inbound_resolver_endpoint is S3's option")
                continue
            out.append(InterfaceEndpoint(service, **flags))
        return tuple(out)

    def hosts(self, value: Any, where: _Where) -> tuple[str, ...] | None:
        """The ``internet:`` list: DNS names the internet stand-in serves (80 and 443)."""
        if not self.expect_type(value, (list,), "a list of host names", where):
            return None
        out = []
        for i, h in enumerate(value):
            wi = _Where(where.line, where.scenario, f"{where.field}[{i}]")
            if not self.expect_type(h, (str,), "a string", wi):
                continue
            if not HOST_RE.match(h.lower()):
                self.problem(wi, f"{h!r} is not a DNS name (e.g. api.example.com)")
                continue
            out.append(h.lower())
        return tuple(out)

    def region(self, value: Any, where: _Where) -> str | None:
        """A region botocore's data knows, in any partition: whether a backend can model
        it is the backend's decision when the lab is built (the local one refuses
        partitions it does not model, with the reason)."""
        if not self.expect_type(value, (str,), "a string", where):
            return None
        known = known_regions()
        if value not in known:
            self.problem(where, f"{value!r} is not a region in botocore's data"
                         + did_you_mean(value, sorted(known)))
            return None
        return value

    def endpoints(
        self, value: Any, where: _Where, sid: str | None, prefix: str
    ) -> dict[str, Any] | None:
        if not self.expect_type(value, (_Map,), "a mapping", where):
            return None
        p = f"{prefix}endpoints."
        self.check_keys(value, ENDPOINT_FIELDS, sid, p)
        out: dict[str, Any] = {}
        for key in ENDPOINT_FIELDS:
            if key not in value:
                continue
            w = self.at(value, key, sid, p)
            if key == "private_api_public_dns":
                c = self.choice(value[key], PRIVATE_API_PUBLIC_DNS, w)
                if c is not None:
                    out[key] = c
            elif key == "interfaces":
                eps = self.interfaces(value[key], w, sid, f"{p}interfaces.")
                if eps is not None:
                    out[key] = eps
            elif self.expect_type(value[key], (bool,), "true or false", w):
                out[key] = value[key]
        return out

    def proxy(
        self, value: Any, where: _Where, sid: str | None, prefix: str
    ) -> dict[str, Any] | None:
        """The ``proxy:`` block: Squid version, allowlist, users, or an own squid.conf."""
        if not self.expect_type(value, (_Map,), "a mapping", where):
            return None
        p = f"{prefix}proxy."
        self.check_keys(value, POLICY_FIELDS, sid, p)
        out: dict[str, Any] = {}
        for key in POLICY_FIELDS:
            if key not in value:
                continue
            w = self.at(value, key, sid, p)
            found = policy_problems(key, value[key])
            for message in found:
                self.problem(w, message)
            if found:
                continue
            v = value[key]
            if key == "config":
                path = (self.base_dir / v).resolve()
                if not path.is_file():
                    self.problem(w, f"{v!r} does not exist (looked for {path})")
                    continue
                v = str(path)
            out[key] = str(v) if key == "squid" else v
        if "config" in out and set(out) - {"config", "squid"}:
            self.problem(
                where,
                "'config' (your own squid.conf) replaces the lab's rules: "
                "give it alone, or with 'squid'",
            )
        return out

    def env(
        self, value: Any, where: _Where, sid: str | None, prefix: str
    ) -> dict[str, str | None] | None:
        if not self.expect_type(value, (_Map,), "a mapping of variable names to strings", where):
            return None
        for key, line in value.duplicates:
            self.problem(_Where(line, sid, f"{prefix}env.{key}"), "duplicate key (given twice)")
        out: dict[str, str | None] = {}
        for key, v in value.items():
            w = _Where(value.lines.get(key, value.line), sid, f"{prefix}env.{key}")
            if not isinstance(key, str) or not ENV_NAME_RE.match(key):
                self.problem(w, "not a valid environment variable name (letters, digits, '_')")
                continue
            if key in RESERVED_ENV:
                self.problem(w, "reserved by Lambda: a function's configuration cannot set it")
                continue
            if v is None and sid is not None and not prefix:
                out[key] = None  # drops a variable inherited from 'defaults'
                continue
            if self.expect_type(v, (str,), "a string", w):
                self.refs(v, w)
                out[key] = v
        return out

    def code_handler(self, code: Path, handler: str | None, item: _Map, sid: str,
                     runtime: Runtime = Runtime.PYTHON3) -> str | None:
        where = self.at(item, "handler", sid) if "handler" in item else self.at(item, "code", sid)
        suffixes = CODE_SUFFIXES["python" if runtime.node_major is None else "nodejs"]
        if code.is_file() and code.suffix not in suffixes:
            self.problem(self.at(item, "code", sid) if "code" in item else where,
                         f"{code.name!r} is not a {runtime} handler file "
                         f"({' or '.join(suffixes)})")
            return None
        if code.is_file():
            if handler is None:
                return f"{code.stem}.handler"
            module = handler.rsplit(".", 1)[0]
            if module != code.stem:
                self.problem(where, f"handler module {module!r} is not the code file {code.name!r}")
                return None
            return handler
        if handler is None:
            self.problem(
                where,
                "'code' is a directory: say which function runs with 'handler: module.function'",
            )
            return None
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        if not any((code / (module + suffix)).is_file() for suffix in suffixes):
            self.problem(
                where, f"handler {handler!r}: no {module}{'|'.join(suffixes)} in {code}"
            )
            return None
        return handler

    def expect(self, value: Any, where: _Where, sid: str) -> Expectation | None:
        if not self.expect_type(value, (_Map,), "a mapping", where):
            return None
        self.check_keys(value, EXPECT_FIELDS, sid, "expect.")
        before = len(self.problems)
        status = None
        if "status" in value:
            status = self.choice(
                value["status"], RUN_STATUSES, self.at(value, "status", sid, "expect.")
            )
        hosts: dict[str, tuple[str, ...]] = {}
        for key in ("crosses_proxy", "bypasses_proxy"):
            if key not in value:
                continue
            w = self.at(value, key, sid, "expect.")
            items = value[key]
            if not self.expect_type(items, (list,), "a list of host names", w):
                continue
            good = []
            for i, h in enumerate(items):
                wi = _Where(w.line, sid, f"expect.{key}[{i}]")
                if self.expect_type(h, (str,), "a string", wi):
                    self.refs(h, wi)
                    good.append(h)
            hosts[key] = tuple(good)
        steps = self.outcome_map(value, "steps", STEPS, OUTCOMES, sid)
        services = self.outcome_map(value, "services", None, VIAS, sid)
        if len(self.problems) != before:
            return None
        return Expectation(
            status=status,
            crosses_proxy=hosts.get("crosses_proxy"),
            bypasses_proxy=hosts.get("bypasses_proxy", ()),
            steps=steps,
            services=services,
        )

    def outcome_map(
        self, m: _Map, key: str, keys: tuple[str, ...] | None, values: tuple[str, ...], sid: str
    ) -> dict[str, str]:
        if key not in m:
            return {}
        w = self.at(m, key, sid, "expect.")
        value = m[key]
        if not self.expect_type(value, (_Map,), "a mapping", w):
            return {}
        if keys is not None:
            self.check_keys(value, keys, sid, f"expect.{key}.")
        out = {}
        for k, v in value.items():
            if keys is not None and k not in keys:
                continue
            c = self.choice(v, values, self.at(value, k, sid, f"expect.{key}."))
            if c is not None:
                out[str(k)] = c
        return out


def internet_hosts(named: tuple[str, ...] | list[str], env: dict[str, str]) -> tuple[str, ...]:
    """The hosts the internet stand-in serves for a scenario: its ``internet:`` list and
    every non-AWS host an ``http(s)://`` URL in its variables names (a webhook, a payment
    API), so a URL a scenario gives its function answers as on the internet; IP
    addresses and ``${...}`` references are the lab's own."""
    from proxylab.awsdata.hostnames import classify

    found = list(named)
    for value in env.values():
        for host in URL_HOST_RE.findall(resolve_text(value, _Blank()) if "$" in value
                                        else value):
            host = host.lower().rstrip(".")
            if HOST_RE.match(host) and not host.replace(".", "").isdigit() \
                    and not classify(host).is_aws:
                found.append(host)
    return tuple(sorted(set(found)))


def scenario_env(
    catalog: str | Path | Catalog, scenario_id: str, resources: dict[str, str]
) -> dict[str, str]:
    """The variables one scenario gives the function, resolved against a lab's
    ``resources`` (``LabDescription.resources``): what `proxylab lab exec
    --scenario ID` runs a command with.

    ``catalog`` is ``"seed"``, ``"examples"``, a file path, or a loaded
    :class:`Catalog`. Raises :class:`ScenarioError` (a ``UserError``) for a bad
    catalogue, an unknown scenario id or a reference the lab cannot resolve.
    """
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    return cat.get(scenario_id).resolve_env(resources)
