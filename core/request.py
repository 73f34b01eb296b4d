"""The request lifecycle in one place: the typed Request, its statuses and every allowed move between them.

* planning -> awaiting_approval (the plan job stored its plan) or failed (planning failed).
* awaiting_approval -> approved (someone allowed to approve it said yes to this plan), expired (the plan
  outlived PLAN_TTL_SECONDS), or back to planning (a change, or `plan again`).
* approved -> applying (a worker took the apply job and its stack) -> applied or failed; approved ->
  cancelled while no worker has started it; applying -> planning when the
  engine found the approved plan out of date (a fresh plan is made, nothing was applied).
* Any open request (planning, awaiting_approval, approved, expired) -> superseded when another request
  applies on the same stack, cancelled when someone cancels it.
* applied -> destroy_requested (waiting for a second person) -> destroy_approved (queued; no worker has
  started it) -> destroying (a worker took the destroy job and its stack) -> destroyed. A cancelled destroy
  request, a destroy cancelled before it started, or a failed destroy goes back to applied.

A thread's draft lives in its short-lived context until it is complete; a stored request starts at
planning. Every move is one compare-and-set in the store (`RequestStore.transition`), checked against
TRANSITIONS first, so two processes racing over one request cannot both win and no code path can make
a move this table does not allow.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.job import JobStatus, Phase
from core.messages import ThreadRef
from core.plan import PlanResult
from core.spec import InfraSpec


class Status(StrEnum):
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    DESTROY_REQUESTED = "destroy_requested"
    DESTROY_APPROVED = "destroy_approved"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"


DEFAULT_PLAN_TTL_SECONDS = 24 * 3600

S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    # planning -> planning is a revision: a new plan job replaces the running one.
    S.PLANNING: frozenset({S.PLANNING, S.AWAITING_APPROVAL, S.FAILED, S.CANCELLED, S.SUPERSEDED}),
    S.AWAITING_APPROVAL: frozenset({S.PLANNING, S.APPROVED, S.CANCELLED, S.SUPERSEDED, S.EXPIRED}),
    # approved -> cancelled: a queued apply (no worker has started it) can still be called off.
    S.APPROVED: frozenset({S.APPLYING, S.FAILED, S.SUPERSEDED, S.CANCELLED}),
    # applying -> planning: the engine found the approved plan out of date, so a fresh one is made.
    S.APPLYING: frozenset({S.APPLIED, S.FAILED, S.PLANNING}),
    S.APPLIED: frozenset({S.DESTROY_REQUESTED, S.DESTROY_APPROVED}),
    S.DESTROY_REQUESTED: frozenset({S.DESTROY_APPROVED, S.APPLIED}),
    # Like approved for an apply: until a worker holds the stack, the destroy can still be called off.
    S.DESTROY_APPROVED: frozenset({S.DESTROYING, S.APPLIED}),
    # A failed destroy leaves the stack built.
    S.DESTROYING: frozenset({S.DESTROYED, S.APPLIED}),
    S.EXPIRED: frozenset({S.PLANNING, S.CANCELLED, S.SUPERSEDED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.SUPERSEDED: frozenset(),
    S.DESTROYED: frozenset(),
}

# Still being worked out: a change revises the request rather than starting a new one.
OPEN: frozenset[Status] = frozenset({S.PLANNING, S.AWAITING_APPROVAL})
REVISABLE: frozenset[Status] = OPEN | {S.EXPIRED}
# A worker is (or is about to be) changing the cloud.
RUNNING: frozenset[Status] = frozenset({S.APPROVED, S.APPLYING, S.DESTROY_APPROVED, S.DESTROYING})
BUSY: frozenset[Status] = RUNNING | {S.DESTROY_REQUESTED}
# The stack this request built is there.
LIVE: frozenset[Status] = frozenset({S.APPLIED, S.DESTROY_REQUESTED, S.DESTROY_APPROVED})
# Approved, but no worker has started it: a cancel still stops it.
QUEUED: frozenset[Status] = frozenset({S.APPROVED, S.DESTROY_APPROVED})
# A change to these starts a new request from their spec.
BUILT_ON: frozenset[Status] = frozenset({S.APPLIED, S.FAILED})
# Never ran and never will: nothing of theirs reached the cloud.
VOID: frozenset[Status] = frozenset({S.CANCELLED, S.SUPERSEDED, S.EXPIRED})
# Another request applying on the stack makes these stale.
SUPERSEDABLE: frozenset[Status] = frozenset({S.PLANNING, S.AWAITING_APPROVAL, S.APPROVED, S.EXPIRED})


class IllegalTransition(ValueError):
    """A code path tried a move TRANSITIONS does not allow: a bug, never a race."""


def check_transition(source: Status, target: Status) -> None:
    if target not in TRANSITIONS[source]:
        raise IllegalTransition(f"a request cannot go from {source} to {target}")


def said(status: str) -> str:
    return status.replace("_", " ")


def new_request_id() -> str:
    """120 random bits: nothing a channel member can see (thread, event or message ids) leads to it."""
    return "r" + base64.b32encode(secrets.token_bytes(15)).decode().lower()


def new_destroy_id() -> str:
    return "d" + base64.b32encode(secrets.token_bytes(15)).decode().lower()


class StoredPlan(PlanResult):
    """The plan a request waits on, as the worker stored it; `hash` is what an approval binds to."""

    hash: str
    created_at: datetime | None = None
    job_id: str | None = None

    def to_result(self) -> PlanResult:
        return PlanResult(**self.model_dump(include=set(PlanResult.model_fields)))


class Approval(BaseModel):
    user: str
    plan_hash: str
    ts: datetime
    thread: dict[str, str] = Field(default_factory=dict)


class Request(BaseModel):
    """One request as stored; only the store creates and moves it (see TRANSITIONS)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    thread: ThreadRef
    thread_key: str
    user: str
    user_key: str
    text: str = ""
    event_key: str = ""
    spec: InfraSpec
    stack: str
    status: Status
    revision: int = 1
    approvals: list[Approval] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    latest_job: str | None = None
    plan: StoredPlan | None = None
    approved_plan_hash: str | None = None
    shown_plan_hash: str | None = None
    outputs: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    destroy_id: str | None = None
    destroy_requested_by: str | None = None
    superseded_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def new(cls, request_id: str, thread: ThreadRef, user: str, text: str, event_key: str,
            spec: InfraSpec) -> Request:
        return cls(
            _id=request_id, thread=thread, thread_key=thread.key(), user=user,
            user_key=f"{thread.platform}:{thread.workspace}:{user}", text=text, event_key=event_key,
            spec=spec, stack=spec.stack_name, status=S.PLANNING, authors=[user],
            latest_job=f"plan-{request_id}-1",
        )

    @property
    def plan_hash(self) -> str | None:
        return self.plan.hash if self.plan else None

    @property
    def simulated(self) -> bool:
        """An offline-engine request was only ever simulated: no answer may call it live."""
        return bool(self.plan and self.plan.simulated)

    def to_doc(self) -> dict[str, Any]:
        doc = self.model_dump(by_alias=True, exclude_none=False)
        doc["thread"] = self.thread.as_dict()
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Request:
        data = dict(doc)
        data["thread"] = ThreadRef.from_dict(data["thread"])
        return cls.model_validate(data)


def job_for(request: Request, kind: str, job_id: str, engine: str, **extra: Any) -> JobStatus:
    """The first durable record of a job that acts on `request` as it is now."""
    return JobStatus(
        job_id=job_id, kind=kind, request_id=request.id, thread=request.thread.as_dict(), phase=Phase.QUEUED,
        version=1, engine=engine, message=extra.pop("message", "Waiting for a worker"),
        spec=request.spec.model_dump(), revision=request.revision, **extra,
    )


def encode(value: Any) -> Any:
    """A field value as the store keeps it: models and thread refs as plain documents."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, ThreadRef):
        return value.as_dict()
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value
