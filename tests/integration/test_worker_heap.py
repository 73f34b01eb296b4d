"""`infrabot worker` warms its engine, then freezes what start-up made; a worker inside another process (these
tests, a benchmark) leaves that process's heap alone."""

from __future__ import annotations

import argparse
import gc
import inspect
from typing import Any

import pytest

from bots import cli
from config.local_services import LocalServices
from jobs.worker import main as worker_main


async def test_the_heap_is_frozen_once_the_engine_is_warm() -> None:
    before = gc.get_freeze_count()
    seen: list[int] = []
    try:
        await worker_main.settle(lambda: seen.append(gc.get_freeze_count()))
        assert seen == [before], "the engine warms first: what warming imports is frozen too"
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_only_the_worker_command_asks_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert inspect.signature(worker_main.make_worker).parameters["settle_heap"].default is False
    asked: dict[str, Any] = {}

    class Ran:
        def run(self) -> None:
            asked["ran"] = True

    def make_worker(*_: object, **options: Any) -> Ran:
        asked.update(options)
        return Ran()

    monkeypatch.setattr(worker_main, "make_worker", make_worker)
    monkeypatch.setattr(worker_main, "build_engine", lambda _: None)
    monkeypatch.setattr(worker_main, "refuse_local_state", lambda _: None)
    # Lowering this (the test) process's priority would outlast the test; the worker command's call is
    # recorded instead (tests/integration/test_worker_priority.py runs it for real).
    monkeypatch.setattr(worker_main, "yield_cpu", lambda increment: asked.setdefault("nice", increment))
    monkeypatch.setattr(cli, "_setup_logging", lambda _: None)
    monkeypatch.setattr(cli, "_services", lambda _: LocalServices("redis://x", "mongodb://x"))
    assert cli.cmd_worker(argparse.Namespace()) == 0
    assert asked["ran"] and asked["settle_heap"] is True
    assert asked["nice"] == 10
