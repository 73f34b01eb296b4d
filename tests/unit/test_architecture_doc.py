"""docs/ARCHITECTURE.md cannot go stale quietly: its state diagram is the lifecycle table, and every file and
function it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from core.request import TRANSITIONS

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ARCHITECTURE.md"


def diagram_moves(text: str) -> set[tuple[str, str]]:
    [block] = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    return {(a, b) for a, b in re.findall(r"^\s*(\w+) --> (\w+)\s*$", block, re.M)}


def _names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    return []


def defined(path: Path, dotted: str) -> bool:
    """Whether `dotted` (a function, class or constant, or Class.method) is defined at the top of the module."""
    scope: list[ast.stmt] = ast.parse(path.read_text()).body
    for part in dotted.split("."):
        found = [n for n in scope if part in _names(n)]
        if not found:
            return False
        scope = getattr(found[0], "body", [])
    return True


def test_the_state_diagram_lists_exactly_the_allowed_moves() -> None:
    table = {(str(source), str(target)) for source, targets in TRANSITIONS.items() for target in targets}
    assert diagram_moves(DOC.read_text()) == table


def test_every_file_and_function_the_page_names_exists() -> None:
    text = DOC.read_text()
    named = re.findall(r"`([\w/]+\.py)(?::([\w.]+))?`", text)
    assert len(named) > 20
    missing = [f"{path}:{name}" if name else path for path, name in named
               if not (REPO / path).is_file() or (name and not defined(REPO / path, name))]
    assert not missing, missing
    folders = re.findall(r"`(\w+/(?:\w+/)?)`", text)
    assert folders and not [f for f in folders if not (REPO / f).is_dir()]


def test_the_checks_catch_a_stale_page() -> None:
    assert diagram_moves("```mermaid\n  a --> b\n  [*] --> a\n```") == {("a", "b")}
    assert defined(REPO / "core" / "requests.py", "RequestService.approve")
    assert not defined(REPO / "core" / "requests.py", "RequestService.no_such_step")
