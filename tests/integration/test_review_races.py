"""Races between a chat turn, a button press and a running job: the loser never overwrites the winner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bots.runtime import Runtime
from core.draft import Draft
from core.job import Phase
from core.messages import ThreadRef
from core.plan import PlanResult
from core.ports import ProgressFn
from core.request import Status
from core.requests import Actor
from core.spec import Component, InfraSpec
from infra.errors import EngineFailed
from infra.locks import StackLock
from infra.offline import OfflineEngine
from infra.state import FileStateStore
from jobs.stores.redis_state import RedisStatusSignal
from jobs.worker import tasks

THREAD = ThreadRef("web", "local", "web", "review-races")


def _spec(*kinds: str) -> InfraSpec:
    return InfraSpec(app="shop", environment="dev", components=[Component(kind=k) for k in kinds])


def _ctx(runtime: Runtime, engine: Any) -> dict[str, Any]:
    deps = tasks.Deps(
        jobs=runtime.jobs, requests=runtime.requests, audit=runtime.audit,
        signal=RedisStatusSignal(runtime.redis), engine=engine, lock=StackLock(runtime.redis),
    )
    return {"deps": deps, "job_try": 1}


async def _start(runtime: Runtime) -> str:
    actor = Actor(THREAD, "ana", (), "web:local:review-start")
    request_id, _ = await runtime.core.request_service.start(actor, Draft.from_spec(_spec("bucket")), "test")
    assert request_id
    return request_id


class _RevisedWhilePlanning:
    """Fails the preview after the request was revised while it ran, as a second process would."""

    name = "offline"

    def __init__(self, runtime: Runtime, request_id: str) -> None:
        self.runtime = runtime
        self.request_id = request_id

    async def preview(self, spec: InfraSpec, progress: ProgressFn) -> PlanResult:
        request = await self.runtime.requests.get(self.request_id)
        assert request is not None
        actor = Actor(THREAD, "ana", (), "web:local:review-revise")
        await self.runtime.core.request_service.revise(actor, request, Draft.from_spec(_spec("bucket", "redis")))
        raise EngineFailed("quota exceeded")


async def test_a_superseded_plan_that_fails_leaves_the_newer_revision_planning(runtime: Runtime) -> None:
    request_id = await _start(runtime)
    ctx = _ctx(runtime, _RevisedWhilePlanning(runtime, request_id))
    assert await tasks.plan(ctx, f"plan-{request_id}-1") == "failed"
    request = await runtime.requests.get(request_id)
    assert request is not None
    assert (request.status, request.latest_job) == ("planning", f"plan-{request_id}-2")


@pytest.fixture
def offline(runtime: Runtime, tmp_path: Path) -> dict[str, Any]:
    return _ctx(runtime, OfflineEngine(FileStateStore(tmp_path / "state")))


async def _planned(runtime: Runtime, offline: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A request whose plan waits for approval, and the request as a turn read it then."""
    request_id = await _start(runtime)
    assert await tasks.plan(offline, f"plan-{request_id}-1") == "planned"
    seen = await runtime.requests.get(request_id)
    assert seen is not None and seen.status == "awaiting_approval"
    return request_id, seen


async def test_a_cancel_read_before_an_approval_does_not_overwrite_it(
    runtime: Runtime, offline: dict[str, Any]
) -> None:
    request_id, seen = await _planned(runtime, offline)
    approved = await runtime.core.request_service.approve(Actor(THREAD, "ana", (), "web:local:ok"), seen,
                                                          seen.plan_hash)
    assert "Applying" in approved.text
    reply = await runtime.core.request_service.cancel(Actor(THREAD, "ana", (), "web:local:no"), seen)
    assert "Nothing was changed" not in reply.text
    after = await runtime.requests.get(request_id)
    assert after is not None and after.status == "approved"
    plan_job = await runtime.jobs.get(f"plan-{request_id}-1")
    assert plan_job is not None and plan_job.phase == Phase.AWAITING_APPROVAL
    apply_id = f"apply-{request_id}-{seen.plan.hash}"
    assert await tasks.apply(offline, apply_id) == "applied"


async def test_a_change_read_before_an_approval_does_not_void_it(
    runtime: Runtime, offline: dict[str, Any]
) -> None:
    request_id, seen = await _planned(runtime, offline)
    await runtime.core.request_service.approve(Actor(THREAD, "ana", (), "web:local:ok"), seen, seen.plan_hash)
    reply = await runtime.core.request_service.revise(Actor(THREAD, "ana", (), "web:local:more"), seen,
                                           Draft.from_spec(_spec("bucket", "redis")))
    assert "approved a moment ago" in reply.text
    after = await runtime.requests.get(request_id)
    assert after is not None
    assert (after.status, after.revision, after.approved_plan_hash) == (
        "approved", 1, seen.plan.hash)
    assert await tasks.apply(offline, f"apply-{request_id}-{seen.plan.hash}") == "applied"


async def test_an_approval_whose_job_was_never_queued_is_queued_by_its_retry(
    runtime: Runtime, offline: dict[str, Any]
) -> None:
    request_id, seen = await _planned(runtime, offline)
    plan_hash = seen.plan.hash
    # What a process that died right after winning the approval leaves behind.
    assert await runtime.requests.transition(request_id, Status.AWAITING_APPROVAL, Status.APPROVED,
                                             {"approved_plan_hash": plan_hash})
    retried = await runtime.requests.get(request_id)
    reply = await runtime.core.request_service.approve(Actor(THREAD, "ana", (), "web:local:ok"), retried, plan_hash)
    assert "already approved" in reply.text
    job_id = f"apply-{request_id}-{plan_hash}"
    job = await runtime.jobs.get(job_id)
    assert job is not None and job.phase == Phase.QUEUED
    assert await tasks.apply(offline, job_id) == "applied"
    # Once queued, a further repeat changes nothing.
    again = await runtime.core.request_service.approve(Actor(THREAD, "ana", (), "web:local:ok"), retried, None)
    assert "already running" in again.text
    assert (await runtime.jobs.get(job_id)).phase == Phase.SUCCEEDED  # type: ignore[union-attr]
