"""One place wires the relay: bots/runtime.py registers every adapter's sink (`Runtime.attach`) and starts
the relay (`Runtime.start_relay`); adapters hand their sink over and never reach into the relay."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WIRING = REPO / "bots" / "runtime.py"
RELAY_INTERNALS = {"register", "run", "pump"}


def relay_reaches(path: Path) -> list[str]:
    """`x.relay.register(...)`, `x.relay.run(...)` and the like: code driving the relay directly."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in RELAY_INTERNALS and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "relay"):
            found.append(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{node.lineno}")
    return found


def test_only_the_runtime_registers_sinks_and_runs_the_relay() -> None:
    files = [p for p in sorted((REPO / "bots").rglob("*.py")) if p != WIRING]
    assert len(files) > 10
    assert [hit for path in files for hit in relay_reaches(path)] == []
    assert len(relay_reaches(WIRING)) == 2, "the runtime itself registers and runs it"


def test_the_check_sees_an_adapter_registering_its_own_sink(tmp_path: Path) -> None:
    module = tmp_path / "adapter.py"
    module.write_text("def setup(runtime, sink):\n    runtime.relay.register('slack', sink)\n"
                      "    runtime.attach('slack', sink)\n")
    assert relay_reaches(module) == [f"{module}:2"]
