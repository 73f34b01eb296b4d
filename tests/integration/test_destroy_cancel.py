"""A destroy that no worker has started can be cancelled from chat; one that started cannot, and says so.

Two "workers" here are two sets of store clients (their own Redis and MongoDB connections, their own
document locks), as two worker processes would have, racing one cancel over the same request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bots.runtime import Runtime
from config.local_services import LocalServices
from config.settings import Settings
from core.draft import Draft
from core.job import Phase
from core.messages import ThreadRef
from core.plan import ApplyResult
from core.ports import ProgressFn
from core.request import Status
from core.requests import Actor, destroy_job
from core.spec import Component, InfraSpec
from infra.locks import StackLock
from infra.offline import OfflineEngine
from infra.state import FileStateStore
from jobs.stores.doc_lock import DocLocks
from jobs.stores.mongo import MongoAudit, MongoJobs, MongoRequests
from jobs.stores.redis_state import RedisStatusSignal
from jobs.worker import tasks
from jobs.worker.waitline import WaitLine
from tests.web_chat import card, chat, press, say

THREAD = ThreadRef("web", "local", "web", "destroy-cancel")


class CountingDestroy(OfflineEngine):
    """The offline engine; destroy counts its calls and, with `hold`, waits until released."""

    def __init__(self, state: FileStateStore, hold: bool = False) -> None:
        super().__init__(state)
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def destroy(self, spec: InfraSpec, progress: ProgressFn) -> ApplyResult:
        self.calls += 1
        self.started.set()
        await asyncio.wait_for(self.release.wait(), 30)
        return await super().destroy(spec, progress)


class WorkerStores:
    """What one worker process holds: its own clients to the shared Redis and MongoDB."""

    def __init__(self, services: LocalServices, settings: Settings) -> None:
        self.redis = Redis.from_url(services.redis_url)
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongodb_url)
        db = self.mongo[settings.mongodb_db]
        locks = DocLocks(self.redis)
        self.requests, self.jobs, self.audit = MongoRequests(db, locks), MongoJobs(db, locks), MongoAudit(db)

    def deps(self, engine: Any) -> tasks.Deps:
        return tasks.Deps(jobs=self.jobs, requests=self.requests, audit=self.audit,
                          signal=RedisStatusSignal(self.redis), engine=engine, lock=StackLock(self.redis),
                          line=WaitLine(self.redis), lease_seconds=5.0)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.mongo.close()


@pytest.fixture
def state(tmp_path: Path) -> FileStateStore:
    return FileStateStore(tmp_path / "state")


@pytest.fixture
async def two_workers(services: LocalServices, settings: Settings, runtime: Runtime) -> AsyncIterator[
        tuple[WorkerStores, WorkerStores]]:
    one, two = WorkerStores(services, settings), WorkerStores(services, settings)
    yield one, two
    await one.close()
    await two.close()


def actor(event: str, user: str = "ana") -> Actor:
    return Actor(THREAD, user, (), f"web:local:{event}")


async def applied(runtime: Runtime, state: FileStateStore, app: str) -> str:
    """A dev request planned, approved and applied through the tasks; returns its id."""
    spec = InfraSpec(app=app, environment="dev", components=[Component(kind="bucket")])
    request_id, _ = await runtime.core.request_service.start(actor(f"{app}-new"), Draft.from_spec(spec), "test")
    assert request_id
    deps = tasks.Deps(jobs=runtime.jobs, requests=runtime.requests, audit=runtime.audit,
                      signal=RedisStatusSignal(runtime.redis), engine=OfflineEngine(state),
                      lock=StackLock(runtime.redis))
    assert await tasks.plan({"deps": deps}, f"plan-{request_id}-1") == "planned"
    request = await runtime.requests.get(request_id)
    await runtime.core.request_service.approve(actor(f"{app}-ok"), request, request.plan_hash)  # type: ignore[union-attr]
    plan_hash = (await runtime.requests.get(request_id)).approved_plan_hash  # type: ignore[union-attr]
    assert await tasks.apply({"deps": deps}, f"apply-{request_id}-{plan_hash}") == "applied"
    return request_id


async def queued_destroy(runtime: Runtime, request_id: str) -> str:
    request = await runtime.requests.get(request_id)
    assert request is not None
    reply = await runtime.core.request_service.request_destroy(actor(f"{request_id}-destroy"), request)
    assert "Destroying" in reply.text and "`cancel`" in reply.text
    request = await runtime.requests.get(request_id)
    assert request is not None and request.status == Status.DESTROY_APPROVED
    job = await runtime.jobs.get(destroy_job(request))
    assert job is not None and job.phase == Phase.QUEUED
    return destroy_job(request)


async def _events(runtime: Runtime, request_id: str) -> list[str]:
    return [r["event"] for r in await runtime.audit.list(request_id=request_id)]


async def test_a_queued_destroy_is_cancelled_and_its_job_then_does_nothing_however_often_it_runs(
    runtime: Runtime, state: FileStateStore, two_workers: tuple[WorkerStores, WorkerStores]
) -> None:
    request_id = await applied(runtime, state, "shop")
    job_id = await queued_destroy(runtime, request_id)

    reply = await runtime.core.request_service.cancel(actor("c"), await runtime.requests.get(request_id))
    assert "Cancelled the destroy of *shop-dev* before it started" in reply.text
    assert "Nothing was removed" in reply.text

    engine = CountingDestroy(state)
    for stores in (*two_workers, *two_workers):  # at-least-once: each worker runs it twice
        assert await tasks.destroy({"deps": stores.deps(engine)}, job_id) == "skipped"
    assert engine.calls == 0
    request = await runtime.requests.get(request_id)
    assert request is not None and request.status == Status.APPLIED
    assert await runtime.requests.live_stack("shop-dev") is not None, "the stack is still there"
    job = await runtime.jobs.get(job_id)
    assert job is not None and job.phase == Phase.CANCELLED and "before it started" in job.message
    assert await _events(runtime, request_id) == [
        "requested", "planned", "approved", "applied", "destroy_approved", "cancelled"]
    # The stack can be destroyed afresh later; the cancelled job's id is never reused.
    again = await queued_destroy(runtime, request_id)
    assert again != job_id
    assert await tasks.destroy({"deps": two_workers[0].deps(engine)}, again) == "destroyed"
    assert engine.calls == 1


async def test_a_cancel_while_the_destroy_waits_for_its_stack_stops_it(
    runtime: Runtime, state: FileStateStore, two_workers: tuple[WorkerStores, WorkerStores]
) -> None:
    request_id = await applied(runtime, state, "shop")
    job_id = await queued_destroy(runtime, request_id)
    engine = CountingDestroy(state)
    deps = two_workers[0].deps(engine)
    async with StackLock(runtime.redis).hold("shop-dev", "another-change", 30):
        with pytest.raises(tasks.Retry):
            await tasks.destroy({"deps": deps}, job_id)  # the worker took it, and waits its turn
    waiting = await runtime.jobs.get(job_id)
    assert waiting is not None and waiting.phase == Phase.QUEUED
    reply = await runtime.core.request_service.cancel(actor("c"), await runtime.requests.get(request_id))
    assert "before it started" in reply.text
    assert await tasks.destroy({"deps": deps}, job_id) == "skipped"
    assert engine.calls == 0
    assert (await runtime.requests.get(request_id)).status == Status.APPLIED  # type: ignore[union-attr]


async def test_a_started_destroy_cannot_be_cancelled_and_says_so(
    runtime: Runtime, state: FileStateStore, two_workers: tuple[WorkerStores, WorkerStores]
) -> None:
    request_id = await applied(runtime, state, "shop")
    job_id = await queued_destroy(runtime, request_id)
    engine = CountingDestroy(state, hold=True)
    running = asyncio.create_task(tasks.destroy({"deps": two_workers[0].deps(engine)}, job_id))
    await asyncio.wait_for(engine.started.wait(), 20)

    reply = await runtime.core.request_service.cancel(actor("late"), await runtime.requests.get(request_id))
    assert "destroy of *shop-dev* is already running and can't be stopped halfway" in reply.text
    assert (await runtime.requests.get(request_id)).status == Status.DESTROYING  # type: ignore[union-attr]
    # A second copy of the job (at-least-once) finds the stack held and only waits.
    with pytest.raises(tasks.Retry):
        await tasks.destroy({"deps": two_workers[1].deps(engine)}, job_id)
    engine.release.set()
    assert await asyncio.wait_for(running, 30) == "destroyed"
    assert engine.calls == 1
    assert (await runtime.requests.get(request_id)).status == Status.DESTROYED  # type: ignore[union-attr]
    assert "cancelled" not in await _events(runtime, request_id)


async def _race(runtime: Runtime, state: FileStateStore, workers: tuple[WorkerStores, WorkerStores],
                app: str, cancel_after: float) -> str:
    """One cancel against two workers starting the same destroy job; returns who won, after checking that
    the request, the job, the engine and the audit all agree with what the cancel was told."""
    request_id = await applied(runtime, state, app)
    job_id = await queued_destroy(runtime, request_id)
    engine = CountingDestroy(state)
    seen = await runtime.requests.get(request_id)

    async def cancel() -> str:
        await asyncio.sleep(cancel_after)
        return (await runtime.core.request_service.cancel(actor(f"{app}-c"), seen)).text

    async def work(stores: WorkerStores) -> str:
        try:
            return await tasks.destroy({"deps": stores.deps(engine)}, job_id)
        except tasks.Retry:
            return "waited"  # the other worker held the stack

    said, *runs = await asyncio.gather(cancel(), *(work(s) for s in workers))
    request = await runtime.requests.get(request_id)
    job = await runtime.jobs.get(job_id)
    assert request is not None and job is not None
    if "before it started" in said:
        assert engine.calls == 0 and "destroyed" not in runs, runs
        assert request.status == Status.APPLIED and job.phase == Phase.CANCELLED
        assert (await _events(runtime, request_id)).count("destroyed") == 0
        return "cancelled"
    assert "already running" in said or "a moment ago" in said, said
    if "destroyed" not in runs:  # the run that started it was told to wait: finish it, as the queue would
        assert await tasks.destroy({"deps": workers[0].deps(engine)}, job_id) == "destroyed"
    assert engine.calls == 1, runs
    request = await runtime.requests.get(request_id)
    assert request is not None and request.status == Status.DESTROYED
    assert (await _events(runtime, request_id)).count("destroyed") == 1
    return "destroyed"


async def test_cancel_racing_two_workers_starting_the_destroy_has_one_consistent_winner(
    runtime: Runtime, state: FileStateStore, two_workers: tuple[WorkerStores, WorkerStores]
) -> None:
    # From a cancel at once to one well after the workers start, so both orders are seen whatever the machine's
    # speed; the rounds between are the close races.
    won = [await _race(runtime, state, two_workers, f"race{n}", cancel_after=after)
           for n, after in enumerate((0.0, 0.02, 0.06, 0.12, 1.0))]
    assert set(won) == {"cancelled", "destroyed"}, won


async def planned_in_chat(
    client: httpx.AsyncClient, runtime: Runtime, state: FileStateStore, thread: str, text: str
) -> tuple[tasks.Deps, str, dict[str, Any]]:
    """The thread's one request, asked for in chat and planned by running its job here; with the card then shown."""
    deps = tasks.Deps(jobs=runtime.jobs, requests=runtime.requests, audit=runtime.audit,
                      signal=RedisStatusSignal(runtime.redis), engine=CountingDestroy(state),
                      lock=StackLock(runtime.redis))
    await say(client, thread, text)
    [doc] = [d async for d in runtime.db.requests.find({})]
    request_id = str(doc["_id"])
    assert await tasks.plan({"deps": deps}, f"plan-{request_id}-1") == "planned"
    return deps, request_id, await card(runtime, thread, f"plan-{request_id}-1", "awaiting_approval")


async def test_typing_cancel_in_the_thread_stops_a_queued_destroy_and_its_card_says_so(
    client: httpx.AsyncClient, runtime: Runtime, state: FileStateStore
) -> None:
    """No worker runs here: the test runs each job itself, so the destroy stays queued until the typed cancel."""
    deps, request_id, _ = await planned_in_chat(client, runtime, state, "t", "create a bucket for my app shop")
    assert "Approved by" in await say(client, "t", "apply", user="bo")
    plan_hash = (await runtime.requests.get(request_id)).approved_plan_hash  # type: ignore[union-attr]
    assert await tasks.apply({"deps": deps}, f"apply-{request_id}-{plan_hash}") == "applied"

    await say(client, "t", "destroy shop-dev")
    assert "Destroying *shop-dev* now" in await say(client, "t", "shop-dev")
    assert "destroy approved" in await say(client, "t", "status")
    cancelled = await say(client, "t", "cancel")
    assert "Cancelled the destroy of *shop-dev* before it started" in cancelled, cancelled
    job_id = destroy_job(await runtime.requests.get(request_id))  # type: ignore[arg-type]
    assert await tasks.destroy({"deps": deps}, job_id) == "skipped"
    assert deps.engine.calls == 0  # type: ignore[attr-defined]
    shown = await card(runtime, "t", job_id, "cancelled")
    assert shown["title"] == "Destroy of shop-dev cancelled"
    assert "applied" in await say(client, "t", "status")


async def test_the_cancel_button_of_a_prod_destroy_stops_it_after_the_second_person_approved(
    client: httpx.AsyncClient, runtime: Runtime, state: FileStateStore
) -> None:
    deps, request_id, shown = await planned_in_chat(
        client, runtime, state, "p", "create a bucket for my app shop in prod")
    [ref] = [b["request_id"] for b in shown["buttons"] if b["action"] == "approve"]
    assert "Approved by" in await press(client, "p", ref, "bob")
    plan_hash = (await runtime.requests.get(request_id)).approved_plan_hash  # type: ignore[union-attr]
    assert await tasks.apply({"deps": deps}, f"apply-{request_id}-{plan_hash}") == "applied"

    await say(client, "p", "destroy shop-prod")
    waiting = await chat(client, "p", "shop-prod")
    assert "needs approval from someone else" in waiting["reply"]
    buttons = {b["action"]: b["request_id"] for r in waiting["replies"] for b in r["buttons"]}
    assert "Destroying *shop-prod* now" in await press(client, "p", buttons["approve"], "bob")
    assert (await runtime.requests.get(request_id)).status == Status.DESTROY_APPROVED  # type: ignore[union-attr]

    cancelled = await press(client, "p", buttons["cancel"], "ana", action="cancel")
    assert "Cancelled the destroy of *shop-prod* before it started" in cancelled, cancelled
    job_id = destroy_job(await runtime.requests.get(request_id))  # type: ignore[arg-type]
    assert await tasks.destroy({"deps": deps}, job_id) == "skipped"
    assert deps.engine.calls == 0  # type: ignore[attr-defined]
    assert (await runtime.requests.get(request_id)).status == Status.APPLIED  # type: ignore[union-attr]
