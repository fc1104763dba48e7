"""The import graph of ``lib/proxylab`` flows one way: no cycles, nothing up to the CLI.

Read from the source with :mod:`ast` (every import, function-level ones included: a
lazy import is still an arrow), so the test needs nothing installed and cannot be
fooled by import order. A package's ``__init__`` counts as the module ``pkg``.
Imports under ``if TYPE_CHECKING:`` are annotations, not arrows, and are skipped.
"""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "lib"


def _modules() -> dict[str, Path]:
    out = {}
    for path in (LIB / "proxylab").rglob("*.py"):
        parts = list(path.relative_to(LIB).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree)
                       if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for stmt in node.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                if t.startswith("proxylab"):
                    dep = _resolve(t, modules)
                    if dep and dep != mod:
                        graph[mod].add(dep)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read():
    g = import_graph()
    assert "proxylab.audit.parse" in g["proxylab.audit.reduce"]
    assert "proxylab.grammar.squid" in g["proxylab.logs.squid"]


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_library_module_imports_the_cli():
    up = {(m, d) for m, deps in import_graph().items() for d in deps
          if d.startswith("proxylab.commands") and not m.startswith("proxylab.commands")
          and m != "proxylab.cli"}
    assert up == set()


def test_the_grammar_stands_on_the_stdlib_and_vocab_only():
    g = import_graph()
    for mod, deps in g.items():
        if mod.startswith("proxylab.grammar"):
            assert all(d.startswith("proxylab.grammar") or d == "proxylab.vocab" for d in deps), mod
