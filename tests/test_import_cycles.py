"""No two modules of scinas import each other, directly or through others.

The graph is read from the source with :mod:`ast` (nothing is imported).  An edge ``a -> b``
is any ``import scinas.b`` / ``from scinas.b import x`` in ``a`` (and ``a -> scinas.b.x`` when
``x`` is a submodule), wherever it stands: at module level, under ``if TYPE_CHECKING:``, and
inside functions.  Type-only and lazy imports are counted on purpose: they hide a cycle from
the interpreter, not from the design (dependencies point one way, see DESIGN.md).  Relative
imports are not used in scinas; a parent package being run by ``import scinas.a.b`` is not an
edge (that is how every package works).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, known: set[str]) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names
                        if f"{node.module}.{alias.name}" in known)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of scinas it imports}``."""
    files = {_module(path): path for path in sorted((SRC / "scinas").rglob("*.py"))}
    known = set(files)
    return {name: {target for target in _imports(ast.parse(path.read_text(encoding="utf-8")), known)
                   if target in known and target != name}
            for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_scinas_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "scinas.store.sqlite" in graph and graph["scinas.cli"]  # the walk saw the package
    found = cycles(graph)
    assert not found, "modules that import each other:\n" + "\n".join(
        "  " + ", ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in found)
