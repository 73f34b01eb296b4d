"""arq tasks. Each one reads its durable job record first, so a second run converges instead of redoing.

Every way out of a task leaves the job where a person can read what happened: finished (succeeded,
failed with its reason, timed out, cancelled), waiting its turn for a busy stack, or, when its worker is
stopping, handed back to the queue for another worker. What still slips through (arq giving up without
calling the task, a Redis that lost the queue) is caught by jobs/worker/reconciler.py.

A job's end is written only while the job is still open (a user's cancel or another run's result stays),
and audit records are written once per job, so a re-run converges.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from arq import Retry
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from core.job import JobStatus, Phase
from core.markup import plain
from core.plan import ApplyResult, PlanOutOfDate
from core.policy import Policy
from core.ports import AuditLog, Engine, JobQueue, JobStore, ProgressFn, RequestStore, StatusSignal
from core.request import SUPERSEDABLE, VOID, Request, Status, StoredPlan, job_for
from core.spec import InfraSpec
from infra.errors import EngineFailed, StackBusy
from infra.locks import StackLock
from infra.summary import render_plan, resource_label
from jobs.stores.doc_lock import DocLockTimeout
from jobs.stores.queue import ArqQueue
from jobs.worker.progress import CoalescedProgress
from jobs.worker.waitline import WaitLine, waiting_text

log = logging.getLogger("infrabot.jobs")

T = TypeVar("T")

BUSY_RETRY_SECONDS = 5.0
PROGRESS_INTERVAL = 0.25  # at most one progress write per job this often
STORE_RETRY_SECONDS = 3.0
# Runs that reached the engine and were cut off (worker killed or restarted): past this, the job is failed
# rather than tried again, so a job that crashes its worker cannot do so for ever.
MAX_ATTEMPTS = 5
# After a timeout or cancellation the engine gets this long to stop before the job's end is written; the
# stack lease stays held meanwhile, so no second change starts on a stack Pulumi may still be changing.
WIND_DOWN_SECONDS = 10.0

# A store that is briefly unreachable is a reason to run the job again later, not to fail it.
STORE_ERRORS: tuple[type[BaseException], ...] = (PyMongoError, RedisError, DocLockTimeout)


class JobTimedOut(Exception):
    pass


@dataclass
class Shutdown:
    """Set by the worker as it stops: a task cancelled then is handed back, not failed."""

    stopping: bool = False


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
    line: WaitLine | None = None
    timeout_seconds: float = 1800.0
    lease_seconds: float = 60.0
    shutdown: Shutdown = field(default_factory=Shutdown)
    # The worker's own reading of the cloud rules (CLOUDS, ALLOWED_CLOUDS): a request that got past the
    # chat side under other rules, or by a bug, is still not planned or built on a cloud it may not use.
    policy: Policy | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _platform(status: JobStatus | None) -> str:
    return str(status.thread.get("platform", "")) if status else ""


async def _set(deps: Deps, job_id: str, **changes: Any) -> JobStatus | None:
    status = await deps.jobs.update(job_id, **changes)
    await deps.signal.publish(job_id, _platform(status))
    return status


async def _end(deps: Deps, job_id: str, **changes: Any) -> JobStatus | None:
    """Writes a job's end unless it already had one; None when it had."""
    status = await deps.jobs.update_open(job_id, finished_at=_now(), **changes)
    await deps.signal.publish(job_id, _platform(status))
    return status


def _progress(deps: Deps, job_id: str) -> CoalescedProgress:
    async def report(done: int, total: int, message: str) -> None:
        try:
            await _set(deps, job_id, done=done, total=total, message=message)
        except STORE_ERRORS:
            # Progress is for the card; a store hiccup must not fail a change that is going well.
            log.warning("could not record progress of %s", job_id, exc_info=True)

    return CoalescedProgress(report, PROGRESS_INTERVAL)


async def _engine(deps: Deps, job_id: str, run: Callable[[CoalescedProgress], Awaitable[T]],
                  stuck: Callable[[], None] | None = None) -> T:
    """Engine work under the job timeout; held progress is written before the job's end can be."""
    progress = _progress(deps, job_id)
    try:
        return await _guarded(deps, run(progress), stuck)
    finally:
        await progress.aclose()


# Where a failed job leaves its request, from each status it may be in: a failed destroy leaves the stack.
_FAILED_FROM: dict[str, tuple[tuple[Status, Status], ...]] = {
    "plan": ((Status.PLANNING, Status.FAILED),),
    "apply": ((Status.APPLYING, Status.FAILED), (Status.APPROVED, Status.FAILED)),
    "destroy": ((Status.DESTROYING, Status.APPLIED), (Status.DESTROY_APPROVED, Status.APPLIED)),
}


async def give_up(deps: Deps, job_id: str, reason: str) -> bool:
    """Ends an open job as failed with a reason a person can read; False if it had already ended."""
    status = await _end(deps, job_id, phase=Phase.FAILED, error=reason, message=reason)
    if status is None:
        return False
    log.error("job %s failed: %s", job_id, reason)
    await deps.audit.record(f"{status.kind}_failed", once=f"failed:{job_id}", request_id=status.request_id,
                            job_id=job_id, engine=status.engine, error=reason, **await _job_where(deps, status))
    for source, target in _FAILED_FROM.get(status.kind, ()):
        # A plan that a revision superseded while it ran must not mark the newer revision failed.
        if await deps.requests.transition(status.request_id, source, target, {"error": reason},
                                          expect={"latest_job": job_id}):
            break
    return True


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
        await _end(deps, job_id, phase=Phase.CANCELLED, message="No longer needed")
        return None
    return await deps.jobs.update_open(job_id, phase=phase, started_at=status.started_at or _now(),
                                       message=message, engine=deps.engine.name)


async def _attempt(deps: Deps, status: JobStatus) -> bool:
    """Counts a run that reaches the engine; False (and the job failed) once there were too many."""
    if status.attempts >= MAX_ATTEMPTS:
        await give_up(deps, status.job_id, f"stopped after {status.attempts} attempts: the worker running it "
                      "was interrupted each time. Check the worker's logs, then ask again")
        return False
    await _set(deps, status.job_id, attempts=status.attempts + 1)
    return True


async def _guarded(deps: Deps, work: Awaitable[T], stuck: Callable[[], None] | None = None) -> T:
    """Runs engine work under the job timeout. On timeout or cancellation the engine is asked to stop and
    given WIND_DOWN_SECONDS; if it is still running after that, `stuck` is called (the caller then keeps
    its stack lease from being released while the engine may still be changing the stack)."""
    task = asyncio.ensure_future(work)
    try:
        async with asyncio.timeout(deps.timeout_seconds):
            return await asyncio.shield(task)
    except (TimeoutError, asyncio.CancelledError) as exc:
        if task.done() and not task.cancelled():
            return task.result()  # the engine's own outcome, which arrived just as time ran out
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=WIND_DOWN_SECONDS)
        if not done:
            log.error("the engine did not stop within %ss of being asked to", WIND_DOWN_SECONDS)
            if stuck:
                stuck()
        if isinstance(exc, TimeoutError):
            raise JobTimedOut() from exc
        raise


def _timeout_text(deps: Deps) -> str:
    minutes = deps.timeout_seconds / 60
    span = f"{minutes:g} minutes" if minutes >= 1 else f"{deps.timeout_seconds:g} seconds"
    return f"timed out: it did not finish within {span} and was stopped"


async def _failure(deps: Deps, status: JobStatus, error: BaseException) -> None:
    if isinstance(error, EngineFailed):
        text = str(error)
    elif isinstance(error, JobTimedOut):
        text = _timeout_text(deps)
    else:
        log.error("job %s: unexpected engine error", status.job_id, exc_info=error)
        text = "an unexpected error stopped the job"
    await give_up(deps, status.job_id, text)


async def _interrupted(deps: Deps, job_id: str) -> None:
    """A cancelled task: handed back when its worker stops, otherwise a readable end."""
    try:
        if deps.shutdown.stopping:
            await asyncio.wait_for(
                _set(deps, job_id, message="Interrupted: its worker stopped; another worker picks it up"), 3)
        else:
            await asyncio.wait_for(give_up(deps, job_id, "cancelled by the worker before it finished"), 10)
    except Exception:
        log.warning("could not record the interruption of %s; the reconciler will", job_id, exc_info=True)


Body = Callable[[Deps, JobStatus, dict[str, Any]], Awaitable[str]]
Task = Callable[[dict[str, Any], str], Awaitable[str]]


def _task(name: str, phase: Phase, message: str, body: Body) -> Task:
    """The arq entry point for one kind of job: `body` sees only a job still open and still wanted.

    arq's func() names a function registered without a name by its `__qualname__`, so the entry carries the
    name jobs are queued under rather than the closure's.
    """

    async def entry(ctx: dict[str, Any], job_id: str) -> str:
        return await _run(ctx, job_id, phase, message, body)

    entry.__name__ = entry.__qualname__ = name
    return entry


async def _run(ctx: dict[str, Any], job_id: str, phase: Phase, message: str, body: Body) -> str:
    deps: Deps = ctx["deps"]
    try:
        status = await _begin(deps, job_id, phase, message)
        if status is None:
            return "skipped"
        return await body(deps, status, ctx)
    except Retry:
        raise
    except asyncio.CancelledError:
        await _interrupted(deps, job_id)
        raise
    except STORE_ERRORS as exc:
        log.warning("job %s: a store is unavailable (%s); trying again in %ss", job_id, exc, STORE_RETRY_SECONDS)
        raise Retry(defer=STORE_RETRY_SECONDS) from exc
    except Exception:
        log.exception("job %s: unexpected error", job_id)
        try:
            await give_up(deps, job_id, "an unexpected error stopped the job")
        except Exception as exc:
            raise Retry(defer=STORE_RETRY_SECONDS) from exc
        return "failed"


async def _wait_turn(deps: Deps, status: JobStatus, stack: str, error: StackBusy) -> str:
    """A busy stack is not a failure: the job waits in the queue, saying where it stands. A job that ended
    meanwhile (cancelled from chat, or finished by another run that held the stack) stays ended."""
    ahead = await deps.line.place(stack, status.job_id) if deps.line else 0
    if await _end_or_none(deps, status.job_id, phase=Phase.QUEUED, message=waiting_text(stack, ahead)) is None:
        if deps.line:
            await deps.line.leave(stack, status.job_id)
        return "skipped"
    log.info("job %s waits for %s (%d ahead)", status.job_id, stack, ahead)
    raise Retry(defer=BUSY_RETRY_SECONDS) from error


async def _end_or_none(deps: Deps, job_id: str, **changes: Any) -> JobStatus | None:
    """Changes a job only while it is open; None when it had already ended."""
    status = await deps.jobs.update_open(job_id, **changes)
    await deps.signal.publish(job_id, _platform(status))
    return status


_DONE: dict[str, str] = {"plan": "planned", "apply": "applied"}


async def _cloud_refused(deps: Deps, status: JobStatus, spec: InfraSpec) -> bool:
    """True (and the job failed, saying why) when the worker's rules do not allow `spec`'s cloud."""
    refused = deps.policy.check_cloud(spec) if deps.policy else None
    if refused is None:
        return False
    # Stored as the job's error, which every card shows as plain text.
    refusal = plain(refused)
    log.warning("job %s refused by the worker: %s", status.job_id, refusal)
    await deps.audit.record("refused", once=f"refused:{status.job_id}", action=status.kind, reason=refusal,
                            by="worker", request_id=status.request_id, job_id=status.job_id,
                            stack=spec.stack_name, **await _job_where(deps, status))
    await give_up(deps, status.job_id, f"{refusal}, so nothing was {_DONE.get(status.kind, 'done')}")
    return True


async def _plan(deps: Deps, status: JobStatus, ctx: dict[str, Any]) -> str:
    job_id = status.job_id
    spec = InfraSpec(**status.spec)
    request = await deps.requests.get(status.request_id)
    if request and request.status != Status.PLANNING and request.plan and request.plan.job_id == job_id:
        # A run cut off between its two writes: the request already holds this job's plan (and may be
        # approved by now). Finish the job from it instead of planning again, which would cancel it.
        return await _plan_ready(deps, status, request.plan)
    if await _cloud_refused(deps, status, spec):
        return "refused"
    if not await _attempt(deps, status):
        return "failed"
    try:
        result = await _engine(deps, job_id, lambda progress: deps.engine.preview(spec, progress))
    except StackBusy as exc:
        return await _wait_turn(deps, status, spec.stack_name, exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await _failure(deps, status, exc)
        return "failed"
    stored = StoredPlan(**result.model_dump(), hash=result.plan_hash, created_at=_now(), job_id=job_id)
    still_current = await deps.requests.transition(
        status.request_id, Status.PLANNING, Status.AWAITING_APPROVAL, {"plan": stored},
        expect={"latest_job": job_id},
    )
    if still_current is None:
        await _end(deps, job_id, phase=Phase.CANCELLED, message="Superseded")
        return "superseded"
    return await _plan_ready(deps, status, stored)


plan = _task("plan", Phase.RUNNING, "Planning", _plan)


async def _plan_ready(deps: Deps, status: JobStatus, plan: StoredPlan) -> str:
    job_id = status.job_id
    result = plan.to_result()
    ended = await _end(
        deps, job_id, phase=Phase.AWAITING_APPROVAL, plan_hash=plan.hash,
        done=len(result.resources), total=len(result.resources), message="Plan ready",
        # A plan made because the approved one went out of date says so first, on the card that replaces it.
        result={"engine": result.engine, "simulated": result.simulated,
                "lines": ([status.note] if status.note else []) + render_plan(result),
                "full_lines": render_plan(result, max_listed=None), "summary": result.summary},
    )
    if ended is None:
        return "skipped"
    await deps.audit.record("planned", once=f"planned:{job_id}", request_id=status.request_id, job_id=job_id,
                            engine=result.engine, plan_hash=plan.hash, summary=result.summary,
                            **await _job_where(deps, status))
    return "planned"


async def _change(
    deps: Deps, status: JobStatus, run: Callable[..., Awaitable[ApplyResult]],
    start: Callable[[], Awaitable[bool]],
) -> ApplyResult | str:
    """Runs an apply or destroy under the stack lease; a string when it did not succeed (already recorded).
    `start` moves the request on once the lease is held: until then the change only waits and can be
    cancelled; False means it was (or it moved on), and nothing runs."""
    spec = InfraSpec(**status.spec)
    job_id = status.job_id
    try:
        async with deps.lock.hold(spec.stack_name, job_id, deps.lease_seconds) as lease:
            if deps.line:
                await deps.line.leave(spec.stack_name, job_id)
            if not await start():
                undone = "removed" if status.kind == "destroy" else "applied"
                await _end(deps, job_id, phase=Phase.CANCELLED, message=f"No longer approved; nothing was {undone}")
                return "void"
            if not await _attempt(deps, status):
                return "failed"
            await _set(deps, job_id, phase=Phase.APPLYING, message="Destroying" if status.kind == "destroy"
                       else "Applying")
            return await _engine(deps, job_id, lambda progress: run(spec, progress), lease.abandon)
    except StackBusy as exc:
        return await _wait_turn(deps, status, spec.stack_name, exc)
    except (asyncio.CancelledError, PlanOutOfDate):
        raise
    except STORE_ERRORS:
        raise
    except Exception as exc:
        await _failure(deps, status, exc)
        return "failed"


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


async def _apply(deps: Deps, status: JobStatus, ctx: dict[str, Any]) -> str:
    job_id = status.job_id
    request = await deps.requests.get(status.request_id)
    if request is None or request.approved_plan_hash != status.plan_hash or not status.plan_hash:
        await _end(deps, job_id, phase=Phase.CANCELLED,
                   message="The approval no longer matches the plan; nothing was applied")
        return "void"
    approved = request.plan.to_result() if request.plan and request.plan.hash == status.plan_hash else None
    if approved is None or approved.spec_fingerprint != InfraSpec(**status.spec).fingerprint():
        await give_up(deps, job_id, "the approved plan is missing or was made for another spec")
        return "failed"
    if request.status != Status.APPLIED and await _cloud_refused(deps, status, InfraSpec(**status.spec)):
        return "refused"
    if request.status == Status.APPLIED and request.latest_job == job_id:
        # A run that died after recording the apply but before ending its job: the change is done, so this
        # run ends the job as applied instead of telling the thread that nothing was applied.
        done = ApplyResult(engine=approved.engine, simulated=approved.simulated, summary=approved.summary,
                           outputs=request.outputs)
        return await _applied(deps, job_id, status, request, done)
    started: list[Request] = []

    async def start() -> bool:
        # Compare-and-set against a cancel from chat: only now, with the stack held, does the change start.
        current = await deps.requests.get(status.request_id)
        if current is not None and current.status == Status.APPROVED:
            current = await deps.requests.transition(current.id, Status.APPROVED, Status.APPLYING,
                                                     expect={"approved_plan_hash": status.plan_hash,
                                                             "latest_job": job_id})
        if current is None or current.status != Status.APPLYING or current.latest_job != job_id:
            return False
        started.append(current)
        await _supersede_others(deps, current)
        return True

    async def run(spec: InfraSpec, progress: ProgressFn) -> ApplyResult:
        try:
            return await deps.engine.apply(spec, progress, approved)
        except PlanOutOfDate:
            if not status.attempts:
                raise  # the first run to reach the engine: the stack really changed since the plan
            # A run before this one reached the engine and may have made the whole change before it was cut
            # off (killed, or a store write refused) with nothing recorded. Then the stack is now exactly
            # what this request's spec says: a fresh plan with no change in it, applied as a no-op, ends
            # the job with the stack's outputs. Any change in that plan means it really is out of date.
            fresh = await deps.engine.preview(spec, progress)
            if any(fresh.summary.values()):
                raise
            log.info("job %s: an earlier run already made the change; finishing it", job_id)
            done = await deps.engine.apply(spec, progress, fresh)
            return done.model_copy(update={"summary": approved.summary})  # what the approved change did

    try:
        result = await _change(deps, status, run, start)
    except PlanOutOfDate as exc:
        return await _replan(deps, ctx, status, started[0] if started else request, exc)
    if isinstance(result, str):
        return result
    await deps.requests.transition(status.request_id, Status.APPLYING, Status.APPLIED, {"outputs": result.outputs})
    return await _applied(deps, job_id, status, request, result)


apply = _task("apply", Phase.QUEUED, "Starting", _apply)


async def _applied(deps: Deps, job_id: str, status: JobStatus, request: Request, result: ApplyResult) -> str:
    ended = await _end(
        deps, job_id, phase=Phase.SUCCEEDED, message="Applied",
        result={"engine": result.engine, "simulated": result.simulated, "outputs": result.outputs,
                "summary": result.summary, "lines": _apply_lines(result.summary, result.simulated)},
    )
    if ended is None:
        return "skipped"
    await deps.audit.record("applied", once=f"applied:{job_id}", request_id=status.request_id, job_id=job_id,
                            stack=request.stack, engine=result.engine, plan_hash=status.plan_hash,
                            approved_by=_approver(request), result="succeeded", **_where(request))
    return "applied"


async def _destroy(deps: Deps, status: JobStatus, ctx: dict[str, Any]) -> str:
    job_id = status.job_id

    async def start() -> bool:
        # Compare-and-set against a cancel from chat, as for an apply: only with the stack held does the
        # destroy start. A re-run of a destroy that had started finds it destroying and carries on.
        current = await deps.requests.get(status.request_id)
        if current is not None and current.status == Status.DESTROY_APPROVED:
            current = await deps.requests.transition(current.id, Status.DESTROY_APPROVED, Status.DESTROYING,
                                                     expect={"latest_job": job_id})
        return current is not None and current.status == Status.DESTROYING and current.latest_job == job_id

    result = await _change(deps, status, deps.engine.destroy, start)
    if isinstance(result, str):
        return result
    await deps.requests.transition(status.request_id, Status.DESTROYING, Status.DESTROYED, {"outputs": {}})
    removed = [resource_label(c.type, c.name) for c in result.removed]
    prefix = "Simulated destroy (offline engine, no cloud changes): " if result.simulated else ""
    ended = await _end(
        deps, job_id, phase=Phase.SUCCEEDED, message="Destroyed",
        result={"engine": result.engine, "simulated": result.simulated, "summary": result.summary,
                "lines": [f"{prefix}removed {len(removed)} resources."], "resource_lines": removed},
    )
    if ended is None:
        return "skipped"
    await deps.audit.record("destroyed", once=f"destroyed:{job_id}", request_id=status.request_id, job_id=job_id,
                            engine=result.engine, result="succeeded", removed=[c.model_dump() for c in result.removed],
                            **await _job_where(deps, status))
    return "destroyed"


destroy = _task("destroy", Phase.QUEUED, "Starting", _destroy)


def _approver(request: Request) -> str | None:
    return request.approvals[-1].user if request.approvals else None


def _apply_lines(summary: dict[str, int], simulated: bool) -> list[str]:
    counts = ", ".join(f"{n} {op}d" if op != "create" else f"{n} created" for op, n in summary.items() if n)
    prefix = "Simulated apply (offline engine, no cloud changes): " if simulated else "Applied: "
    return [prefix + (counts or "no changes")]
