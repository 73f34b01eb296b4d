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


def area(module: str) -> str:
    """Where a module belongs: its top-level package, except that each chat adapter (bots/slack, bots/web,
    ...) and each module directly in bots/ count on their own, since bots/ holds both the wiring and the
    adapters it wires."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bots" and len(parts) > 1 else parts[0]


def node(module: str) -> str:
    # A chat adapter is one unit: its files may lean on each other, but not on another adapter.
    return area(module) if module.startswith("bots.") else module


def module_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {node(m): set() for m in known}
    for module, path in known.items():
        for name in imported_names(path):
            target = name
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and node(target) != node(module):
                graph[node(module)].add(node(target))
    return graph


def loops_across_areas(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other in a loop (strongly connected components) and span more
    than one area. A loop inside one package is that package's own affair; one between packages ties them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(here: str) -> None:
        index[here] = low[here] = len(index)
        stack.append(here)
        for nxt in sorted(graph.get(here, ())):
            if nxt not in index:
                visit(nxt)
                low[here] = min(low[here], low[nxt])
            elif nxt in stack:
                low[here] = min(low[here], index[nxt])
        if low[here] == index[here]:
            group = stack[stack.index(here):]
            del stack[stack.index(here):]
            if len({area(m) for m in group}) > 1:
                found.append(sorted(group))

    for start in sorted(graph):
        if start not in index:
            visit(start)
    return found


def test_no_package_imports_one_that_imports_it_back() -> None:
    assert loops_across_areas(module_graph()) == []


def test_the_loop_finder_sees_a_loop_through_a_deferred_import(tmp_path: Path) -> None:
    """The check above would pass vacuously if a loop hidden inside a function went unseen."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bots.cli import x\n"
        "def f():\n    from bots.slack.http import mount\n"
    )
    assert imported_names(module) >= {"bots.slack.http", "bots.slack.http.mount"}
    assert "bots.cli" not in imported_names(module)
    assert loops_across_areas({"a.x": {"b.y"}, "b.y": {"a.z"}, "a.z": {"a.x"}}) == [["a.x", "a.z", "b.y"]]
    assert loops_across_areas({"a.x": {"a.y"}, "a.y": {"a.x"}, "b.y": {"a.x"}}) == []
    # The loop this check was written for: Slack's HTTP start-up going through the web app and back.
    slack_web = {"bots.slack": {"bots.web", "bots.runtime"}, "bots.web": {"bots.slack"}, "bots.runtime": set()}
    assert loops_across_areas(slack_web) == [["bots.slack", "bots.web"]]


def test_core_imports_no_adapter_platform_store_or_cloud_library() -> None:
    offending = {
        f"{module} imports {name}"
        for module, path in modules().items() if module.split(".")[0] == "core"
        for name in imported_names(path) if name.split(".")[0] in FORBIDDEN_IN_CORE
    }
    assert not offending, sorted(offending)
    assert any(m.startswith("core.") for m in modules())
