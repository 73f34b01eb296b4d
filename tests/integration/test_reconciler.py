"""MongoDB is the truth about jobs: what Redis lost or arq gave up on is queued again or ended readably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from arq import Retry
from arq.connections import RedisSettings
from arq.constants import job_key_prefix, retry_key_prefix
from arq.jobs import Job
from arq.worker import Worker, func
from redis.asyncio import Redis

from bots.runtime import Runtime
from config.local_services import LocalServices
from config.settings import Settings
from core.draft import Draft
from core.job import Phase
from core.messages import ThreadRef
from core.request import Status
from core.requests import Actor
from core.spec import Component, InfraSpec
from infra.locks import StackLock
from infra.offline import OfflineEngine
from infra.redis_keys import JOB_LEASE_PREFIX, QUEUE_NAME
from infra.state import FileStateStore
from jobs.stores.redis_state import RedisStatusSignal
from jobs.worker import tasks
from jobs.worker.main import make_worker
from jobs.worker.reconciler import Reconciler
from tests.support import eventually, phase_reached, running


async def _status(runtime: Runtime, request_id: str) -> str | None:
    request = await runtime.requests.get(request_id)
    return str(request.status) if request else None


THREAD = ThreadRef("web", "local", "web", "reconciler")


async def _queued_plan(runtime: Runtime, event: str = "r1") -> tuple[str, str]:
    spec = InfraSpec(app=f"shop{event}", components=[Component(kind="bucket")])
    request_id, _ = await runtime.core.request_service.start(Actor(THREAD, "ana", (), f"web:local:{event}"),
                                                  Draft.from_spec(spec), "x")
    assert request_id
    return request_id, f"plan-{request_id}-1"


def _reconciler(runtime: Runtime, tmp_path: Path, deadline: float = 3600) -> Reconciler:
    deps = tasks.Deps(jobs=runtime.jobs, requests=runtime.requests, audit=runtime.audit,
                      signal=RedisStatusSignal(runtime.redis), engine=OfflineEngine(FileStateStore(tmp_path)),
                      lock=StackLock(runtime.redis))
    return Reconciler(deps, runtime.jobs, runtime.arq, every_seconds=1, deadline_seconds=deadline)


async def test_a_job_redis_lost_is_queued_again_on_the_second_look(runtime: Runtime, tmp_path: Path) -> None:
    _, job_id = await _queued_plan(runtime)
    reconciler = _reconciler(runtime, tmp_path)
    assert (await reconciler.reconcile())["requeued"] == []  # arq has it
    await runtime.redis.flushall()
    first = await reconciler.reconcile()
    assert first["suspect"] == [job_id] and first["requeued"] == []
    assert not await runtime.redis.exists(job_key_prefix + job_id)
    second = await reconciler.reconcile()
    assert second["requeued"] == [job_id]
    assert await runtime.redis.exists(job_key_prefix + job_id)
    assert (await reconciler.reconcile())["requeued"] == []  # queued again only once


async def test_a_live_lease_is_left_alone(runtime: Runtime, tmp_path: Path) -> None:
    _, job_id = await _queued_plan(runtime)
    await runtime.redis.flushall()
    await runtime.redis.set(JOB_LEASE_PREFIX + job_id, "1", ex=60)
    reconciler = _reconciler(runtime, tmp_path)
    for _ in range(3):
        assert await reconciler.reconcile() == {"requeued": [], "failed": [], "suspect": []}


async def test_a_job_past_its_deadline_is_failed_with_a_message(runtime: Runtime, tmp_path: Path) -> None:
    request_id, job_id = await _queued_plan(runtime)
    await runtime.db.jobs.update_one({"_id": job_id},
                                     {"$set": {"created_at": datetime.now(UTC) - timedelta(hours=2)}})
    assert (await _reconciler(runtime, tmp_path, deadline=3600).reconcile())["failed"] == [job_id]
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.FAILED
    assert "did not finish within 1 hours" in (status.error or "")
    assert (await _status(runtime, request_id)) == "failed"


async def test_a_job_arq_gave_up_on_is_failed_with_its_reason(
    runtime: Runtime, settings: Settings, services: LocalServices, tmp_path: Path
) -> None:
    request_id, job_id = await _queued_plan(runtime)
    # arq counts kills as tries; this job has used up all of them, so arq drops it without calling the task.
    await runtime.redis.set(retry_key_prefix + job_id, 10_000)
    async with running(make_worker(settings, services.redis_url, services.mongodb_url)):
        async def dropped() -> bool:
            return not await runtime.redis.exists(job_key_prefix + job_id)

        await eventually(dropped, within=20)
    assert (await runtime.jobs.get(job_id)).phase == Phase.QUEUED  # type: ignore[union-attr]
    assert (await _reconciler(runtime, tmp_path).reconcile())["failed"] == [job_id]
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.FAILED and "tries" in (status.error or "")
    assert (await _status(runtime, request_id)) == "failed"


async def test_after_flushall_a_worker_finishes_what_was_queued(
    runtime: Runtime, settings: Settings, services: LocalServices
) -> None:
    request_id, job_id = await _queued_plan(runtime)
    raw = Redis.from_url(services.redis_url)
    try:
        await raw.flushall()
    finally:
        await raw.aclose()
    fast = settings.model_copy(update={"job_lease_seconds": 0.5})
    async with running(make_worker(fast, services.redis_url, services.mongodb_url)):

        await phase_reached(runtime.jobs, job_id, Phase.AWAITING_APPROVAL, within=30)
    assert (await _status(runtime, request_id)) == "awaiting_approval"


async def test_a_job_arq_dropped_after_redis_lost_its_data_runs_again_instead_of_failing(
    runtime: Runtime, settings: Settings, services: LocalServices, tmp_path: Path
) -> None:
    """The chaos run's lost request: a running task asks to be retried (a store error during the outage)
    after Redis was flushed. arq's retry puts the bare job id back in the queue without the job's data; the
    next worker to take it records "job expired" without calling the task. That job never ran: it is
    queued again and finishes, rather than being failed as if arq had given up on it."""
    request_id, job_id = await _queued_plan(runtime)
    tries: list[int] = []

    async def plan(ctx: dict[str, object], _: str) -> None:
        # Stands for a task whose store write failed right after Redis came back empty.
        tries.append(1)
        await runtime.redis.flushall()
        raise Retry(defer=0.05)

    stub = Worker(functions=[func(plan, name="plan")], redis_settings=RedisSettings.from_dsn(services.redis_url),
                  queue_name=QUEUE_NAME, poll_delay=0.05, handle_signals=False, keep_result=3600)
    async with running(stub):
        info = await eventually(lambda: Job(job_id, runtime.arq, _queue_name=QUEUE_NAME).result_info(), 30)
    assert tries == [1], "arq dropped the retried job without calling the task again"
    assert not info.success and "expired" in str(info.result)
    assert (await runtime.jobs.get(job_id)).phase == Phase.QUEUED  # type: ignore[union-attr]

    done = await _reconciler(runtime, tmp_path).reconcile()
    assert done["failed"] == [] and done["requeued"] == [job_id]
    async with running(make_worker(settings, services.redis_url, services.mongodb_url)):
        await phase_reached(runtime.jobs, job_id, Phase.AWAITING_APPROVAL, within=30)
    assert (await _status(runtime, request_id)) == "awaiting_approval"


async def test_one_worker_at_a_time_reconciles_and_another_takes_over_when_it_stops(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Every worker runs a reconciler; a leader lease in Redis lets one of them act, and when that worker
    stops renewing it (killed, or its Redis emptied) another one leads after at most a couple of passes."""
    first, second = _reconciler(runtime, tmp_path), _reconciler(runtime, tmp_path)
    first.every = second.every = 0.2
    assert await first.lead()
    assert not await second.lead(), "two leaders would requeue every lost job twice"
    assert await first.lead(), "the leader keeps its lease"
    # The leader stops (no more renewals): its lease lapses and the other worker leads.
    assert await eventually(second.lead, within=5, every=0.1)
    assert not await first.lead()
    await runtime.redis.flushall()  # a Redis that came back empty has no leader: one is chosen again
    assert await first.lead() != await second.lead()


async def test_an_approval_cut_off_before_its_job_was_queued_still_applies(
    runtime: Runtime, settings: Settings, services: LocalServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chat process dies right after the request was marked approved (the platform was already told it
    has the event, so nothing retries the turn): the job was recorded first, so the reconciler queues it."""
    request_id, plan_job = await _queued_plan(runtime, "cut")
    service = runtime.core.request_service
    real = service.requests.transition

    async def dies_after_approving(*args: object, **kwargs: object) -> object:
        moved = await real(*args, **kwargs)  # type: ignore[arg-type]
        if moved is not None and moved.status == Status.APPROVED:
            raise ConnectionResetError("the chat process died here")
        return moved

    async with running(make_worker(settings, services.redis_url, services.mongodb_url)):
        await phase_reached(runtime.jobs, plan_job, Phase.AWAITING_APPROVAL, within=90)
        request = await runtime.requests.get(request_id)
        assert request is not None
        monkeypatch.setattr(service.requests, "transition", dies_after_approving)
        with pytest.raises(ConnectionResetError):
            await service.approve(Actor(THREAD, "bo", (), "web:local:cut-ok"), request, request.plan_hash)
        monkeypatch.undo()
        assert (await _status(runtime, request_id)) == "approved"

        reconciler = _reconciler(runtime, tmp_path)
        assert (await reconciler.reconcile())["suspect"]
        assert (await reconciler.reconcile())["requeued"] == [f"apply-{request_id}-{request.plan_hash}"]

        async def applied() -> bool:
            return await _status(runtime, request_id) == "applied"

        await eventually(applied, within=60)
