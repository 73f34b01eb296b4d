"""Helpers for tests that drive the real pulumi CLI (built and cached by scripts/setup.sh)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from core.spec import Component, InfraSpec
from infra.pulumi_cli import cached_root
from infra.pulumi_engine import PulumiEngine
from tests.pulumi_programs import SECRET_CONFIG, program_for

REPO_ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "correct-horse-battery-staple-42"
DB_PASSWORD = "Db-pw-0f-the-test-7c1e5a"


def cli_root() -> Path:
    root = cached_root()
    if not (root / "bin" / "pulumi").exists() or not (root / "bin" / "pulumi-resource-pulumi-python").exists():
        pytest.fail(f"the real pulumi CLI is not built in {root}: run `bash scripts/setup.sh` (or make test)")
    return root


def use_cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs dynamic providers with the first `python3` on PATH, which must import this repo."""
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    for name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def spec(*kinds: str, size: str = "small", app: str = "shop") -> InfraSpec:
    components = [Component(kind=k) for k in kinds or ("bucket",)]
    return InfraSpec(app=app, environment="dev", size=size, components=components)


def db_secret(_: InfraSpec) -> dict[str, auto.ConfigValue]:
    return {f"infrabot:{SECRET_CONFIG}": auto.ConfigValue(DB_PASSWORD, secret=True)}


def make_engine(tmp_path: Path, *, delay: float = 0.0, passphrase: str = PASSPHRASE, **kwargs: Any) -> PulumiEngine:
    kwargs.setdefault("program_factory", lambda s: program_for(s, delay=delay))
    kwargs.setdefault("stack_config", db_secret)
    return PulumiEngine(
        passphrase=passphrase,
        gcp_project="demo",
        backend_url=f"file://{tmp_path / 'state'}",
        pulumi_command=str(cli_root()),
        work_root=tmp_path / "work",
        pulumi_home=str(tmp_path / "pulumi-home"),
        **kwargs,
    )


class Progress:
    def __init__(self, on_message: Callable[[str], None] | None = None) -> None:
        self.calls: list[tuple[int, int, str]] = []
        self._on_message = on_message

    async def __call__(self, done: int, total: int, message: str) -> None:
        self.calls.append((done, total, message))
        if self._on_message is not None:
            self._on_message(message)

    @property
    def messages(self) -> list[str]:
        return [m for _, _, m in self.calls]


def descendants(root_pid: int) -> list[int]:
    """Every process below `root_pid`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces or parentheses
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [root_pid]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == pid]
        found.extend(kids)
        frontier.extend(kids)
    return found


def read_proc(pid: int, name: str) -> bytes:
    try:
        return (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:
        return b""


def cli_processes(verb: str) -> list[int]:
    """This test process's `pulumi <verb>` children."""
    return [
        pid for pid in descendants(os.getpid())
        if (argv := read_proc(pid, "cmdline").split(b"\0")) and argv[0].endswith(b"/pulumi")
        and verb.encode() in argv[1:3]  # the Automation API puts --non-interactive first
    ]
