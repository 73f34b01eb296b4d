"""Request lifecycle: create, revise, approve, cancel and destroy. Every step is durable first.

Statuses and the moves between them are in core/request.py; every move here is a compare-and-set
through `RequestStore.transition`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.draft import Draft
from core.job import Phase
from core.markup import Code, Inline, Mention, Strong, plain, say
from core.messages import Reply, ThreadRef, mention
from core.policy import Policy
from core.ports import AuditLog, CostEstimate, JobQueue, JobStore, RequestStore, StackOwners
from core.request import (
    DEFAULT_PLAN_TTL_SECONDS,
    QUEUED,
    REVISABLE,
    RUNNING,
    VOID,
    Approval,
    Request,
    Status,
    job_for,
    new_destroy_id,
    new_request_id,
    said,
)
from core.spec import InfraSpec, component_summary
from core.status_card import plan_buttons

log = logging.getLogger("infrabot.request_service")


@dataclass(frozen=True)
class Actor:
    thread: ThreadRef
    user: str
    roles: tuple[str, ...]
    event_key: str


def workspace_of(thread: ThreadRef) -> str:
    return f"{thread.platform}:{thread.workspace}"


def authors_of(request: Request) -> list[str]:
    """The requester and whoever changed the spec since: none of them may be the second person. Only the
    requester owns the plan, though: anyone else who approves it needs the `approve` permission."""
    return list(request.authors or [request.user])


def destroy_job(request: Request) -> str:
    """One job per destroy: a later destroy of the same stack (after a failed one) is a new job."""
    return f"destroy-{request.id}-{request.destroy_id}"


def where(actor: Actor) -> dict[str, Any]:
    """What every audit row names: who acted, and from which platform, workspace and thread."""
    t = actor.thread
    return {"platform": t.platform, "workspace": t.workspace, "thread": t.as_dict(), "user": actor.user}


class RequestService:
    def __init__(
        self,
        requests: RequestStore,
        jobs: JobStore,
        queue: JobQueue,
        audit: AuditLog,
        policy: Policy,
        engine_name: str,
        owners: StackOwners,
        estimate: CostEstimate | None = None,
        plan_ttl_seconds: float = DEFAULT_PLAN_TTL_SECONDS,
    ) -> None:
        self.owners = owners
        self.estimate = estimate
        self.plan_ttl = timedelta(seconds=plan_ttl_seconds)
        self.requests = requests
        self.jobs = jobs
        self.queue = queue
        self.audit = audit
        self.policy = policy
        self.engine_name = engine_name

    async def _taken(self, actor: Actor, spec: InfraSpec) -> Reply | None:
        """Two workspaces naming an app alike would otherwise share, and overwrite, one Pulumi stack."""
        holder = await self.owners.claim(spec.stack_name, workspace_of(actor.thread))
        if holder is None:
            return None
        await self._refused(actor, "request", "stack owned by another workspace", spec.environment,
                            stack=spec.stack_name, owner=holder)
        return Reply(say("The app name ", Strong(spec.app), " is already used by another team on this infrabot "
                         "(stack ", Code(spec.stack_name), "). Please pick another name, e.g. ",
                         Code(f"{spec.app}-2"), "."))

    async def _enqueue(self, kind: str, job_id: str, request: Request, **extra: Any) -> None:
        """Points the request at its newest job, records the job, then queues it; each step is idempotent."""
        status = job_for(request, kind, job_id, self.engine_name, **extra)
        if request.latest_job != job_id:
            await self.requests.update(request.id, {"latest_job": job_id})
        await self.jobs.create(status)
        await self.queue.enqueue(kind, job_id)

    async def _refused(
        self, actor: Actor, action: str, reason: str | Inline, environment: str, **fields: Any
    ) -> None:
        await self.audit.record("refused", action=action, roles=list(actor.roles), environment=environment,
                                reason=reason if isinstance(reason, str) else plain(reason), **where(actor), **fields)

    def _guard(self, spec: InfraSpec, monthly_cost_usd: float | None = None) -> Inline | None:
        """Today's guardrails, with the cost the plan estimated or, before planning, the price table's."""
        if monthly_cost_usd is None and self.estimate is not None:
            monthly_cost_usd = self.estimate(spec)
        return self.policy.check_spec(spec, monthly_cost_usd)

    async def _elsewhere(self, actor: Actor, request: Request, action: str) -> Reply | None:
        """A request is acted on only from its own thread (platform, workspace, channel and thread): a button,
        a forged web action or a typed word anywhere else changes nothing."""
        if actor.thread.key() == request.thread_key:
            return None
        await self._refused(actor, action, "acted on from outside the request's own thread",
                            request.spec.environment, request_id=request.id, request_thread=request.thread.as_dict())
        return Reply(say("That request belongs to another conversation, so I can only act on it there. Nothing was "
                     "changed."), ephemeral=True)

    async def start(self, actor: Actor, draft: Draft, text: str) -> tuple[str | None, Reply]:
        default_cloud = self.policy.default_cloud_for(draft.environment)
        spec = self.policy.fit(draft.to_spec(actor.user, default_cloud))
        refusal = self.policy.refuse("request", spec.environment, actor.user, actor.roles,
                                     actor.thread.platform, spec.cloud) or self._guard(spec)
        if refusal:
            await self._refused(actor, "request", refusal, spec.environment, stack=spec.stack_name)
            return None, Reply(say("I can't plan that: ", *refusal, "."))
        taken = await self._taken(actor, spec)
        if taken:
            return None, taken
        fresh = Request.new(new_request_id(), actor.thread, actor.user, text, actor.event_key, spec)
        # A redelivered event finds the request its first delivery made, under that request's id.
        request, created = await self.requests.create(fresh)
        # One write after another: the embedded store takes one writer at a time, so writes sent alongside
        # would only queue there, and each of these follows from the one before.
        if created:
            await self.audit.record("requested", request_id=request.id, stack=spec.stack_name,
                                    spec=spec.model_dump(), **where(actor))
        if request.status == Status.PLANNING and request.revision == 1:
            await self._enqueue("plan", f"plan-{request.id}-1", request)
        note = draft.defaults_note(default_cloud)
        defaults = f" Using defaults: {note} (just say so to change them)." if note else ""
        return request.id, Reply(
            say(f"On it: planning {component_summary(spec)} for ", Strong(spec.app),
                f" in {spec.environment} ({spec.location}).{defaults} The plan will appear here in a moment."),
            request_id=request.id,
        )

    async def revise(self, actor: Actor, request: Request, draft: Draft) -> Reply:
        elsewhere = await self._elsewhere(actor, request, "change")
        if elsewhere:
            return elsewhere
        spec = self.policy.fit(draft.to_spec(request.user, self.policy.default_cloud_for(draft.environment)))
        refusal = self.policy.refuse("request", spec.environment, actor.user, actor.roles,
                                     actor.thread.platform, spec.cloud) or self._guard(spec)
        if refusal:
            await self._refused(actor, "request", refusal, spec.environment, request_id=request.id,
                                stack=spec.stack_name)
            return Reply(say("I can't change it that way: ", *refusal, ". The request stays as it was."),
                         request_id=request.id)
        # A request's stack was claimed for its workspace when the request got that name; only a new name
        # needs asking about.
        taken = None if spec.stack_name == request.stack else await self._taken(actor, spec)
        if taken:
            return taken
        if request.status not in REVISABLE:
            return await self._not_revised(request)
        revision = request.revision + 1
        authors = authors_of(request)
        if actor.user not in authors and spec.fingerprint() != request.spec.fingerprint():
            authors.append(actor.user)
        job_id = f"plan-{request.id}-{revision}"
        changes = {
            "authors": authors,
            "spec": spec,
            "stack": spec.stack_name,
            "revision": revision,
            "plan": None,
            "approved_plan_hash": None,
            "shown_plan_hash": None,
            # Pointed at its job in the same write (as `create` does): a separate update would cost another
            # locked read-modify-write in the turn. `_enqueue` creates the job right after.
            "latest_job": job_id,
        }
        # Compare-and-set on the status (and revision) read: an Approve pressed meanwhile (a button, maybe in
        # another process) has started an apply of the old plan, which this change must not overwrite.
        # A plan finishing meanwhile is fine: the revision is unchanged and it is voided here.
        moved = await self.requests.transition(request.id, request.status, Status.PLANNING, changes,
                                               expect={"revision": request.revision})
        if moved is None and request.status == Status.PLANNING:
            current = await self.requests.get(request.id)
            if current is not None and current.status == Status.AWAITING_APPROVAL \
                    and current.revision == request.revision:
                moved = await self.requests.transition(request.id, Status.AWAITING_APPROVAL, Status.PLANNING,
                                                       changes, expect={"revision": request.revision})
        if moved is None:
            return await self._not_revised(request)
        await self.audit.record("revised", request_id=request.id, revision=revision, spec=spec.model_dump(),
                                **where(actor))
        await self._supersede(moved)
        await self._enqueue("plan", job_id, moved)
        return Reply(
            say(f"Updated: {component_summary(spec)} for ", Strong(spec.app),
                f" in {spec.environment} ({spec.location}, size {spec.size}). Any earlier approval no longer "
                "applies; re-planning now."),
            request_id=request.id,
        )

    async def _not_revised(self, request: Request) -> Reply:
        current = await self.requests.get(request.id)
        if current is not None and current.status in REVISABLE:
            return Reply(say("Someone changed this request a moment ago, so I left it as it is; check the latest "
                         "plan and tell me the change again if it is still needed."), request_id=request.id)
        return Reply(say("The plan was approved a moment ago, so I left the request as it is; check the "
                     "latest status card."), request_id=request.id)

    async def _supersede(self, request: Request) -> None:
        """A plan waiting for approval is void once the request changes."""
        old = await self.jobs.get(f"plan-{request.id}-{request.revision - 1}")
        if old and old.phase in (Phase.AWAITING_APPROVAL, Phase.QUEUED):
            await self.jobs.update(old.job_id, phase=Phase.CANCELLED, message="Superseded by a newer plan")

    async def replan(self, actor: Actor, request: Request) -> Reply:
        if request.status in RUNNING:
            return Reply(say("A change is running right now; I'll show the result when it is done."))
        return await self.revise(actor, request, Draft.from_spec(request.spec))

    async def approve(
        self, actor: Actor, request: Request | None, bound: str | None, *, typed: bool = False
    ) -> Reply:
        """Approves exactly what `bound` names: a plan hash (from the Approve button pressed, or the plan last
        shown in the thread for a typed `apply`) or, for a pending destroy, its destroy id."""
        if request is None:
            return Reply(say("There's no plan waiting for approval here. Tell me what you need first."))
        elsewhere = await self._elsewhere(actor, request, "approve")
        if elsewhere:
            return elsewhere
        status = request.status
        if status in RUNNING:
            await self._requeue_lost(request)
        stale = await self._stale(actor, request, bound, typed)
        if stale:
            return stale
        if status == Status.PLANNING:
            return Reply(say("The plan is still being prepared; approve it once it appears."), ephemeral=True)
        if status in RUNNING:
            return Reply(say("That change is already running."), ephemeral=True)
        if status == Status.APPLIED:
            return Reply(say(Strong(request.stack), " is already built as planned; there's nothing to approve. "
                             "Tell me a change and I'll plan it."), request_id=request.id)
        if status not in (Status.AWAITING_APPROVAL, Status.DESTROY_REQUESTED):
            return Reply(say(f"There's nothing to approve: that request is {said(status)}."))
        spec = request.spec
        destroying = status == Status.DESTROY_REQUESTED
        action = "destroy" if destroying else "apply"
        if destroying:
            authors = [request.destroy_requested_by or request.user]
            owner = request.destroy_requested_by or request.user
        else:
            authors, owner = authors_of(request), request.user
        refusal = self.policy.refuse_approval(action, spec.environment, actor.user, actor.roles, authors,
                                              actor.thread.platform, owner=owner, cloud=spec.cloud)
        if refusal is None and not destroying:
            # The rules may have changed since planning; an approval never bypasses today's guardrails.
            refusal = self._guard(spec, request.plan.monthly_cost_usd if request.plan else None)
        if refusal:
            await self._refused(actor, "approve_destroy" if destroying else "approve", refusal,
                                spec.environment, request_id=request.id, requested_by=request.user,
                                plan_hash=request.plan_hash)
            return Reply(say("Sorry, ", *refusal, ". Nothing was changed."), ephemeral=True,
                         request_id=request.id)
        if destroying:
            return await self._start_destroy(actor, request)
        unfit = await self._unfit_plan(actor, request)
        if unfit:
            return unfit
        plan_hash = request.plan_hash or ""
        approval = Approval(user=actor.user, plan_hash=plan_hash, ts=datetime.now(UTC),
                            thread=actor.thread.as_dict())
        job_id = f"apply-{request.id}-{plan_hash}"
        await self._record_first("apply", job_id, request, plan_hash=plan_hash)
        approved = await self.requests.transition(request.id, Status.AWAITING_APPROVAL, Status.APPROVED, {
            "approved_plan_hash": plan_hash,
            "approvals": [*request.approvals, approval],
            "latest_job": job_id,
        }, expect={"plan.hash": plan_hash})
        if approved is None:
            return Reply(say("That plan changed or was approved a moment ago; check the latest status card."),
                         ephemeral=True, request_id=request.id)
        await self.audit.record("approved", request_id=request.id, plan_hash=plan_hash, requested_by=request.user,
                                engine=request.plan.engine if request.plan else None, **where(actor))
        await self._enqueue("apply", job_id, approved, plan_hash=plan_hash)
        return Reply(say("Approved by ", Mention(actor.user), ". Applying now; the status card follows along."),
                     request_id=request.id)

    async def _unfit_plan(self, actor: Actor, request: Request) -> Reply | None:
        """A plan is approvable only while it describes the request's current spec, is the newest plan for its
        stack, and is younger than PLAN_TTL_SECONDS."""
        plan = request.plan
        assert plan is not None, "a request awaiting approval has a plan"
        env = request.spec.environment
        if plan.spec_fingerprint and plan.spec_fingerprint != request.spec.fingerprint():
            await self._refused(actor, "approve", "the plan was made for another spec", env,
                                request_id=request.id, plan_hash=plan.hash)
            return Reply(say("That plan doesn't match the request as it stands now, so nothing was applied. Say ",
                             Code("plan again"), " for a fresh one."), ephemeral=True, request_id=request.id)
        newer = await self._newer_plan(request)
        if newer is not None:
            await self._refused(actor, "approve", "a newer plan exists for the stack", env, request_id=request.id,
                                plan_hash=plan.hash, newer_request=newer.id)
            return Reply(say("There's a newer plan for ", Strong(request.stack),
                             " than this one (from another request), so nothing was applied. Say ",
                             Code("plan again"), " here for a fresh plan if this one is still wanted."),
                         ephemeral=True, request_id=request.id)
        made = plan.created_at
        if made is not None and datetime.now(UTC) - made > self.plan_ttl:
            await self._refused(actor, "approve", "the plan expired", env, request_id=request.id,
                                plan_hash=plan.hash, planned_at=made)
            await self.requests.transition(request.id, Status.AWAITING_APPROVAL, Status.EXPIRED,
                                           expect={"plan.hash": plan.hash})
            hours = self.plan_ttl.total_seconds() / 3600
            return Reply(say(f"That plan is more than {hours:g} hours old, so it has expired and nothing was "
                             "applied. Say ", Code("plan again"), " for a fresh one."), request_id=request.id)
        return None

    async def _newer_plan(self, request: Request) -> Request | None:
        """Another request on the stack whose plan was made after this one's (and was not voided)."""
        made = request.plan.created_at if request.plan else None
        if made is None:
            return None
        for other in await self.requests.on_stack(request.stack, set(Status) - VOID - {Status.PLANNING}):
            theirs = other.plan.created_at if other.plan else None
            if other.id != request.id and theirs is not None and theirs > made:
                return other
        return None

    async def _record_first(self, kind: str, job_id: str, request: Request, **extra: Any) -> None:
        """Records an approval's job before the request is moved to point at it. A process that dies between
        the two (killed mid-turn, after the platform was told it has the event) then leaves an open job, which
        the workers' reconciler queues: it runs if the approval was recorded, and ends as no longer needed if
        not. The other way round, the request would wait for a job nobody knows of."""
        await self.jobs.create(job_for(request, kind, job_id, self.engine_name, **extra))

    async def _requeue_lost(self, request: Request) -> None:
        """A process that died between winning an approval and queueing its job left the request running
        with no job; the retried approval queues it (every step of `_enqueue` is idempotent)."""
        if request.status in (Status.DESTROY_APPROVED, Status.DESTROYING):
            kind, job_id, extra = "destroy", destroy_job(request), {}
        elif request.approved_plan_hash:
            plan_hash = request.approved_plan_hash
            kind, job_id, extra = "apply", f"apply-{request.id}-{plan_hash}", {"plan_hash": plan_hash}
        else:
            return
        if await self.jobs.get(job_id) is None:
            log.warning("request %s was approved but its %s job was never queued; queueing it", request.id,
                        kind)
            await self._enqueue(kind, job_id, request, **extra)

    async def _stale(self, actor: Actor, request: Request, bound: str | None, typed: bool) -> Reply | None:
        """None when `bound` names what the request waits on now; otherwise the reason why not, audited."""
        env = request.spec.environment
        status = request.status
        current = request.destroy_id if status == Status.DESTROY_REQUESTED else request.plan_hash
        waiting = status in (Status.AWAITING_APPROVAL, Status.DESTROY_REQUESTED)
        if waiting and bound is not None and bound == current:
            return None
        if status == Status.PLANNING and bound is None:
            return None  # approve() says the plan is still being prepared
        if status in (Status.APPROVED, Status.APPLYING, Status.APPLIED) and request.approved_plan_hash == bound:
            return Reply(say("That plan is already approved."), ephemeral=True, request_id=request.id)
        if status in (Status.DESTROY_APPROVED, Status.DESTROYING, Status.DESTROYED) and bound is not None \
                and bound == request.destroy_id:
            return Reply(say("That destroy is already approved."), ephemeral=True, request_id=request.id)
        if status in (Status.CANCELLED, Status.DESTROYED, Status.SUPERSEDED, Status.EXPIRED):
            # Its plan may be the latest one; what stops it is the request's own fate, so say that.
            await self._refused(actor, "approve", f"the request is {status}", env, request_id=request.id,
                                plan_hash=bound)
            why: tuple[str | Code, ...] = {
                Status.SUPERSEDED: ("was superseded: a newer request for the same stack was applied",),
                Status.EXPIRED: ("has expired: its plan is too old to approve (say ", Code("plan again"),
                                 " for a fresh one)"),
            }.get(status, (f"was {status}",))
            return Reply(say("There's nothing to approve: that request for ", Strong(request.stack),
                              " ", *why, ", so nothing was applied."), ephemeral=True, request_id=request.id)
        if not waiting and status != Status.PLANNING:
            return None  # running or applied: approve() answers those
        if typed and bound is None:
            await self._refused(actor, "approve", "no plan was shown in this thread yet", env,
                                request_id=request.id, current_plan_hash=current)
            return Reply(say("The plan hasn't been shown here yet; say ", Code("apply"), " once you have seen it."),
                         ephemeral=True, request_id=request.id)
        reason = "the approval names another destroy" if status == Status.DESTROY_REQUESTED \
            else "the Approve button belongs to an older plan" if not typed else "the approval names an older plan"
        await self._refused(actor, "approve", reason, env, request_id=request.id, plan_hash=bound,
                            current_plan_hash=current, requested_by=request.user)
        if typed:
            return Reply(say("The plan changed since the one shown here, so nothing was applied. Check the newest "
                             "plan above and say ", Code("apply"), " again."), ephemeral=True, request_id=request.id)
        return Reply(
            say("That Approve button is for an older plan of this request, so nothing was applied. "
                "Check the latest plan and approve that one."),
            ephemeral=True, request_id=request.id,
        )

    async def cancel(self, actor: Actor, request: Request | None) -> Reply:
        # A plan that finishes (or expires) between reading the request and moving it leaves it just as
        # cancellable: the cancel is tried again on what it has become. An approval or a worker that won is not.
        outcome = await self._cancel_once(actor, request)
        for _ in range(_CANCEL_TRIES - 1):
            if not isinstance(outcome, Request):
                return outcome
            outcome = await self._cancel_once(actor, outcome)
        return outcome if not isinstance(outcome, Request) else _changed_meanwhile(outcome)

    async def _cancel_once(self, actor: Actor, request: Request | None) -> Reply | Request:
        """The reply, or the request as it now is when it moved on but this cancel still applies to it."""
        elsewhere = await self._elsewhere(actor, request, "cancel") if request else None
        if elsewhere:
            return elsewhere
        if request is not None and request.status in (Status.APPLYING, Status.DESTROYING):
            return _too_late(request)
        if request is None or request.status not in (*REVISABLE, Status.DESTROY_REQUESTED, *QUEUED):
            return Reply(say("There's nothing pending to cancel here."))
        was_destroy = request.status in (Status.DESTROY_REQUESTED, Status.DESTROY_APPROVED)
        owner = request.destroy_requested_by if was_destroy else None
        if actor.user not in (request.user, owner):
            refusal = self.policy.refuse("approve", request.spec.environment, actor.user, actor.roles,
                                         actor.thread.platform, request.spec.cloud)
            if refusal:
                await self._refused(actor, "cancel", refusal, request.spec.environment, request_id=request.id)
                return Reply(say("Sorry, ", *refusal, "; only the requester or an approver can cancel."),
                             ephemeral=True)
        # Compare-and-set: an approval, or a worker starting the change, that won a moment ago must not be
        # overwritten by this cancel.
        target = Status.APPLIED if was_destroy else Status.CANCELLED
        if await self.requests.transition(request.id, request.status, target) is None:
            now = await self.requests.get(request.id)
            if now is not None and now.status in (Status.APPLYING, Status.DESTROYING):
                return _too_late(now)
            if now is not None and request.status in REVISABLE and now.status in REVISABLE:
                return now
            return _changed_meanwhile(now or request)
        await self.audit.record("cancelled", request_id=request.id, **where(actor))
        if request.status in QUEUED and request.latest_job:
            # Approved but not started (waiting for a worker or a busy stack): the worker's start is a
            # compare-and-set from the approved state, so it finds the request moved on and changes nothing.
            await self.jobs.update_open(request.latest_job, phase=Phase.CANCELLED,
                                        message=f"Cancelled by {mention(actor.user)} before it started")
            if was_destroy:
                return Reply(say("Cancelled the destroy of ", Strong(request.stack),
                                 " before it started. Nothing was removed; it stays as it is."), request_id=request.id)
            return Reply(say("Cancelled the apply of ", Strong(request.stack),
                             " before it started. Nothing was changed."), request_id=request.id)
        job = await self.jobs.get(f"plan-{request.id}-{request.revision}")
        if job and job.phase in (Phase.QUEUED, Phase.RUNNING, Phase.AWAITING_APPROVAL) and not was_destroy:
            await self.jobs.update(job.job_id, phase=Phase.CANCELLED, message=f"Cancelled by {mention(actor.user)}")
        what = "The destroy request is" if was_destroy else "Request"
        return Reply(say(f"{what} cancelled. Nothing was changed."), request_id=request.id)

    async def request_destroy(self, actor: Actor, request: Request) -> Reply:
        elsewhere = await self._elsewhere(actor, request, "destroy")
        if elsewhere:
            return elsewhere
        spec = request.spec
        refusal = self.policy.refuse("destroy", spec.environment, actor.user, actor.roles,
                                     actor.thread.platform, spec.cloud)
        if refusal:
            await self._refused(actor, "destroy", refusal, spec.environment, request_id=request.id,
                                stack=spec.stack_name)
            return Reply(say("Sorry, ", *refusal, ". ", Strong(spec.stack_name), " stays as it is."),
                         request_id=request.id)
        if request.status != Status.APPLIED:
            return Reply(say(Strong(spec.stack_name), f" is {said(request.status)} already; the status card follows "
                             "it. Say ", Code("cancel"), " to call off a destroy that has not started yet."),
                         request_id=request.id)
        # Its own id, carried by its Approve button: a button from an earlier destroy request never starts this one.
        destroy_id = new_destroy_id()
        if self.policy.needs_second_person(spec.environment):
            moved = await self.requests.transition(request.id, request.status, Status.DESTROY_REQUESTED,
                                                   {"destroy_requested_by": actor.user, "destroy_id": destroy_id})
            if moved is None:
                return Reply(say(Strong(spec.stack_name), " changed a moment ago; check the latest status card."),
                             request_id=request.id)
            await self.audit.record("destroy_requested", request_id=request.id, destroy_id=destroy_id,
                                    **where(actor))
            return Reply(
                say("Destroying ", Strong(spec.stack_name), f" ({spec.environment}) needs approval from someone "
                    "else. An approver can press Approve (or say ", Code("apply"), " here)."),
                request_id=request.id, buttons=plan_buttons(request.id, destroy_id),
            )
        return await self._start_destroy(actor, request, destroy_id)

    async def _start_destroy(self, actor: Actor, request: Request, destroy_id: str | None = None) -> Reply:
        # Compare-and-set: of two approvers pressing at once, one queues the destroy and one is told. A worker
        # moves it on to destroying only once it holds the stack; until then a cancel stops it.
        changes: dict[str, Any] = {"destroy_id": destroy_id, "destroy_requested_by": actor.user} if destroy_id else {}
        starting = request.model_copy(update=changes)
        await self._record_first("destroy", destroy_job(starting), starting)
        moved = await self.requests.transition(request.id, request.status, Status.DESTROY_APPROVED, changes,
                                               expect={"destroy_id": request.destroy_id})
        if moved is None:
            return Reply(say("The destroy of ", Strong(request.stack), " was started or cancelled a moment ago."),
                         ephemeral=True, request_id=request.id)
        await self.audit.record("destroy_approved", request_id=request.id, stack=request.stack,
                                destroy_id=moved.destroy_id, **where(actor))
        await self._enqueue("destroy", destroy_job(moved), moved)
        return Reply(say("Destroying ", Strong(request.stack), " now; the status card follows along. Until a worker "
                         "starts it, ", Code("cancel"), " here calls it off."), request_id=request.id)


_CANCEL_TRIES = 3


def _changed_meanwhile(request: Request) -> Reply:
    if request.status in QUEUED:
        return Reply(say("That request was approved a moment ago, so I didn't cancel it. Say ", Code("cancel"),
                         " again to stop it before it starts; the status card shows where it is."),
                     ephemeral=True, request_id=request.id)
    return Reply(say("That request changed a moment ago (it is ", said(request.status), " now); check the latest "
                     "status card."), ephemeral=True, request_id=request.id)


def _too_late(request: Request) -> Reply:
    """A worker has the stack (its lease is held) and the engine may be mid-change."""
    applying = request.status == Status.APPLYING
    after = (("then ", Code(f"destroy {request.stack}"), " removes what it built if you no longer want it")
             if applying else ("then ask to apply again if you want it back",))
    return Reply(
        say(f"That {'apply' if applying else 'destroy'} of ", Strong(request.stack),
            " is already running and can't be stopped halfway from chat: stopping Pulumi mid-change can leave "
            "resources half made. It ends on its own, and the status card shows the result; ", *after, "."),
        request_id=request.id,
    )
