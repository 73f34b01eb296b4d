"""arq tasks. Each one reads its durable job record first, so a second run converges instead of redoing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq import Retry

from core.plan import ApplyResult, PlanOutOfDate
from core.ports import AuditLog, Engine, JobQueue, JobStore, ProgressFn, RequestStore, StatusSignal
from core.request import SUPERSEDABLE, VOID, Request, Status, StoredPlan, job_for
from core.spec import InfraSpec
from core.status import JobStatus, Phase
from infra.errors import EngineFailed, StackBusy
from infra.locks import StackLock
from infra.summary import describe, render_plan
from jobs.progress import CoalescedProgress
from jobs.queue import ArqQueue

log = logging.getLogger("infrabot.jobs")

RETRY_BUSY_SECONDS = 15
PROGRESS_INTERVAL = 0.25  # at most one progress write per job this often
LEASE_SECONDS = 60.0


@dataclass
class Deps:
    jobs: JobStore
    requests: RequestStore
    audit: AuditLog
    signal: StatusSignal
    engine: Engine
    lock: StackLock
    # Queues the fresh plan when an approved one went out of date; the worker's own arq pool when unset.
    queue: JobQueue | None = None


def _now() -> datetime:
    return datetime.now(UTC)


async def _set(deps: Deps, job_id: str, **changes: Any) -> JobStatus | None:
    status = await deps.jobs.update(job_id, **changes)
    await deps.signal.publish(job_id)
    return status


def _progress(deps: Deps, job_id: str) -> CoalescedProgress:
    async def report(done: int, total: int, message: str) -> None:
        await _set(deps, job_id, done=done, total=total, message=message)

    return CoalescedProgress(report, PROGRESS_INTERVAL)


async def _begin(deps: Deps, job_id: str, phase: Phase, message: str) -> JobStatus | None:
    status = await deps.jobs.get(job_id)
    if status is None:
        log.error("job %s has no status record; dropping it", job_id)
        return None
    if status.finished:
        log.info("job %s already %s; nothing to do", job_id, status.phase)
        return None
    request = await deps.requests.get(status.request_id)
    if request is None or request.latest_job not in (None, job_id) or request.status in VOID:
        await _set(deps, job_id, phase=Phase.CANCELLED, finished_at=_now(), message="No longer needed")
        return None
    return await _set(deps, job_id, phase=phase, started_at=status.started_at or _now(), message=message,
                      engine=deps.engine.name)


async def _fail(deps: Deps, status: JobStatus, error: Exception, source: Status, target: Status) -> None:
    text = str(error) if isinstance(error, EngineFailed) else "an unexpected error stopped the job"
    log.error("job %s failed: %s", status.job_id, text, exc_info=not isinstance(error, EngineFailed))
    await _set(deps, status.job_id, phase=Phase.FAILED, finished_at=_now(), error=text, message=text)
    # A plan that a revision superseded while it ran must not mark the newer revision failed.
    await deps.requests.transition(status.request_id, source, target, {"error": text},
                                   expect={"latest_job": status.job_id})
    await deps.audit.record(f"{status.kind}_failed", request_id=status.request_id, job_id=status.job_id,
                            engine=deps.engine.name, error=text, **await _job_where(deps, status))


async def _busy(deps: Deps, status: JobStatus, error: StackBusy, ctx: dict[str, Any]) -> Retry:
    await _set(deps, status.job_id, message=str(error))
    return Retry(defer=RETRY_BUSY_SECONDS * min(ctx.get("job_try", 1), 4))


async def plan(ctx: dict[str, Any], job_id: str) -> str:
    deps: Deps = ctx["deps"]
    status = await _begin(deps, job_id, Phase.RUNNING, "Planning")
    if status is None:
        return "skipped"
    spec = InfraSpec(**status.spec)
    progress = _progress(deps, job_id)
    try:
        try:
            result = await deps.engine.preview(spec, progress)
        finally:
            await progress.aclose()
    except StackBusy as exc:
        raise await _busy(deps, status, exc, ctx) from exc
    except Exception as exc:
        await _fail(deps, status, exc, Status.PLANNING, Status.FAILED)
        return "failed"
    stored = StoredPlan(**result.model_dump(), hash=result.plan_hash, created_at=_now(), job_id=job_id)
    still_current = await deps.requests.transition(
        status.request_id, Status.PLANNING, Status.AWAITING_APPROVAL, {"plan": stored},
        expect={"latest_job": job_id},
    )
    if still_current is None:
        await _set(deps, job_id, phase=Phase.CANCELLED, finished_at=_now(), message="Superseded")
        return "superseded"
    await _set(
        deps, job_id, phase=Phase.AWAITING_APPROVAL, finished_at=_now(), plan_hash=result.plan_hash,
        done=len(result.resources), total=len(result.resources), message="Plan ready",
        result={"engine": result.engine, "simulated": result.simulated,
                "lines": ([status.note] if status.note else []) + render_plan(result),
                "full_lines": render_plan(result, max_listed=None), "summary": result.summary},
    )
    await deps.audit.record("planned", request_id=status.request_id, job_id=job_id, engine=result.engine,
                            plan_hash=result.plan_hash, summary=result.summary, **_where(still_current))
    return "planned"


async def _change(
    deps: Deps, status: JobStatus, ctx: dict[str, Any], run: Callable[..., Awaitable[ApplyResult]],
    source: Status, failed_as: Status,
) -> ApplyResult | None:
    """Runs an apply or destroy under the stack lease; None when it failed (already recorded)."""
    spec = InfraSpec(**status.spec)
    progress = _progress(deps, status.job_id)
    try:
        async with deps.lock.hold(spec.stack_name, status.job_id, LEASE_SECONDS):
            try:
                return await run(spec, progress)
            finally:
                await progress.aclose()
    except StackBusy as exc:
        raise await _busy(deps, status, exc, ctx) from exc
    except PlanOutOfDate:
        raise
    except Exception as exc:
        await _fail(deps, status, exc, source, failed_as)
        return None


async def _supersede_others(deps: Deps, request: Request) -> None:
    """Applying this request makes every other open plan for the stack stale: each is superseded, its card
    says so and loses its Approve button. Idempotent, so a second run of the job changes nothing."""
    for other in await deps.requests.on_stack(request.stack, SUPERSEDABLE):
        if other.id == request.id:
            continue
        moved = await deps.requests.transition(other.id, other.status, Status.SUPERSEDED,
                                               {"superseded_by": request.id})
        if moved is None:
            continue
        log.info("request %s superseded by %s on %s", other.id, request.id, request.stack)
        await deps.audit.record("superseded", request_id=other.id, by_request=request.id, stack=request.stack,
                                **_where(other))
        if other.latest_job:
            job = await deps.jobs.get(other.latest_job)
            if job is not None and job.phase in (Phase.QUEUED, Phase.RUNNING, Phase.AWAITING_APPROVAL):
                told = (f"Superseded: a newer request for {request.stack} is being applied, so this plan can no "
                        "longer be approved. Nothing of it was applied.")
                # The card shows the result's lines when it has them: the notice goes first.
                result = {**job.result, "lines": [told, *job.result.get("lines", [])]} if job.result else {}
                await _set(deps, job.job_id, phase=Phase.CANCELLED, finished_at=_now(), message=told,
                           result=result)


async def _replan(deps: Deps, ctx: dict[str, Any], status: JobStatus, request: Request, exc: PlanOutOfDate) -> str:
    """The engine refused the approved plan as out of date: nothing was applied, so the request goes back to
    planning with a fresh plan job, whose card tells the thread why."""
    revision = request.revision + 1
    plan_job = f"plan-{request.id}-{revision}"
    moved = await deps.requests.transition(
        request.id, Status.APPLYING, Status.PLANNING,
        {"revision": revision, "plan": None, "approved_plan_hash": None, "shown_plan_hash": None,
         "latest_job": plan_job},
        expect={"latest_job": status.job_id},
    )
    await _set(deps, status.job_id, phase=Phase.CANCELLED, finished_at=_now(),
               message="The plan is out of date; nothing was applied")
    if moved is None:
        return "out_of_date"
    note = "The plan is out of date: the stack changed since it was approved, so nothing was applied. Here is " \
           "a fresh one; approve it if it is still what you want."
    await deps.jobs.create(job_for(moved, "plan", plan_job, deps.engine.name, note=note, message=note))
    queue = deps.queue or ArqQueue(ctx["redis"])
    await queue.enqueue("plan", plan_job)
    await deps.audit.record("plan_out_of_date", request_id=request.id, job_id=status.job_id,
                            plan_hash=status.plan_hash, detail=str(exc)[:300], next_job=plan_job, **_where(request))
    return "out_of_date"


def _where(request: Request) -> dict[str, Any]:
    """What every audit row names; for the worker's rows the user is the one who asked for the request."""
    t = request.thread
    return {"platform": t.platform, "workspace": t.workspace, "thread": t.as_dict(), "user": request.user}


async def _job_where(deps: Deps, status: JobStatus) -> dict[str, Any]:
    request = await deps.requests.get(status.request_id)
    if request is not None:
        return _where(request)
    t = status.thread
    return {"platform": t.get("platform"), "workspace": t.get("workspace"), "thread": t, "user": None}


async def apply(ctx: dict[str, Any], job_id: str) -> str:
    deps: Deps = ctx["deps"]
    status = await _begin(deps, job_id, Phase.APPLYING, "Applying")
    if status is None:
        return "skipped"
    request = await deps.requests.get(status.request_id)
    if request is None or request.approved_plan_hash != status.plan_hash or not status.plan_hash:
        await _set(deps, job_id, phase=Phase.CANCELLED, finished_at=_now(),
                   message="The approval no longer matches the plan; nothing was applied")
        return "void"
    if request.status == Status.APPROVED:
        moved = await deps.requests.transition(request.id, Status.APPROVED, Status.APPLYING,
                                               expect={"approved_plan_hash": status.plan_hash})
        request = moved or await deps.requests.get(request.id)
    if request is None or request.status != Status.APPLYING:
        # A second run of a job whose first run finished, or a request moved on (superseded) meanwhile.
        await _set(deps, job_id, phase=Phase.CANCELLED, finished_at=_now(),
                   message="No longer approved; nothing was applied")
        return "void"
    approved = request.plan.to_result() if request.plan and request.plan.hash == status.plan_hash else None
    if approved is None or approved.spec_fingerprint != InfraSpec(**status.spec).fingerprint():
        await _fail(deps, status, EngineFailed("the approved plan is missing or was made for another spec"),
                    Status.APPLYING, Status.FAILED)
        return "failed"
    await _supersede_others(deps, request)

    async def run(spec: InfraSpec, progress: ProgressFn) -> ApplyResult:
        return await deps.engine.apply(spec, progress, approved)

    try:
        result = await _change(deps, status, ctx, run, Status.APPLYING, Status.FAILED)
    except PlanOutOfDate as exc:
        return await _replan(deps, ctx, status, request, exc)
    if result is None:
        return "failed"
    await deps.requests.transition(status.request_id, Status.APPLYING, Status.APPLIED, {"outputs": result.outputs})
    await _set(
        deps, job_id, phase=Phase.SUCCEEDED, finished_at=_now(), message="Applied",
        result={"engine": result.engine, "simulated": result.simulated, "outputs": result.outputs,
                "summary": result.summary, "lines": _apply_lines(result.summary, result.simulated)},
    )
    await deps.audit.record("applied", request_id=status.request_id, job_id=job_id, engine=result.engine,
                            plan_hash=status.plan_hash, approved_by=_approver(request), result="succeeded",
                            **_where(request))
    return "applied"


async def destroy(ctx: dict[str, Any], job_id: str) -> str:
    deps: Deps = ctx["deps"]
    status = await _begin(deps, job_id, Phase.APPLYING, "Destroying")
    if status is None:
        return "skipped"
    result = await _change(deps, status, ctx, deps.engine.destroy, Status.DESTROYING, Status.APPLIED)
    if result is None:
        return "failed"
    await deps.requests.transition(status.request_id, Status.DESTROYING, Status.DESTROYED, {"outputs": {}})
    removed = [describe(c.type, c.name) for c in result.removed]
    prefix = "Simulated destroy (offline engine, no cloud changes): " if result.simulated else ""
    await _set(
        deps, job_id, phase=Phase.SUCCEEDED, finished_at=_now(), message="Destroyed",
        result={"engine": result.engine, "simulated": result.simulated, "summary": result.summary,
                "lines": [f"{prefix}removed {len(removed)} resources."], "resource_lines": removed},
    )
    await deps.audit.record("destroyed", request_id=status.request_id, job_id=job_id, engine=result.engine,
                            result="succeeded", removed=[c.model_dump() for c in result.removed],
                            **await _job_where(deps, status))
    return "destroyed"


def _approver(request: Request) -> str | None:
    return request.approvals[-1].user if request.approvals else None


def _apply_lines(summary: dict[str, int], simulated: bool) -> list[str]:
    counts = ", ".join(f"{n} {op}d" if op != "create" else f"{n} created" for op, n in summary.items() if n)
    prefix = "Simulated apply (offline engine, no cloud changes): " if simulated else "Applied: "
    return [prefix + (counts or "no changes")]
