"""The user's own matrix clients: a command template each, from ``--add-client
NAME=TEMPLATE`` or a YAML catalogue (``--clients-file``)::

    clients:
      - name: my-curl
        command: "curl -sS -o /dev/null --max-time {timeout} {url}"
        summary: curl as our layer calls it
        targets: [web, api]        # optional; default: every target

The template's ``{url}``, ``{timeout}`` (seconds) and ``{ca}`` (the lab CA file) are
filled per cell; the command is split like a shell would (no shell runs it). Exit 0
is success; the route comes from the lab's evidence as for every client. A user's
client has no modelled rule, so its cells read ``no-rule`` rather than agreement.
The YAML is read with the scenario catalogue's bounded loader.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from proxylab.clients.registry import ClientSpec, Result, Target
from proxylab.errors import UserError
from proxylab.labs.local.processes import BASE_PATH as LAB_PATH
from proxylab.vocab import Outcome

TARGETS = frozenset({"web", "web-http", "web-ip-http", "s3", "api"})
FIELDS = ("{url}", "{timeout}", "{ca}")


def _parse(rc: int | None, stdout: str, stderr: str) -> Result:
    if rc == 0:
        return Result(Outcome.OK, None, "")
    if rc is None:
        return Result(Outcome.TIMEOUT, None, "killed after its time limit")
    return Result(Outcome.OTHER, None, f"exit {rc}: {stderr.strip()}"[-600:])


def template_client(name: str, command: str, summary: str = "",
                    targets: list[str] | None = None) -> ClientSpec:
    """A :class:`ClientSpec` running ``command`` (a template, see the module docstring)."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise UserError(f"client name {name!r}: use letters, digits, - and _")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise UserError(f"client {name!r}: cannot split its command ({exc})") from None
    if not words or "{url}" not in command:
        raise UserError(f"client {name!r}: the command must name {{url}} (and may use "
                        f"{', '.join(FIELDS[1:])})")
    unknown = set(targets or []) - TARGETS
    if unknown:
        raise UserError(f"client {name!r}: unknown target(s) {sorted(unknown)} "
                        f"(known: {', '.join(sorted(TARGETS))})")

    def argv(target: Target, limit: float, ca: str) -> list[str]:
        return [w.replace("{url}", target.url).replace("{timeout}", f"{limit:g}")
                .replace("{ca}", ca) for w in words]

    def version() -> str | None:
        return "user command" if shutil.which(words[0], path=LAB_PATH) else None

    return ClientSpec(name, "command", summary or f"user command: {command}",
                      f"install {words[0]}", argv, _parse, binary=words[0],
                      targets=frozenset(targets) if targets else TARGETS, versioner=version)


def from_args(pairs: list[str] | None) -> list[ClientSpec]:
    out = []
    for pair in pairs or []:
        name, sep, command = pair.partition("=")
        if not sep:
            raise UserError(f"--add-client {pair!r}: write NAME='COMMAND {{url}}'")
        out.append(template_client(name.strip(), command))
    return out


def from_file(path: str | Path) -> list[ClientSpec]:
    from proxylab.scenarios.yaml_source import TooBig, load_bounded

    try:
        data = load_bounded(Path(path).read_text(encoding="utf-8"))
    except (OSError, TooBig, ValueError) as exc:
        raise UserError(f"{path}: cannot read the clients catalogue ({exc})") from None
    entries = (data or {}).get("clients") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UserError(f"{path}: expected a top-level 'clients:' list")
    out = []
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict) or not isinstance(e.get("command"), str):
            raise UserError(f"{path}: clients[{i}] needs a name and a command string")
        out.append(template_client(str(e.get("name", "")), e["command"],
                                   str(e.get("summary", "")), e.get("targets")))
    return out
