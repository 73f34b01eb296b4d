"""Every job ends with a reason a person can read, and a busy stack only makes it wait its turn."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from arq import Retry

from bots.runtime import Runtime
from core.draft import Draft
from core.job import Phase
from core.messages import ThreadRef
from core.plan import ApplyResult, PlanResult
from core.ports import ProgressFn
from core.request import Status
from core.requests import Actor
from core.spec import Component, InfraSpec
from infra.locks import StackLock
from infra.offline import OfflineEngine
from infra.state import FileStateStore
from jobs.stores.queue import ArqQueue
from jobs.stores.redis_state import RedisStatusSignal
from jobs.worker import tasks
from jobs.worker.waitline import WaitLine


async def _status(runtime: Runtime, request_id: str) -> str | None:
    request = await runtime.requests.get(request_id)
    return str(request.status) if request else None


THREAD = ThreadRef("web", "local", "web", "endings")
STACK = "shop-staging"


class SlowApply(OfflineEngine):
    """The offline engine, except that apply takes `seconds` and, when asked to stop, `wind_down`."""

    def __init__(self, state: FileStateStore, seconds: float, wind_down: float = 0.0) -> None:
        super().__init__(state)
        self.seconds, self.wind_down = seconds, wind_down
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.calls = 0

    async def apply(self, spec: InfraSpec, progress: ProgressFn, approved: PlanResult | None = None) -> ApplyResult:
        self.calls += 1
        self.started.set()
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            # Pulumi too needs a moment to stop; a wind-down that outlives the caller's patience is shielded.
            await asyncio.shield(asyncio.sleep(self.wind_down))
            self.stopped.set()
            raise
        return await super().apply(spec, progress, approved)


def _deps(runtime: Runtime, engine: Any, **extra: Any) -> tasks.Deps:
    return tasks.Deps(jobs=runtime.jobs, requests=runtime.requests, audit=runtime.audit,
                      signal=RedisStatusSignal(runtime.redis), engine=engine, lock=StackLock(runtime.redis),
                      line=WaitLine(runtime.redis), lease_seconds=2.0, **extra)


@pytest.fixture
def state(tmp_path: Path) -> FileStateStore:
    return FileStateStore(tmp_path / "state")


async def _approved(runtime: Runtime, state: FileStateStore, event: str = "e1") -> tuple[str, str]:
    """A request approved and its apply job queued (but not run); returns (request id, job id)."""
    spec = InfraSpec(app="shop", environment="staging", components=[Component(kind="bucket")])
    actor = Actor(THREAD, "ana", (), f"web:local:{event}")
    request_id, _ = await runtime.core.request_service.start(actor, Draft.from_spec(spec), "test")
    assert request_id
    ctx = {"deps": _deps(runtime, OfflineEngine(state))}
    assert await tasks.plan(ctx, f"plan-{request_id}-1") == "planned"
    request = await runtime.requests.get(request_id)
    await runtime.core.request_service.approve(Actor(THREAD, "bo", (), f"web:local:{event}-ok"), request,
                                               request.plan_hash)
    request = await runtime.requests.get(request_id)
    assert request is not None and request.status == "approved"
    return request_id, f"apply-{request_id}-{request.approved_plan_hash}"


async def _applied(runtime: Runtime, state: FileStateStore) -> tuple[str, str, dict[str, Any]]:
    """An approved request applied once by its task; with the task context, to run it again."""
    request_id, job_id = await _approved(runtime, state)
    ctx = {"deps": _deps(runtime, OfflineEngine(state))}
    assert await tasks.apply(ctx, job_id) == "applied"
    return request_id, job_id, ctx


async def _audit(runtime: Runtime, request_id: str, event: str) -> int:
    return len([r for r in await runtime.audit.list(request_id=request_id) if r["event"] == event])


async def test_waiting_for_a_busy_stack_uses_no_attempt_and_says_its_place(
    runtime: Runtime, state: FileStateStore
) -> None:
    first_id, first = await _approved(runtime, state, "a")
    second_id, second = await _approved(runtime, state, "b")
    ctx = {"deps": _deps(runtime, OfflineEngine(state))}
    async with StackLock(runtime.redis).hold(STACK, "someone-else", 30):
        for _ in range(3):
            for job_id in (first, second):
                with pytest.raises(Retry):
                    await tasks.apply(ctx, job_id)
        one, two = await runtime.jobs.get(first), await runtime.jobs.get(second)
        assert one is not None and two is not None
        assert (one.phase, two.phase) == (Phase.QUEUED, Phase.QUEUED)
        assert "this one is next" in one.message
        assert "1 more change is ahead in line" in two.message
        assert (one.attempts, two.attempts) == (0, 0)
    assert await tasks.apply(ctx, first) == "applied"
    done = await runtime.jobs.get(first)
    assert done is not None and done.phase == Phase.SUCCEEDED and done.attempts == 1
    # The one that went first left the line, so the other is next now.
    assert await ctx["deps"].line.place(STACK, second) == 0
    assert await _audit(runtime, first_id, "applied") == 1 and await _audit(runtime, second_id, "applied") == 0


async def test_a_timeout_ends_the_job_and_the_request_with_a_reason(runtime: Runtime, state: FileStateStore) -> None:
    request_id, job_id = await _approved(runtime, state)
    ctx = {"deps": _deps(runtime, SlowApply(state, seconds=30), timeout_seconds=0.3)}
    assert await tasks.apply(ctx, job_id) == "failed"
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.FAILED
    assert status.error and "timed out" in status.error and status.finished_at
    request = await runtime.requests.get(request_id)
    assert request is not None and request.status == "failed" and "timed out" in (request.error or "")
    assert await _audit(runtime, request_id, "apply_failed") == 1
    assert not await runtime.redis.exists(StackLock(runtime.redis).key(STACK)), "lease released once stopped"


async def test_a_cancelled_task_writes_its_end_and_keeps_the_lease_while_the_engine_stops(
    runtime: Runtime, state: FileStateStore
) -> None:
    request_id, job_id = await _approved(runtime, state)
    engine = SlowApply(state, seconds=30, wind_down=0.8)
    task = asyncio.create_task(tasks.apply({"deps": _deps(runtime, engine)}, job_id))
    await asyncio.wait_for(engine.started.wait(), 10)
    task.cancel()
    await asyncio.sleep(0.3)
    assert not engine.stopped.is_set()
    assert await runtime.redis.exists(StackLock(runtime.redis).key(STACK)), "lease kept while the engine runs"
    with pytest.raises(asyncio.CancelledError):
        await task
    assert engine.stopped.is_set()
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.FAILED and "cancelled" in (status.error or "")
    request = await runtime.requests.get(request_id)
    assert request is not None and request.status == "failed"
    assert not await runtime.redis.exists(StackLock(runtime.redis).key(STACK))


async def test_an_engine_that_will_not_stop_keeps_the_stack_leased(
    runtime: Runtime, state: FileStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "WIND_DOWN_SECONDS", 0.2)
    _, job_id = await _approved(runtime, state)
    engine = SlowApply(state, seconds=30, wind_down=5)
    assert await tasks.apply({"deps": _deps(runtime, engine, timeout_seconds=0.3)}, job_id) == "failed"
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.FAILED and "timed out" in (status.error or "")
    # Released, another worker could start a second change while this engine still runs; expiring is fine.
    assert await runtime.redis.exists(StackLock(runtime.redis).key(STACK))


async def test_a_worker_that_stops_hands_its_job_back_unfinished(runtime: Runtime, state: FileStateStore) -> None:
    request_id, job_id = await _approved(runtime, state)
    engine = SlowApply(state, seconds=30)
    deps = _deps(runtime, engine)
    task = asyncio.create_task(tasks.apply({"deps": deps}, job_id))
    await asyncio.wait_for(engine.started.wait(), 10)
    deps.shutdown.stopping = True
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    status = await runtime.jobs.get(job_id)
    assert status is not None and not status.finished and "another worker picks it up" in status.message
    # The next worker finishes it.
    assert await tasks.apply({"deps": _deps(runtime, OfflineEngine(state))}, job_id) == "applied"
    assert await _audit(runtime, request_id, "applied") == 1


async def test_an_unexpected_engine_error_ends_the_job_readably(runtime: Runtime, state: FileStateStore) -> None:
    class Broken(OfflineEngine):
        async def apply(self, spec: InfraSpec, progress: ProgressFn,
                        approved: PlanResult | None = None) -> ApplyResult:
            raise KeyError("boom")

    request_id, job_id = await _approved(runtime, state)
    assert await tasks.apply({"deps": _deps(runtime, Broken(state))}, job_id) == "failed"
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.FAILED
    assert status.error == "an unexpected error stopped the job"
    assert (await _status(runtime, request_id)) == "failed"


async def test_a_job_that_keeps_losing_its_worker_is_given_up(runtime: Runtime, state: FileStateStore) -> None:
    _, job_id = await _approved(runtime, state)
    await runtime.jobs.update(job_id, attempts=tasks.MAX_ATTEMPTS)
    engine = SlowApply(state, seconds=0)
    assert await tasks.apply({"deps": _deps(runtime, engine)}, job_id) == "failed"
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.FAILED and "attempts" in (status.error or "")
    assert engine.calls == 0


async def test_a_rerun_of_a_finished_apply_changes_nothing_and_audits_once(
    runtime: Runtime, state: FileStateStore
) -> None:
    request_id, job_id, ctx = await _applied(runtime, state)
    assert await tasks.apply(ctx, job_id) == "skipped"
    assert (await _status(runtime, request_id)) == "applied"
    assert await _audit(runtime, request_id, "applied") == 1


async def test_an_apply_rerun_after_a_crash_between_its_writes_ends_applied(
    runtime: Runtime, state: FileStateStore
) -> None:
    request_id, job_id, ctx = await _applied(runtime, state)
    # The crash: the request was marked applied, the job never got its end.
    await runtime.db.jobs.update_one({"_id": job_id}, {"$set": {"phase": "applying", "finished_at": None}})
    assert await tasks.apply(ctx, job_id) == "applied"
    rerun = await runtime.jobs.get(job_id)
    assert rerun is not None and rerun.phase == Phase.SUCCEEDED and rerun.message == "Applied"
    assert (await _status(runtime, request_id)) == "applied"
    assert await _audit(runtime, request_id, "applied") == 1


async def test_an_apply_rerun_after_the_engine_finished_but_before_anything_was_recorded_ends_applied(
    runtime: Runtime, state: FileStateStore
) -> None:
    """The first run's engine finished the change, then the run was cut off (its worker killed, or a store
    write refused after Redis lost the document lock) before the request or the job recorded it. The re-run's
    engine finds the stack already as approved, which is no reason to call the plan out of date."""
    request_id, job_id = await _approved(runtime, state)
    engine = OfflineEngine(state)
    request = await runtime.requests.get(request_id)
    assert request is not None and request.plan is not None
    await engine.apply(request.spec, _no_progress, request.plan.to_result())  # the first run's change
    await runtime.requests.transition(request_id, Status.APPROVED, Status.APPLYING)
    await runtime.jobs.update(job_id, phase=Phase.APPLYING, attempts=1)

    assert await tasks.apply({"deps": _deps(runtime, engine, queue=ArqQueue(runtime.arq))}, job_id) == "applied"
    assert (await _status(runtime, request_id)) == "applied"
    rerun = await runtime.jobs.get(job_id)
    assert rerun is not None and rerun.phase == Phase.SUCCEEDED
    assert rerun.result["summary"]["create"] > 0, "the card tells what the change did, not the no-op re-run"
    assert await _audit(runtime, request_id, "applied") == 1
    assert await _audit(runtime, request_id, "plan_out_of_date") == 0


async def test_a_first_run_that_finds_the_stack_changed_still_plans_again(
    runtime: Runtime, state: FileStateStore
) -> None:
    """Only a run after one that reached the engine may take "already as approved" for done: a first run
    that finds the stack changed under it asks for a fresh plan, as before."""
    request_id, job_id = await _approved(runtime, state)
    engine = OfflineEngine(state)
    request = await runtime.requests.get(request_id)
    assert request is not None and request.plan is not None
    await engine.apply(request.spec, _no_progress, request.plan.to_result())  # someone else's change
    assert await tasks.apply({"deps": _deps(runtime, engine, queue=ArqQueue(runtime.arq))}, job_id) == "out_of_date"
    assert (await _status(runtime, request_id)) in ("planning", "awaiting_approval")


async def _no_progress(done: int, total: int, message: str) -> None:
    pass


async def test_a_plan_rerun_after_a_crash_between_its_writes_keeps_the_plan_ready(
    runtime: Runtime, state: FileStateStore
) -> None:
    spec = InfraSpec(app="shop", environment="staging", components=[Component(kind="bucket")])
    request_id, _ = await runtime.core.request_service.start(Actor(THREAD, "ana", (), "web:local:p"),
                                                             Draft.from_spec(spec), "x")
    assert request_id
    job_id = f"plan-{request_id}-1"
    ctx = {"deps": _deps(runtime, OfflineEngine(state))}
    assert await tasks.plan(ctx, job_id) == "planned"
    ready = await runtime.jobs.get(job_id)
    assert ready is not None
    # The crash: the request holds the plan, the job was never marked ready.
    await runtime.db.jobs.update_one({"_id": job_id}, {"$set": {"phase": "running", "plan_hash": None}})
    assert await tasks.plan(ctx, job_id) == "planned"
    rerun = await runtime.jobs.get(job_id)
    request = await runtime.requests.get(request_id)
    assert rerun is not None and request is not None
    assert (rerun.phase, rerun.plan_hash) == (Phase.AWAITING_APPROVAL, ready.plan_hash)
    assert request.status == "awaiting_approval"
    assert await _audit(runtime, request_id, "planned") == 1


async def test_a_queued_apply_can_be_cancelled_and_a_running_one_says_how_to_stop_it(
    runtime: Runtime, state: FileStateStore
) -> None:
    request_id, job_id = await _approved(runtime, state)
    engine = SlowApply(state, seconds=0)
    request = await runtime.requests.get(request_id)
    reply = await runtime.core.request_service.cancel(Actor(THREAD, "ana", (), "web:local:c"), request)
    assert "before it started" in reply.text
    assert await tasks.apply({"deps": _deps(runtime, engine)}, job_id) == "skipped"
    assert engine.calls == 0
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.CANCELLED
    assert (await _status(runtime, request_id)) == "cancelled"

    second_id, second = await _approved(runtime, state, "again")
    slow = SlowApply(state, seconds=30)
    task = asyncio.create_task(tasks.apply({"deps": _deps(runtime, slow)}, second))
    await asyncio.wait_for(slow.started.wait(), 10)
    reply = await runtime.core.request_service.cancel(Actor(THREAD, "ana", (), "web:local:c2"),
                                           await runtime.requests.get(second_id))
    assert "already running" in reply.text and "destroy shop-staging" in reply.text
    assert (await _status(runtime, second_id)) == "applying"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancel_racing_the_start_loses_cleanly(runtime: Runtime, state: FileStateStore) -> None:
    request_id, job_id = await _approved(runtime, state)
    stale = await runtime.requests.get(request_id)
    assert await tasks.apply({"deps": _deps(runtime, OfflineEngine(state))}, job_id) == "applied"
    reply = await runtime.core.request_service.cancel(Actor(THREAD, "ana", (), "web:local:late"), stale)
    assert "a moment ago" in reply.text
    assert (await _status(runtime, request_id)) == "applied"
