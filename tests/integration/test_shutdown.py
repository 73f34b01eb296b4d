"""SIGTERM: a chat process stops listening, lets the turns in flight finish (up to the grace), then exits."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from bots.cli import _until_stopped
from bots.runtime import Runtime
from config.local_services import LocalServices
from config.settings import Settings
from core.markup import say
from core.messages import IncomingMessage, Reply, ThreadRef
from jobs.worker.main import make_worker


def message(event: str) -> IncomingMessage:
    return IncomingMessage(thread=ThreadRef("web", "local", "web", "bye"), user="ana", text="hi", event_id=event)


async def stop_with_turn_in_flight(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, grace: float) -> tuple[
        asyncio.Task[None], asyncio.Task[list[Reply]], asyncio.Event, list[bool]]:
    runtime.settings = runtime.settings.model_copy(update={"shutdown_grace_seconds": grace})
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_turn(msg: IncomingMessage, *_: object, **__: object) -> list[Reply]:
        entered.set()
        await release.wait()
        return [Reply(say("finished"))]

    monkeypatch.setattr(runtime.core, "_turn", slow_turn)
    listening, cancelled = asyncio.Event(), []

    async def bot() -> None:
        listening.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    turn = asyncio.create_task(runtime.core.handle_message(message("e1")))
    await entered.wait()
    stopper = asyncio.create_task(_until_stopped(runtime, bot()))
    await listening.wait()
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.3)
    return stopper, turn, release, cancelled


async def test_sigterm_stops_listening_and_waits_for_the_turn(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopper, turn, release, cancelled = await stop_with_turn_in_flight(runtime, monkeypatch, grace=30)
    assert cancelled == [True], "no new events are taken"
    assert not stopper.done(), "the process waits for the turn in flight"
    release.set()
    await asyncio.wait_for(stopper, 5)
    assert [r.text for r in await turn] == ["finished"]


async def test_the_grace_period_bounds_the_wait(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    stopper, turn, release, _ = await stop_with_turn_in_flight(runtime, monkeypatch, grace=0.5)
    await asyncio.wait_for(stopper, 5)
    assert not turn.done(), "the process gave up waiting; the platform redelivers the event"
    release.set()
    await turn


def test_workers_stop_taking_jobs_and_wait_the_grace_period(settings: Settings, services: LocalServices) -> None:
    worker = make_worker(settings.model_copy(update={"shutdown_grace_seconds": 40}), services.redis_url,
                         services.mongodb_url)
    # arq's wait-for-completion handler (used when handle_signals=True, as `infrabot worker` runs it).
    assert worker._job_completion_wait == 40
