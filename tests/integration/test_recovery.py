"""A job whose worker died is picked up again long before arq's own in-progress key would expire."""

from __future__ import annotations

import asyncio

from arq.constants import in_progress_key_prefix

from bots.runtime import Runtime
from config.local_services import LocalServices
from config.settings import Settings
from core.draft import Draft
from core.job import Phase
from core.messages import ThreadRef
from core.requests import Actor
from core.spec import Component, InfraSpec
from infra.redis_keys import JOB_LEASE_PREFIX
from jobs.stores.queue import QUEUE_NAME
from jobs.worker.main import make_worker
from jobs.worker.recovery import JobLeases, reap
from tests.support import phase_reached, running

THREAD = ThreadRef("web", "local", "web", "recovery")


async def _queued_plan(runtime: Runtime) -> str:
    spec = InfraSpec(app="shop", components=[Component(kind="bucket")])
    request_id, _ = await runtime.core.request_service.start(Actor(THREAD, "ana", (), "web:local:rec"),
                                                             Draft.from_spec(spec), "x")
    assert request_id
    return f"plan-{request_id}-1"


async def test_a_dead_workers_job_is_released_and_finished(
    runtime: Runtime, settings: Settings, services: LocalServices
) -> None:
    job_id = await _queued_plan(runtime)
    # What a worker that died mid-plan leaves: arq's in-progress key (valid for half an hour), the job
    # marked running in MongoDB, and no lease, since nothing renews it any more.
    await runtime.redis.set(in_progress_key_prefix + job_id, b"1", ex=1800)
    await runtime.jobs.update(job_id, phase=Phase.RUNNING, message="Planning")

    fast = settings.model_copy(update={"job_lease_seconds": 0.4})
    async with running(make_worker(fast, services.redis_url, services.mongodb_url)):

        await phase_reached(runtime.jobs, job_id, Phase.AWAITING_APPROVAL, within=20)
    request = await runtime.requests.get(job_id.split("-")[1])
    assert request is not None and request.status == "awaiting_approval"


async def test_a_live_lease_keeps_the_job_where_it_is(runtime: Runtime) -> None:
    job_id = await _queued_plan(runtime)
    await runtime.redis.set(in_progress_key_prefix + job_id, b"1", ex=60)
    await runtime.redis.set(JOB_LEASE_PREFIX + job_id, b"1", ex=60)
    suspects: set[str] = set()
    for _ in range(3):
        freed, suspects = await reap(runtime.redis, QUEUE_NAME, suspects)
        assert freed == []
    assert await runtime.redis.exists(in_progress_key_prefix + job_id)


async def test_a_job_without_lease_is_freed_only_on_the_second_look(runtime: Runtime) -> None:
    # A worker sets arq's key a moment before its lease: one pass without a lease is not proof of death.
    job_id = await _queued_plan(runtime)
    await runtime.redis.set(in_progress_key_prefix + job_id, b"1", ex=60)
    freed, suspects = await reap(runtime.redis, QUEUE_NAME, set())
    assert freed == [] and suspects == {job_id}
    assert await runtime.redis.exists(in_progress_key_prefix + job_id)
    freed, _ = await reap(runtime.redis, QUEUE_NAME, suspects)
    assert freed == [job_id]
    assert not await runtime.redis.exists(in_progress_key_prefix + job_id)


async def test_a_running_job_renews_its_lease_and_drops_it_when_done(runtime: Runtime) -> None:
    leases = JobLeases(runtime.redis, ttl_seconds=0.3)
    ctx = {"job_id": "plan-lease-1"}
    await leases.started(ctx)
    await asyncio.sleep(0.9)  # three lease lifetimes: only the heartbeat keeps it alive
    assert await runtime.redis.exists(JOB_LEASE_PREFIX + "plan-lease-1")
    await leases.ended(ctx)
    assert not await runtime.redis.exists(JOB_LEASE_PREFIX + "plan-lease-1")


async def test_stopping_the_leases_ends_every_heartbeat(runtime: Runtime) -> None:
    leases = JobLeases(runtime.redis, ttl_seconds=0.3)
    await leases.started({"job_id": "plan-stop-1"})
    await leases.started({"job_id": "plan-stop-2"})
    await leases.stop()
    await asyncio.sleep(0.5)
    assert not await runtime.redis.exists(JOB_LEASE_PREFIX + "plan-stop-1", JOB_LEASE_PREFIX + "plan-stop-2")
