"""Stable placeholders for identifiers, applied the same way everywhere.

One :class:`Redactor` is built from the captures (every account id, bucket, API
id, vpce id, request id and IP address they contain), numbered in sorted order,
so the report's text, tables and charts - rendered by different notebooks, in
different processes - all say ``bucket-1`` for the same bucket. Values found
later that were not in the captures get a keyed-hash placeholder (the key is
per report), so nothing identifying is ever printed and a plain hash of an IPv4
address cannot be reversed by enumeration.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

UUID_RE = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}\b")
IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d])")
IPV6_RE = re.compile(r"(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])")
VPCE_RE = re.compile(r"\bvpce-[0-9a-f]{8,17}\b")
ARN_ACCOUNT_RE = re.compile(r"(arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:)(\d{12})(:)")
API_HOST_RE = re.compile(r"\b([a-z0-9]{10})\.execute-api\.")
# Local paths say who ran the report and where (a home directory, a checkout, a temp
# dir): kept to their last part, which is what a reader needs ("…/run.json").
LOCAL_PATH_RE = re.compile(r"(?<![\w./-])/(?:home|root|Users|tmp|work|var/folders|mnt|srv)"
                           r"(?:/[^\s/'\"`)<>,;:]+)*/(?P<last>[^\s/'\"`)<>,;:]+)")
# Reverse-lookup names spell an address backwards: 211.143.1.10.in-addr.arpa
PTR_RE = re.compile(r"(?<![\d.])((?:\d{1,3}\.){4})in-addr\.arpa")


@dataclass
class Redactor:
    """text -> text with identifiers replaced. ``enabled=False`` is the identity."""

    mapping: dict[str, str] = field(default_factory=dict)
    key: bytes = b""
    enabled: bool = True

    def __call__(self, text: Any) -> Any:
        return self.text(text)

    def text(self, text: Any) -> Any:
        if not self.enabled or not isinstance(text, str) or not text:
            return text
        for value in self._literals():
            if value in text:
                text = text.replace(value, self.mapping[value])
        text = PTR_RE.sub(lambda m: self._ip(_unreverse(m[1])) + ".in-addr.arpa", text)
        text = ARN_ACCOUNT_RE.sub(lambda m: m[1] + self._fallback("account", m[2]) + m[3], text)
        text = UUID_RE.sub(lambda m: self._fallback("request", m[0]), text)
        text = VPCE_RE.sub(lambda m: self._fallback("vpce", m[0]), text)
        text = IPV4_RE.sub(lambda m: self._ip(m[0]), text)
        text = API_HOST_RE.sub(lambda m: self._fallback("api", m[1]) + ".execute-api.", text)
        text = LOCAL_PATH_RE.sub(lambda m: "…/" + m["last"], text)
        return text

    def _literals(self) -> list[str]:
        """Mapped values replaced as substrings; addresses only as whole matches
        (``10.0.0.2`` must not eat the front of ``10.0.0.25``)."""
        if getattr(self, "_lit", None) is None:
            self._lit = sorted((v for v in self.mapping if not IPV4_RE.fullmatch(v)),
                               key=len, reverse=True)
        return self._lit

    def _ip(self, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return value
        return self.mapping.get(value) or self._fallback("ip", value)

    def _fallback(self, kind: str, value: str) -> str:
        if value in self.mapping:
            return self.mapping[value]
        if value in self.mapping.values() or value.startswith(f"{kind}-"):
            return value
        digest = hmac.new(self.key or b"proxylab", value.encode(), hashlib.sha256).hexdigest()
        return f"{kind}-{digest[:6]}"

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy with every text-like cell redacted (categories and strings)."""
        if not self.enabled:
            return df
        out = df.copy()
        for col in out.columns:
            s = out[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                out[col] = s.cat.rename_categories(
                    _unique([self.text(c) if isinstance(c, str) else c
                             for c in s.cat.categories]))
            elif pd.api.types.is_string_dtype(s) or s.dtype == object:
                out[col] = s.map(lambda v: self.text(v) if isinstance(v, str) else v)
        return out


def _unreverse(labels: str) -> str:
    return ".".join(reversed(labels.rstrip(".").split(".")))


def _unique(values: list[Any]) -> list[Any]:
    seen: dict[Any, int] = {}
    out = []
    for v in values:
        if v in seen:
            seen[v] += 1
            v = f"{v}~{seen[v]}"
        else:
            seen[v] = 0
        out.append(v)
    return out


def build(tables: Any, enabled: bool = True, key: str | bytes = b"") -> Redactor:
    """Number every identifier the captures hold, in a stable (sorted) order."""
    if isinstance(key, str):
        key = key.encode()
    if not enabled:
        return Redactor(enabled=False)
    kinds: dict[str, set[str]] = {k: set() for k in
                                  ("account", "bucket", "regional-api", "private-api", "api",
                                   "vpce", "request", "ip")}
    for record in tables.records.values():
        rec = record.to_dict()
        res = rec["lab"]["resources"]
        for k, kind in (("account_id", "account"), ("bucket", "bucket"),
                        ("regional_api_id", "regional-api"), ("private_api_id", "private-api"),
                        ("execute_api_vpce_id", "vpce"), ("s3_gateway_vpce_id", "vpce")):
            if res.get(k):
                kinds[kind].add(str(res[k]))
        for text in _strings(rec):
            _collect(text, kinds)
    for df in (tables.proxy_requests, tables.function_events, tables.invocations,
               tables.dns_queries, tables.service_hits):
        for col in df.columns:
            if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]) or \
                    isinstance(df[col].dtype, pd.CategoricalDtype):
                for v in pd.unique(df[col].dropna().astype(str)):
                    _collect(v, kinds)
    mapping: dict[str, str] = {}
    names = {"account": lambda i: f"{i:012d}", "bucket": lambda i: f"bucket-{i}",
             "regional-api": lambda i: f"regionalapi{i}", "private-api": lambda i: f"privateapi{i}",
             "api": lambda i: f"apiid{i:05d}", "vpce": lambda i: f"vpce-{i:017d}",
             "request": lambda i: f"request-{i}", "ip": lambda i: f"ip-{i}"}
    for kind, values in kinds.items():
        ordered = sorted(values, key=_ip_key) if kind == "ip" else sorted(values)
        for i, value in enumerate(ordered, 1):
            if value not in mapping:
                mapping[value] = names[kind](i)
    return Redactor(mapping=mapping, key=key, enabled=True)


def _ip_key(value: str) -> tuple:
    try:
        ip = ipaddress.ip_address(value)
        return (ip.version, int(ip))
    except ValueError:
        return (9, value)


def _collect(text: str, kinds: dict[str, set[str]]) -> None:
    for m in UUID_RE.finditer(text):
        kinds["request"].add(m[0])
    for m in VPCE_RE.finditer(text):
        kinds["vpce"].add(m[0])
    for m in PTR_RE.finditer(text):
        kinds["ip"].add(_unreverse(m[1]))
    for m in IPV4_RE.finditer(text):
        try:
            ipaddress.ip_address(m[0])
        except ValueError:
            continue
        kinds["ip"].add(m[0])
    for m in ARN_ACCOUNT_RE.finditer(text):
        kinds["account"].add(m[2])
    for m in API_HOST_RE.finditer(text):
        if m[1] not in kinds["regional-api"] and m[1] not in kinds["private-api"]:
            kinds["api"].add(m[1])


def _strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)
