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
from jobs.stores.connections import arq_client
from jobs.stores.queue import QUEUE_NAME
from jobs.worker import main as worker_main
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


async def _nothing_left(before: set[asyncio.Task[object]]) -> None:
    await asyncio.sleep(0.1)
    left = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert not left, left


async def test_a_worker_closed_while_it_starts_leaves_nothing_running(
    settings: Settings, services: LocalServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    """arq's close() runs the shutdown hook at once; a startup whose cancellation a library swallowed goes on
    afterwards. What it starts then (reconciler, reaper, its poll loop) must not outlive the worker: in one
    process it took the leader lease and other workers' jobs."""
    parked, release = asyncio.Event(), asyncio.Event()
    real = worker_main.ensure_indexes

    async def stubborn_indexes(db: object) -> None:
        parked.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                pass  # lost, as arq's first Redis call lost one: the coroutine goes on
        await real(db)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_main, "ensure_indexes", stubborn_indexes)
    before = asyncio.all_tasks()
    worker = make_worker(settings, services.redis_url, services.mongodb_url)
    run = asyncio.create_task(worker.async_run())
    await asyncio.wait_for(parked.wait(), 10)
    await asyncio.wait_for(worker.close(), 10)
    release.set()
    await asyncio.wait([run], timeout=10)
    assert run.done() and (run.cancelled() or run.exception() is None), run
    await _nothing_left(before)


async def test_a_worker_closed_as_it_takes_a_job_still_shuts_down(
    settings: Settings, services: LocalServices
) -> None:
    """arq's own close() cancels the jobs it has taken, then waits for them with a plain gather: one cancelled
    before it began (still in arq's set-up or the job-start hook) re-raises its CancelledError there, before the
    shutdown hook, and the reconciler, the reaper and the clients outlived the worker."""
    queue = arq_client(services.redis_url)
    await queue.flushdb()
    before = asyncio.all_tasks()
    worker = make_worker(settings, services.redis_url, services.mongodb_url)
    taken = asyncio.Event()
    job_started = worker.on_job_start
    assert job_started is not None

    async def slow_start(ctx: dict[str, object]) -> None:
        taken.set()
        await asyncio.sleep(3600)
        await job_started(ctx)

    worker.on_job_start = slow_start
    run = asyncio.create_task(worker.async_run())
    try:
        await queue.enqueue_job("plan", "plan-r1-1", _job_id="plan-r1-1", _queue_name=QUEUE_NAME)
        await asyncio.wait_for(taken.wait(), 10)
        await asyncio.wait_for(worker.close(), 10)
        await asyncio.wait([run], timeout=10)
        await _nothing_left(before)
    finally:
        await queue.aclose()
