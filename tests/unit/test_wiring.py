"""One place wires the relay: bots/runtime.py registers every adapter's sink and starts the relay
(`Runtime.serve`, called by the process hosts in bots/serve.py); adapters return their sink and never
change the runtime or reach into the relay."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WIRING = REPO / "bots" / "runtime.py"
HOST = REPO / "bots" / "serve.py"
ADAPTERS = [REPO / "bots" / name for name in ("slack", "discord_bot", "web")]
RELAY_INTERNALS = {"register", "run", "pump"}
RUNTIME_WIRING = {"serve", "attach", "start_relay"}


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{getattr(node, 'lineno', 0)}"


def relay_reaches(path: Path) -> list[str]:
    """`x.relay.register(...)`, `x.relay.run(...)` and the like: code driving the relay directly."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in RELAY_INTERNALS and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "relay"):
            found.append(_where(path, node))
    return found


def wiring_calls(path: Path, names: set[str] = RUNTIME_WIRING, closers: bool = True) -> list[str]:
    """`runtime.serve(...)`, `x.attach(...)`, `rt.start_relay()`, and any use of `.closers`: changing what a
    runtime runs or relays to."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names:
            found.append(_where(path, node))
        elif closers and isinstance(node, ast.Attribute) and node.attr == "closers":
            found.append(_where(path, node))
    return found


def test_only_the_runtime_registers_sinks_and_runs_the_relay() -> None:
    files = [p for p in sorted((REPO / "bots").rglob("*.py")) if p != WIRING]
    assert len(files) > 10
    assert [hit for path in files for hit in relay_reaches(path)] == []
    assert len(relay_reaches(WIRING)) == 2, "the runtime itself registers and runs it"


def test_adapters_never_change_the_runtime() -> None:
    files = [p for package in ADAPTERS for p in sorted(package.rglob("*.py"))]
    assert len(files) > 10
    assert [hit for path in files for hit in wiring_calls(path)] == []


def test_the_relay_is_started_in_one_place() -> None:
    """Only `Runtime.serve` starts it; hosts call `serve`, never `start_relay` themselves."""
    product = [p for p in sorted((REPO / "bots").rglob("*.py"))]
    starts = [hit for path in product for hit in wiring_calls(path, {"start_relay"}, closers=False)]
    assert len(starts) == 1 and starts[0].startswith("bots/runtime.py:"), starts
    serves = [hit for path in product if path != WIRING for hit in wiring_calls(path, {"serve"}, closers=False)]
    hosts = {hit.split(":")[0] for hit in serves}
    assert hosts == {"bots/serve.py"}, hosts


def test_the_checks_see_an_adapter_wiring_itself(tmp_path: Path) -> None:
    module = tmp_path / "adapter.py"
    module.write_text("def setup(runtime, sink):\n    runtime.relay.register('slack', sink)\n"
                      "    runtime.attach('slack', sink)\n    runtime.closers.append(sink.close)\n"
                      "    runtime.start_relay()\n")
    assert relay_reaches(module) == [f"{module}:2"]
    assert sorted(wiring_calls(module)) == [f"{module}:{n}" for n in (3, 4, 5)]
