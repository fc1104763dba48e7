"""Which API operation an AWS request is, from the request alone and botocore's models.

The lab's service fronts log every request with its operation, so a capture says
"secretsmanager GetSecretValue" rather than "POST /". Three protocols, three places:

- JSON protocols name it in ``X-Amz-Target`` (``secretsmanager.GetSecretValue``,
  ``DynamoDB_20120810.GetItem``): the part after the last dot;
- query protocols (STS, SQS's old wire, EC2...) send ``Action=`` in the query string
  or the form body;
- REST protocols (S3, Lambda, API Gateway's control plane...) are known by method and
  path only: matched against each operation's ``http.requestUri`` template in the
  service's botocore model, the most specific match winning (literal characters and
  required query keys count, as botocore's own routing tables in moto do).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qs

from proxylab.awsdata.cache import loader
from proxylab.awsdata.hostnames import service_index


def operation(service: str | None, method: str, path: str, query: str,
              target: str | None, body: bytes = b"", form: bool = False,
              headers: frozenset[str] = frozenset()) -> str | None:
    """The operation a request is (None when nothing names it). ``path`` for S3's
    virtual-hosted requests must have the bucket in front (``/<bucket><path>``)."""
    if target:
        return target.rsplit(".", 1)[-1] or None
    action = parse_qs(query).get("Action")
    if not action and form and body:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return action[0]
    if not service:
        return None
    return rest_operation(service, method, path, set(parse_qs(query, keep_blank_values=True)),
                          headers)


def rest_operation(service: str, method: str, path: str, query_keys: set[str],
                   headers: frozenset[str] = frozenset()) -> str | None:
    """The REST operation whose method and ``requestUri`` template fit best; an
    operation whose required header is absent does not fit (S3's CopyObject is a PUT
    with ``x-amz-copy-source``, PutObject the same PUT without). ``headers``: lower case."""
    best: tuple[int, int, int, str] | None = None
    for op, op_method, pattern, literal, needs, must in _templates(service):
        if (op_method != method or not needs <= query_keys or not must <= headers
                or not pattern.fullmatch(path)):
            continue
        score = (len(needs), len(must), literal, op)
        if best is None or score[:3] > best[:3]:
            best = score
    return best[3] if best else None


@functools.lru_cache(maxsize=64)
def _templates(service: str) -> tuple[tuple[str, str, re.Pattern[str], int, frozenset[str],
                                             frozenset[str]], ...]:
    """(operation, method, path regex, literal characters, required query keys, required
    headers) for each operation of the botocore model with this endpoint prefix (REST
    protocols only)."""
    names = [n for n, _ in service_index().get(service, [])]
    if not names:
        return ()
    name = service if service in names else names[0]
    try:
        model = loader().load_service_model(name, "service-2")
    except Exception:  # noqa: BLE001 - no model: no operation names
        return ()
    if model.get("metadata", {}).get("protocol") not in ("rest-xml", "rest-json"):
        return ()
    out = []
    for op, spec in model.get("operations", {}).items():
        http = spec.get("http", {})
        uri = http.get("requestUri", "/")
        path_t, _, query_t = uri.partition("?")
        needs = frozenset(q.split("=", 1)[0] for q in query_t.split("&") if q)
        regex, literal = "", 0
        for part in re.split(r"(\{[^}]+\})", path_t):
            if part.startswith("{"):
                regex += ".+" if part.endswith("+}") else "[^/]+"
            else:
                regex += re.escape(part)
                literal += len(part)
        shape = model.get("shapes", {}).get(spec.get("input", {}).get("shape", ""), {})
        members = shape.get("members", {})
        must = frozenset(members[m]["locationName"].lower() for m in shape.get("required", [])
                         if members.get(m, {}).get("location") == "header"
                         and "locationName" in members[m])
        # A template ending in "/" also matches without it (S3: "/{Bucket}" vs "/").
        out.append((op, http.get("method", "GET"), re.compile(regex + "/?"), literal, needs,
                    must))
    return tuple(out)
