"""Request lifecycle: create, revise, approve, cancel and destroy. Every step is durable first.

Statuses and the moves between them are in core/request.py; every move here is a compare-and-set
through `RequestStore.transition`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.dialog import Draft
from core.messages import Button, Reply, ThreadRef, mention
from core.policy import Policy
from core.ports import AuditLog, JobQueue, JobStore, RequestStore, StackOwners
from core.request import OPEN, REVISABLE, RUNNING, Approval, Request, Status, new_request_id, said
from core.spec import InfraSpec
from core.status import JobStatus, Phase

log = logging.getLogger("infrabot.flow")


@dataclass(frozen=True)
class Actor:
    thread: ThreadRef
    user: str
    roles: tuple[str, ...]
    event_key: str


def workspace_of(thread: ThreadRef) -> str:
    return f"{thread.platform}:{thread.workspace}"


def describe(spec: InfraSpec) -> str:
    parts = []
    for c in spec.components:
        count = f"{c.count}× " if c.count > 1 else ""
        size = f" ({c.size})" if c.size else ""
        parts.append(f"{count}{c.kind}{size}")
    return ", ".join(parts)


def button_ref(request_id: str, plan_hash: str | None = None) -> str:
    """What an Approve button carries: the request and, for a plan, the hash the press approves."""
    return f"{request_id}.{plan_hash}" if plan_hash else request_id


def parse_button_ref(ref: str) -> tuple[str, str | None]:
    request_id, _, plan_hash = ref.partition(".")
    return request_id, plan_hash or None


def plan_buttons(request_id: str, plan_hash: str | None = None) -> list[Button]:
    return [
        Button("approve", "Approve", button_ref(request_id, plan_hash), style="primary"),
        Button("cancel", "Cancel", request_id, style="danger"),
    ]


def authors_of(request: Request) -> list[str]:
    """The requester and whoever changed the spec since: none of them may be the second person."""
    return list(request.authors or [request.user])


class RequestFlow:
    def __init__(
        self,
        requests: RequestStore,
        jobs: JobStore,
        queue: JobQueue,
        audit: AuditLog,
        policy: Policy,
        engine_name: str,
        owners: StackOwners,
    ) -> None:
        self.owners = owners
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
        return Reply(f"The app name *{spec.app}* is already used by another team on this infrabot "
                     f"(stack `{spec.stack_name}`). Please pick another name, e.g. `{spec.app}-2`.")

    async def _enqueue(self, kind: str, job_id: str, request: Request, **extra: Any) -> None:
        """Points the request at its newest job, records the job, then queues it; each step is idempotent."""
        status = JobStatus(
            job_id=job_id,
            kind=kind,
            request_id=request.id,
            thread=request.thread.as_dict(),
            phase=Phase.QUEUED,
            version=1,
            engine=self.engine_name,
            message="Waiting for a worker",
            spec=request.spec.model_dump(),
            revision=request.revision,
            **extra,
        )
        if request.latest_job != job_id:
            await self.requests.update(request.id, {"latest_job": job_id})
        await self.jobs.create(status)
        await self.queue.enqueue(kind, job_id)

    async def _refused(self, actor: Actor, action: str, reason: str, environment: str, **fields: Any) -> None:
        await self.audit.record("refused", action=action, user=actor.user, roles=list(actor.roles),
                                environment=environment, reason=reason, thread=actor.thread.as_dict(),
                                **fields)

    async def start(self, actor: Actor, draft: Draft, text: str) -> tuple[str | None, Reply]:
        spec = self.policy.fit(draft.to_spec(actor.user))
        refusal = self.policy.refuse("request", spec.environment, actor.user, actor.roles,
                                     actor.thread.platform) or self.policy.check_spec(spec)
        if refusal:
            await self._refused(actor, "request", refusal, spec.environment, stack=spec.stack_name)
            return None, Reply(f"I can't plan that: {refusal}.")
        taken = await self._taken(actor, spec)
        if taken:
            return None, taken
        fresh = Request.new(new_request_id(), actor.thread, actor.user, text, actor.event_key, spec)
        # A redelivered event finds the request its first delivery made, under that request's id.
        request, created = await self.requests.create(fresh)
        if created:
            await self.audit.record("requested", request_id=request.id, user=actor.user,
                                    stack=spec.stack_name, spec=spec.model_dump())
        if request.status == Status.PLANNING and request.revision == 1:
            await self._enqueue("plan", f"plan-{request.id}-1", request)
        note = draft.defaults_note()
        defaults = f" Using defaults: {note} (just say so to change them)." if note else ""
        return request.id, Reply(
            f"On it: planning {describe(spec)} for *{spec.app}* in {spec.environment} ({spec.region})."
            f"{defaults} The plan will appear here in a moment.",
            request_id=request.id,
        )

    async def revise(self, actor: Actor, request: Request, draft: Draft) -> Reply:
        spec = self.policy.fit(draft.to_spec(request.user))
        refusal = self.policy.refuse("request", spec.environment, actor.user, actor.roles,
                                     actor.thread.platform) or self.policy.check_spec(spec)
        if refusal:
            await self._refused(actor, "request", refusal, spec.environment, request_id=request.id,
                                stack=spec.stack_name)
            return Reply(f"I can't change it that way: {refusal}. The request stays as it was.",
                         request_id=request.id)
        taken = await self._taken(actor, spec)
        if taken:
            return taken
        if request.status not in REVISABLE:
            return await self._not_revised(request)
        revision = request.revision + 1
        authors = authors_of(request)
        if actor.user not in authors and spec.fingerprint() != request.spec.fingerprint():
            authors.append(actor.user)
        changes = {
            "authors": authors,
            "spec": spec,
            "stack": spec.stack_name,
            "revision": revision,
            "plan": None,
            "approved_plan_hash": None,
            "shown_plan_hash": None,
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
        await self.audit.record("revised", request_id=request.id, user=actor.user, revision=revision,
                                spec=spec.model_dump())
        await self._supersede(moved)
        await self._enqueue("plan", f"plan-{moved.id}-{revision}", moved)
        return Reply(
            f"Updated: {describe(spec)} for *{spec.app}* in {spec.environment} ({spec.region}, size "
            f"{spec.size}). Any earlier approval no longer applies; re-planning now.",
            request_id=request.id,
        )

    async def _not_revised(self, request: Request) -> Reply:
        current = await self.requests.get(request.id)
        if current is not None and current.status in REVISABLE:
            return Reply("Someone changed this request a moment ago, so I left it as it is; check the latest "
                         "plan and tell me the change again if it is still needed.", request_id=request.id)
        return Reply("The plan was approved a moment ago, so I left the request as it is; check the "
                     "latest status card.", request_id=request.id)

    async def _supersede(self, request: Request) -> None:
        """A plan waiting for approval is void once the request changes."""
        old = await self.jobs.get(f"plan-{request.id}-{request.revision - 1}")
        if old and old.phase in (Phase.AWAITING_APPROVAL, Phase.QUEUED):
            await self.jobs.update(old.job_id, phase=Phase.CANCELLED, message="Superseded by a newer plan")

    async def replan(self, actor: Actor, request: Request) -> Reply:
        if request.status in RUNNING:
            return Reply("A change is running right now; I'll show the result when it is done.")
        return await self.revise(actor, request, Draft.from_spec(request.spec))

    async def approve(self, actor: Actor, request: Request | None, plan_hash: str | None = None) -> Reply:
        """`plan_hash` comes from an Approve button: such a press approves that plan and nothing else."""
        if request is None:
            return Reply("There's no plan waiting for approval here. Tell me what you need first.")
        status = request.status
        if status in RUNNING:
            await self._requeue_lost(request)
        if plan_hash is not None:
            stale = await self._stale_button(actor, request, plan_hash)
            if stale:
                return stale
        if status == Status.PLANNING:
            return Reply("The plan is still being prepared; approve it once it appears.", ephemeral=True)
        if status in RUNNING:
            return Reply("That change is already running.", ephemeral=True)
        if status == Status.APPLIED:
            return Reply(f"*{request.stack}* is already built as planned; there's nothing to approve. "
                         "Tell me a change and I'll plan it.", request_id=request.id)
        if status not in (Status.AWAITING_APPROVAL, Status.DESTROY_REQUESTED):
            return Reply(f"There's nothing to approve: that request is {said(status)}.")
        spec = request.spec
        destroying = status == Status.DESTROY_REQUESTED
        action = "destroy" if destroying else "apply"
        if destroying:
            authors = [request.destroy_requested_by or request.user]
        else:
            authors = authors_of(request)
        refusal = self.policy.refuse_approval(action, spec.environment, actor.user, actor.roles, authors,
                                              actor.thread.platform)
        if refusal is None and not destroying:
            # The rules may have changed since planning; an approval never bypasses today's guardrails.
            refusal = self.policy.check_spec(spec)
        if refusal:
            await self._refused(actor, "approve_destroy" if destroying else "approve", refusal,
                                spec.environment, request_id=request.id, requested_by=request.user,
                                plan_hash=request.plan_hash)
            return Reply(f"Sorry, {refusal}. Nothing was changed.", ephemeral=True, request_id=request.id)
        if destroying:
            return await self._start_destroy(actor, request)
        plan_hash = request.plan_hash or ""
        approval = Approval(user=actor.user, plan_hash=plan_hash, ts=datetime.now(UTC),
                            thread=actor.thread.as_dict())
        approved = await self.requests.transition(request.id, Status.AWAITING_APPROVAL, Status.APPROVED, {
            "approved_plan_hash": plan_hash,
            "approvals": [*request.approvals, approval],
        }, expect={"plan.hash": plan_hash})
        if approved is None:
            return Reply("That plan changed or was approved a moment ago; check the latest status card.",
                         ephemeral=True, request_id=request.id)
        await self.audit.record("approved", request_id=request.id, user=actor.user, plan_hash=plan_hash,
                                requested_by=request.user, engine=request.plan.engine if request.plan else None)
        await self._enqueue("apply", f"apply-{request.id}-{plan_hash}", approved, plan_hash=plan_hash)
        return Reply(f"Approved by {mention(actor.user)}. Applying now; the status card follows along.",
                     request_id=request.id)

    async def _requeue_lost(self, request: Request) -> None:
        """A process that died between winning an approval and queueing its job left the request running
        with no job; the retried approval queues it (every step of `_enqueue` is idempotent)."""
        if request.status == Status.DESTROYING:
            kind, job_id, extra = "destroy", f"destroy-{request.id}", {}
        elif request.approved_plan_hash:
            plan_hash = request.approved_plan_hash
            kind, job_id, extra = "apply", f"apply-{request.id}-{plan_hash}", {"plan_hash": plan_hash}
        else:
            return
        if await self.jobs.get(job_id) is None:
            log.warning("request %s was approved but its %s job was never queued; queueing it", request.id,
                        kind)
            await self._enqueue(kind, job_id, request, **extra)

    async def _stale_button(self, actor: Actor, request: Request, plan_hash: str) -> Reply | None:
        current = request.plan_hash
        if request.status == Status.AWAITING_APPROVAL and current == plan_hash:
            return None
        if request.status in (Status.APPROVED, Status.APPLYING, Status.APPLIED) \
                and request.approved_plan_hash == plan_hash:
            return Reply("That plan is already approved.", ephemeral=True, request_id=request.id)
        if request.status in (Status.CANCELLED, Status.DESTROYED):
            # Its plan may be the latest one; what stops it is the request's own fate, so say that.
            await self._refused(actor, "approve", f"the request is {request.status}",
                                request.spec.environment, request_id=request.id, plan_hash=plan_hash)
            return Reply(f"That request for *{request.stack}* was {request.status}, so nothing was "
                         "applied. Tell me what you need to start a new one.",
                         ephemeral=True, request_id=request.id)
        reason = "the Approve button belongs to an older plan"
        await self._refused(actor, "approve", reason, request.spec.environment,
                            request_id=request.id, plan_hash=plan_hash, current_plan_hash=current,
                            requested_by=request.user)
        return Reply(
            "That Approve button is for an older plan of this request, so nothing was applied. "
            "Check the latest plan and approve that one.",
            ephemeral=True, request_id=request.id,
        )

    async def cancel(self, actor: Actor, request: Request | None) -> Reply:
        if request is None or request.status not in (*OPEN, Status.DESTROY_REQUESTED):
            return Reply("There's nothing pending to cancel here.")
        was_destroy = request.status == Status.DESTROY_REQUESTED
        owner = request.destroy_requested_by if was_destroy else None
        if actor.user not in (request.user, owner):
            refusal = self.policy.refuse("approve", request.spec.environment, actor.user, actor.roles,
                                         actor.thread.platform)
            if refusal:
                await self._refused(actor, "cancel", refusal, request.spec.environment, request_id=request.id)
                return Reply(f"Sorry, {refusal}; only the requester or an approver can cancel.", ephemeral=True)
        # Compare-and-set: an approval that won a moment ago must not be overwritten by this cancel.
        target = Status.APPLIED if was_destroy else Status.CANCELLED
        if await self.requests.transition(request.id, request.status, target) is None:
            return Reply("That request changed a moment ago (approved or cancelled); check the latest status "
                         "card.", ephemeral=True, request_id=request.id)
        await self.audit.record("cancelled", request_id=request.id, user=actor.user)
        job = await self.jobs.get(f"plan-{request.id}-{request.revision}")
        if job and job.phase in (Phase.QUEUED, Phase.RUNNING, Phase.AWAITING_APPROVAL) and not was_destroy:
            await self.jobs.update(job.job_id, phase=Phase.CANCELLED, message=f"Cancelled by {mention(actor.user)}")
        what = "The destroy request is" if was_destroy else "Request"
        return Reply(f"{what} cancelled. Nothing was changed.", request_id=request.id)

    async def request_destroy(self, actor: Actor, request: Request) -> Reply:
        spec = request.spec
        refusal = self.policy.refuse("destroy", spec.environment, actor.user, actor.roles,
                                     actor.thread.platform)
        if refusal:
            await self._refused(actor, "destroy", refusal, spec.environment, request_id=request.id,
                                stack=spec.stack_name)
            return Reply(f"Sorry, {refusal}. *{spec.stack_name}* stays as it is.", request_id=request.id)
        if self.policy.needs_second_person(spec.environment):
            moved = await self.requests.transition(request.id, request.status, Status.DESTROY_REQUESTED,
                                                   {"destroy_requested_by": actor.user})
            if moved is None:
                return Reply(f"*{spec.stack_name}* changed a moment ago; check the latest status card.",
                             request_id=request.id)
            await self.audit.record("destroy_requested", request_id=request.id, user=actor.user)
            return Reply(
                f"Destroying *{spec.stack_name}* ({spec.environment}) needs approval from someone else. "
                "An approver can press Approve (or say `apply` here).",
                request_id=request.id, buttons=plan_buttons(request.id),
            )
        return await self._start_destroy(actor, request)

    async def _start_destroy(self, actor: Actor, request: Request) -> Reply:
        # Compare-and-set: of two approvers pressing at once, one starts the destroy and one is told.
        moved = await self.requests.transition(request.id, request.status, Status.DESTROYING)
        if moved is None:
            return Reply(f"The destroy of *{request.stack}* was started or cancelled a moment ago.",
                         ephemeral=True, request_id=request.id)
        await self.audit.record("destroy_approved", request_id=request.id, user=actor.user,
                                stack=request.stack)
        await self._enqueue("destroy", f"destroy-{request.id}", moved)
        return Reply(f"Destroying *{request.stack}* now; the status card follows along.",
                     request_id=request.id)
