"""arq tasks. Each one reads its durable job record first, so a second run converges instead of redoing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq import Retry

from core.plan import ApplyResult
from core.ports import AuditLog, Engine, JobStore, RequestStore, StatusSignal
from core.request import VOID, Request, Status, StoredPlan
from core.spec import InfraSpec
from core.status import JobStatus, Phase
from infra.errors import EngineFailed, StackBusy
from infra.locks import StackLock
from infra.summary import describe, render_plan
from jobs.progress import CoalescedProgress

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
                            engine=deps.engine.name, error=text)


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
        result={"engine": result.engine, "simulated": result.simulated, "lines": render_plan(result),
                "full_lines": render_plan(result, max_listed=None), "summary": result.summary},
    )
    await deps.audit.record("planned", request_id=status.request_id, job_id=job_id, engine=result.engine,
                            plan_hash=result.plan_hash, summary=result.summary)
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
    except Exception as exc:
        await _fail(deps, status, exc, source, failed_as)
        return None


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
    result = await _change(deps, status, ctx, deps.engine.apply, Status.APPLYING, Status.FAILED)
    if result is None:
        return "failed"
    await deps.requests.transition(status.request_id, Status.APPLYING, Status.APPLIED, {"outputs": result.outputs})
    await _set(
        deps, job_id, phase=Phase.SUCCEEDED, finished_at=_now(), message="Applied",
        result={"engine": result.engine, "simulated": result.simulated, "outputs": result.outputs,
                "summary": result.summary, "lines": _apply_lines(result.summary, result.simulated)},
    )
    await deps.audit.record("applied", request_id=status.request_id, job_id=job_id, engine=result.engine,
                            plan_hash=status.plan_hash, approved_by=_approver(request), result="succeeded")
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
                            result="succeeded", removed=[c.model_dump() for c in result.removed])
    return "destroyed"


def _approver(request: Request) -> str | None:
    return request.approvals[-1].user if request.approvals else None


def _apply_lines(summary: dict[str, int], simulated: bool) -> list[str]:
    counts = ", ".join(f"{n} {op}d" if op != "create" else f"{n} created" for op, n in summary.items() if n)
    prefix = "Simulated apply (offline engine, no cloud changes): " if simulated else "Applied: "
    return [prefix + (counts or "no changes")]
