"""Run one client command inside a lab place and write what it did to a JSON file.

Run as ``python cell.py OUT.json TIMEOUT_S -- ARGV...`` (the file itself, not
``-m``: it imports nothing of the project, so each cell pays only an interpreter
start). Why a wrapper at all: the Lab protocol's ``exec`` runs a command in a
place with a clean environment and returns only its exit status, while the
matrix needs the client's output (its status line or error) too. The command
inherits this process's environment unchanged: the case's proxy variables are
exactly what the client sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: cell.py OUT.json TIMEOUT_S -- ARGV...", file=sys.stderr)
        return 2
    out, limit, command = argv[0], float(argv[1]), argv[3:]
    started = time.monotonic()
    record: dict[str, object] = {"argv": command}
    try:
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=limit, stdin=subprocess.DEVNULL)
        record.update(rc=proc.returncode, stdout=proc.stdout[-4000:],
                      stderr=proc.stderr[-4000:], killed=False)
    except subprocess.TimeoutExpired as exc:
        record.update(rc=None, stdout=_text(exc.stdout), stderr=_text(exc.stderr), killed=True)
    except OSError as exc:
        record.update(rc=None, stdout="", stderr=f"cannot start: {exc}", killed=False)
    record["elapsed_s"] = round(time.monotonic() - started, 3)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    return 0


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return (data.decode(errors="replace") if isinstance(data, bytes) else data)[-4000:]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
