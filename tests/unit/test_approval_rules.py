"""Who may approve what, and what an approval sets going: RequestService's rules on fakes of its ports.

The same paths run end to end on the real servers in tests/integration/test_change_safety.py; here each rule is
one small case, and the fakes are held to the real adapters by tests/integration/test_port_contracts.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.draft import Draft
from core.messages import ThreadRef
from core.policy import Policy
from core.request import Request, Status, StoredPlan
from core.requests import Actor, RequestService
from tests.fakes import FakeAudit, FakeEngine, FakeJobs, FakeQueue, FakeRequests, FakeStackOwners

THREAD = ThreadRef("slack", "T1", "C1", "100.1")
DEV = Draft(app="shop", environment="dev", components=[{"kind": "bucket", "count": 1, "size": None}])
PROD = Draft(app="shop", environment="prod", components=[{"kind": "bucket", "count": 1, "size": None}])


@dataclass
class Setup:
    policy: Policy = field(default_factory=Policy)
    requests: FakeRequests = field(default_factory=FakeRequests)
    jobs: FakeJobs = field(default_factory=FakeJobs)
    queue: FakeQueue = field(default_factory=FakeQueue)
    audit: FakeAudit = field(default_factory=FakeAudit)
    engine: FakeEngine = field(default_factory=FakeEngine)

    def __post_init__(self) -> None:
        self.request_service = RequestService(self.requests, self.jobs, self.queue, self.audit, self.policy,
                                              self.engine.name,
                                FakeStackOwners())

    async def planned(self, draft: Draft = DEV, user: str = "ana", event: str = "ev1") -> Request:
        """A request whose plan the worker stored, as jobs/worker/tasks.py stores it."""
        request_id, _ = await self.request_service.start(actor(user, event=event), draft, "a bucket for shop")
        assert request_id is not None
        request = await self.requests.get(request_id)
        assert request is not None

        async def quiet(done: int, total: int, message: str) -> None:
            return None

        result = await self.engine.preview(request.spec, quiet)
        stored = StoredPlan(**result.model_dump(), hash=result.plan_hash, created_at=datetime.now(UTC),
                            job_id=request.latest_job)
        moved = await self.requests.transition(request_id, Status.PLANNING, Status.AWAITING_APPROVAL,
                                               {"plan": stored})
        assert moved is not None
        return moved

    def applies(self) -> list[str]:
        return [job_id for task, job_id in self.queue.jobs if task == "apply"]


def actor(user: str, thread: ThreadRef = THREAD, event: str = "click") -> Actor:
    return Actor(thread=thread, user=user, roles=(), event_key=event)


async def test_a_request_is_stored_and_its_plan_queued_once_per_event() -> None:
    s = Setup()
    first, reply = await s.request_service.start(actor("ana", event="ev1"), DEV, "a bucket for shop")
    again, _ = await s.request_service.start(actor("ana", event="ev1"), DEV, "a bucket for shop")
    assert first is not None and again == first
    assert reply.request_id == first and "shop" in reply.text
    assert s.queue.jobs == [("plan", f"plan-{first}-1")]
    assert [r["event"] for r in s.audit.records] == ["requested"]
    stored = await s.requests.get(first)
    assert stored is not None and stored.status == Status.PLANNING


async def test_approving_the_plan_shown_queues_exactly_that_plan() -> None:
    s = Setup()
    request = await s.planned()
    reply = await s.request_service.approve(actor("ana"), request, request.plan_hash)
    assert "Approved" in reply.text
    approved = await s.requests.get(request.id)
    assert approved is not None and approved.status == Status.APPROVED
    assert approved.approved_plan_hash == request.plan_hash and [a.user for a in approved.approvals] == ["ana"]
    assert s.applies() == [f"apply-{request.id}-{request.plan_hash}"]
    # A second press (the platform's redelivery, or a double click) applies nothing more.
    second = await s.request_service.approve(actor("ana", event="click-2"), approved, request.plan_hash)
    assert "already approved" in second.text and len(s.applies()) == 1


async def test_an_approve_button_for_an_older_plan_applies_nothing() -> None:
    s = Setup()
    request = await s.planned()
    reply = await s.request_service.approve(actor("ana"), request, "0123456789abcdef")
    assert "older plan" in reply.text and reply.ephemeral
    assert s.applies() == []
    assert (await s.requests.get(request.id)).status == Status.AWAITING_APPROVAL  # type: ignore[union-attr]
    [refusal] = await s.audit.list(event="refused")
    assert refusal["current_plan_hash"] == request.plan_hash


async def test_an_approval_from_another_thread_or_workspace_changes_nothing() -> None:
    s = Setup()
    request = await s.planned()
    for place in (ThreadRef("slack", "T1", "C1", "999.9"), ThreadRef("slack", "T2", "C1", "100.1"),
                  ThreadRef("discord", "T1", "C1", "100.1")):
        reply = await s.request_service.approve(actor("bo", thread=place), request, request.plan_hash)
        assert "another conversation" in reply.text
    assert s.applies() == []
    assert len(await s.audit.list(event="refused")) == 3


async def test_in_prod_the_requester_cannot_be_the_second_person() -> None:
    s = Setup(policy=Policy(approval_environments=("prod",)))
    request = await s.planned(PROD)
    reply = await s.request_service.approve(actor("ana"), request, request.plan_hash)
    assert "someone other than the requester" in reply.text
    assert s.applies() == []
    accepted = await s.request_service.approve(actor("bo"), request, request.plan_hash)
    assert "Approved" in accepted.text and len(s.applies()) == 1


async def test_a_plan_still_being_prepared_cannot_be_approved() -> None:
    s = Setup()
    request_id, _ = await s.request_service.start(actor("ana"), DEV, "a bucket for shop")
    request = await s.requests.get(request_id or "")
    reply = await s.request_service.approve(actor("ana"), request, None)
    assert "still being prepared" in reply.text and s.applies() == []
