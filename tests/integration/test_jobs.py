"""Worker tasks are idempotent: a second run, or a run after a dead worker, converges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from arq import Retry
from redis.asyncio import Redis

from bots.runtime import Runtime
from core.job import Phase
from core.messages import ThreadRef
from core.requests import Actor
from core.spec import Component, InfraSpec
from infra.locks import StackLock
from infra.offline import OfflineEngine
from infra.state import FileStateStore
from jobs.stores.redis_state import RedisStatusSignal
from jobs.worker import tasks

THREAD = ThreadRef("web", "local", "web", "jobs")


@pytest.fixture
def ctx(runtime: Runtime, tmp_path: Path) -> dict[str, Any]:
    deps = tasks.Deps(
        jobs=runtime.jobs, requests=runtime.requests, audit=runtime.audit,
        signal=RedisStatusSignal(runtime.redis), engine=OfflineEngine(FileStateStore(tmp_path / "state")),
        lock=StackLock(runtime.redis),
    )
    return {"deps": deps, "job_try": 1}


async def _request(runtime: Runtime, event: str = "e1") -> str:
    from core.draft import Draft

    spec = InfraSpec(app="shop", environment="staging", components=[Component(kind="postgres"),
                                                                    Component(kind="bucket")])
    actor = Actor(THREAD, "ana", (), f"web:local:{event}")
    request_id, _ = await runtime.core.request_service.start(actor, Draft.from_spec(spec), "test")
    assert request_id
    return request_id


async def _counts(runtime: Runtime, request_id: str) -> dict[str, int]:
    rows = await runtime.audit.list(request_id=request_id)
    out: dict[str, int] = {}
    for row in rows:
        out[row["event"]] = out.get(row["event"], 0) + 1
    return out


async def test_plan_twice_changes_nothing_the_second_time(runtime: Runtime, ctx: dict[str, Any]) -> None:
    request_id = await _request(runtime)
    job_id = f"plan-{request_id}-1"
    assert await tasks.plan(ctx, job_id) == "planned"
    first = await runtime.jobs.get(job_id)
    assert await tasks.plan(ctx, job_id) == "skipped"
    second = await runtime.jobs.get(job_id)
    assert first is not None and second is not None
    assert (second.version, second.plan_hash, second.phase) == (first.version, first.plan_hash,
                                                                Phase.AWAITING_APPROVAL)
    assert (await _counts(runtime, request_id))["planned"] == 1


async def test_a_job_whose_worker_died_runs_again_and_converges(runtime: Runtime, ctx: dict[str, Any]) -> None:
    first_id = await _request(runtime, "a")
    assert await tasks.plan(ctx, f"plan-{first_id}-1") == "planned"
    expected = (await runtime.jobs.get(f"plan-{first_id}-1")).plan_hash  # type: ignore[union-attr]

    second_id = await _request(runtime, "b")
    job_id = f"plan-{second_id}-1"
    # What a killed worker leaves behind: the job marked running, no result.
    await runtime.jobs.update(job_id, phase=Phase.RUNNING, message="Planning")
    assert await tasks.plan(ctx, job_id) == "planned"
    rerun = await runtime.jobs.get(job_id)
    assert rerun is not None and rerun.phase == Phase.AWAITING_APPROVAL and rerun.plan_hash == expected


async def test_apply_twice_applies_once(runtime: Runtime, ctx: dict[str, Any]) -> None:
    request_id = await _request(runtime)
    await tasks.plan(ctx, f"plan-{request_id}-1")
    request = await runtime.requests.get(request_id)
    reply = await runtime.core.request_service.approve(Actor(THREAD, "ana", (), "web:local:ok"), request,
                                                       request.plan_hash)
    assert "Applying" in reply.text
    plan_hash = request.plan.hash  # type: ignore[union-attr]
    job_id = f"apply-{request_id}-{plan_hash}"
    assert await tasks.apply(ctx, job_id) == "applied"
    outputs = (await runtime.requests.get(request_id)).outputs  # type: ignore[union-attr]
    assert await tasks.apply(ctx, job_id) == "skipped"
    assert (await runtime.requests.get(request_id)).outputs == outputs  # type: ignore[union-attr]
    assert (await _counts(runtime, request_id))["applied"] == 1


async def test_enqueue_with_the_same_job_id_is_a_no_op(runtime: Runtime) -> None:
    assert await runtime.core.request_service.queue.enqueue("plan", "plan-same-1")
    assert not await runtime.core.request_service.queue.enqueue("plan", "plan-same-1")
    raw = Redis.from_url(runtime.settings.redis_url or "")
    try:
        assert await raw.zcard("infrabot:queue") == 1
    finally:
        await raw.aclose()


async def test_apply_refuses_when_the_approval_does_not_match_the_plan(
    runtime: Runtime, ctx: dict[str, Any]
) -> None:
    request_id = await _request(runtime)
    await tasks.plan(ctx, f"plan-{request_id}-1")
    request = await runtime.requests.get(request_id)
    await runtime.core.request_service.approve(Actor(THREAD, "ana", (), "web:local:ok"), request, request.plan_hash)
    await runtime.requests.update(request_id, {"approved_plan_hash": "something-else"})
    job_id = f"apply-{request_id}-{request.plan.hash}"  # type: ignore[union-attr]
    assert await tasks.apply(ctx, job_id) == "void"
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.CANCELLED


async def test_a_busy_stack_makes_the_job_wait_its_turn(runtime: Runtime, ctx: dict[str, Any]) -> None:
    request_id = await _request(runtime)
    await tasks.plan(ctx, f"plan-{request_id}-1")
    request = await runtime.requests.get(request_id)
    await runtime.core.request_service.approve(Actor(THREAD, "ana", (), "web:local:ok"), request, request.plan_hash)
    job_id = f"apply-{request_id}-{request.plan.hash}"  # type: ignore[union-attr]
    lock: StackLock = ctx["deps"].lock
    async with lock.hold("shop-staging", "another-job", 30):
        with pytest.raises(Retry):
            await tasks.apply(ctx, job_id)
    status = await runtime.jobs.get(job_id)
    assert status is not None and status.phase == Phase.QUEUED
    assert "Waiting for another change on shop-staging to finish; this one is next" in status.message
    assert await tasks.apply(ctx, job_id) == "applied"
