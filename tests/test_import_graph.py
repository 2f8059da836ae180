"""The package import graph has no circle and no arrow back up (issue 14).

Every ``import medsr.X`` / ``from medsr.X import ...`` counts, at module top or inside a function
(a lazy import is still a dependency); imports under ``if TYPE_CHECKING:`` do not (they never run).
Nodes are the subpackages and top-level modules of ``medsr``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import medsr

ROOT = Path(medsr.__file__).resolve().parent


def _node(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "medsr" or len(parts) == 1:
        return None
    name = parts[1]
    return name if (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file() else None


def _imports(tree: ast.AST) -> Iterator[str]:
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for n in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)  # from medsr import zoo


def package_graph() -> dict[str, dict[str, set[str]]]:
    """``{source: {target: files}}`` between the nodes of ``medsr``."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        source = rel.parts[0].removesuffix(".py")
        for module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            target = _node(module)
            if target is not None and target != source:
                graph[source][target].add(str(rel))
    return graph


def _reachable(graph: dict[str, dict[str, set[str]]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in graph.get(stack.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_no_circle_between_packages() -> None:
    graph = package_graph()
    circles = [
        f"{a} -> {b} ({sorted(graph[a][b])[0]}) and back"
        for a in graph
        for b in graph[a]
        if a in _reachable(graph, b)
    ]
    assert not circles, circles


def test_the_layers_point_down() -> None:
    graph = package_graph()
    down = {
        # inference and training never import each other: they meet in the artifact below both
        # (and share the sliding window of nn/)
        "infer": {"train", "cli", "config"},
        "train": {"infer", "cli"},
        "artifact": {"train", "infer", "cli", "demo", "augment"},
        # readers and writers know the Volume, not the datasets and the catalogue
        "io": {"data", "train", "infer", "artifact"},
        "volume": {"data", "io"},
        "data": {"train", "infer", "artifact"},
        "models": {"train", "infer", "artifact", "config", "losses"},
        "nn": {"models", "train", "infer"},
        "metrics": {"train", "infer", "report"},
        "degrade": {"train", "infer"},
    }
    wrong = [
        f"{a} -> {b}: {sorted(graph[a][b])}"
        for a, banned in down.items()
        for b in banned
        if b in graph.get(a, {})
    ]
    assert not wrong, wrong


def test_the_checker_sees_lazy_imports_and_skips_typing_only_ones() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from medsr.train import x\n"
        "def f():\n    from medsr.infer.predictor import Predictor\n"
        "from medsr import artifact\n"
    )
    nodes = {_node(m) for m in _imports(tree)} - {None}
    assert nodes == {"infer", "artifact"}
