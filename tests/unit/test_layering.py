"""The import graph stays one-way: core knows no adapter, and no package imports one that imports it back.

Read from the source (every import, including those inside functions, which only defer a loop rather
than remove it); imports under `if TYPE_CHECKING:` are left out, as they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("bots", "core", "jobs", "infra", "config", "telemetry")
# What core/ must never import: it talks to chat platforms, stores, the queue and the cloud through ports.
FORBIDDEN_IN_CORE = (
    "bots", "jobs", "infra", "telemetry", "slack_sdk", "slack_bolt", "discord", "redis", "arq", "pymongo",
    "bson", "pulumi", "pulumi_gcp", "pulumi_aws", "fastapi", "httpx",
)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except what sits under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imported_names(path: Path) -> set[str]:
    """Dotted names a module imports at run time (`from a import b` gives both `a` and `a.b`)."""
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def component(module: str) -> str:
    """The unit the graph is drawn over: each chat adapter (bots/slack, bots/web, ...) and each module
    directly in bots/ count on their own, since bots/ holds both the wiring and the adapters it wires."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bots" and len(parts) > 1 else parts[0]


def component_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {component(m): set() for m in known}
    for module, path in known.items():
        for name in imported_names(path):
            target = name
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and component(target) != component(module):
                graph[component(module)].add(component(target))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_package_imports_one_that_imports_it_back() -> None:
    graph = component_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_loop_through_a_deferred_import(tmp_path: Path) -> None:
    """The check above would pass vacuously if a loop hidden inside a function went unseen."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bots.cli import x\n"
        "def f():\n    from bots.slack.http import mount\n"
    )
    assert imported_names(module) >= {"bots.slack.http", "bots.slack.http.mount"}
    assert "bots.cli" not in imported_names(module)
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_core_imports_no_adapter_platform_store_or_cloud_library() -> None:
    offending = {
        f"{module} imports {name}"
        for module, path in modules().items() if module.split(".")[0] == "core"
        for name in imported_names(path) if name.split(".")[0] in FORBIDDEN_IN_CORE
    }
    assert not offending, sorted(offending)
    assert any(m.startswith("core.") for m in modules())
