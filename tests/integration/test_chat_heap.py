"""`infrabot web`, `slack` and `discord` freeze their start-up heap once they serve (bots/runtime.py); the
runtimes that tests build inside their own process leave it alone."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

import bots.runtime
import bots.serve
from bots import cli
from config.local_services import LocalServices
from config.settings import Settings


class _Built(Exception):
    pass


def _record_build(monkeypatch: pytest.MonkeyPatch, asked: dict[str, Any]) -> None:
    async def build_runtime(*_: object, **options: Any) -> None:
        asked.update(options)
        raise _Built

    monkeypatch.setattr(bots.runtime, "build_runtime", build_runtime)
    monkeypatch.setattr(cli, "_services", lambda _: LocalServices("redis://x", "mongodb://x"))


def test_the_web_command_builds_a_runtime_that_freezes_its_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: dict[str, Any] = {}
    _record_build(monkeypatch, asked)
    started: list[Any] = []
    monkeypatch.setattr(cli, "_chat_settings", lambda _: Settings(_env_file=None))  # type: ignore[call-arg]
    monkeypatch.setattr(bots.serve, "create_app", lambda start: started.append(start))
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: None)
    assert cli.cmd_web(argparse.Namespace()) == 0
    with pytest.raises(_Built):
        asyncio.run(started[0]())
    assert asked == {"settle_heap": True}


def test_the_slack_and_discord_commands_build_runtimes_that_freeze_their_heap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: dict[str, Any] = {}
    _record_build(monkeypatch, asked)

    async def body(_: object) -> None:
        raise AssertionError("the runtime was never built")

    with pytest.raises(_Built):
        cli._with_runtime(Settings(_env_file=None), body)  # type: ignore[call-arg]
    assert asked == {"settle_heap": True}
