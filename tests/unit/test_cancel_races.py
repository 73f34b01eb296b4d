"""`cancel` said while something else moves the request (core/requests.py), on fakes.

A plan that finishes between the cancel reading the request and moving it leaves the request just as
cancellable, so the cancel still happens. An approval that won is not overwritten: the user is told, and a
second `cancel` stops the apply before it starts.
"""

from __future__ import annotations

from typing import Any

from core.messages import IncomingMessage, ThreadRef
from core.policy import Policy
from core.request import Request, Status
from core.requests import RequestService
from tests.fakes import FakeAudit, FakeJobs, FakeQueue, FakeRequests, FakeStackOwners
from tests.unit.test_conversation_on_fakes import conversation

THREAD = ThreadRef("web", "local", "web", "t1")


class Racing(FakeRequests):
    """Before each of the first `times` moves, someone else moves the request as `meanwhile` says."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: list[tuple[Status, Status]] = []

    async def transition(self, request_id: str, source: Status, target: Status, changes: dict[str, Any] | None = None,
                         expect: dict[str, Any] | None = None) -> Request | None:
        if self.meanwhile:
            before, after = self.meanwhile.pop(0)
            moved = await super().transition(request_id, before, after)
            assert moved is not None, f"the race expected the request at {before}"
        return await super().transition(request_id, source, target, changes, expect)


def said(text: str, event: str) -> IncomingMessage:
    return IncomingMessage(thread=THREAD, user="ana", text=text, event_id=event)


async def planning() -> tuple[Any, Racing, Request]:
    requests = Racing()
    service = RequestService(requests, FakeJobs(), FakeQueue(), FakeAudit(), Policy(), "fake", FakeStackOwners())
    chat = conversation(requests=requests, request_service=service)
    await chat.handle_message(said("create a bucket for my app shop in dev", "e1"))
    (request,) = requests._all(lambda d: True)
    assert request.status == Status.PLANNING
    return chat, requests, request


async def test_a_plan_finishing_just_before_the_cancel_lands_does_not_stop_the_cancel() -> None:
    chat, requests, request = await planning()
    requests.meanwhile = [(Status.PLANNING, Status.AWAITING_APPROVAL)]
    replies = await chat.handle_message(said("cancel", "e2"))
    assert "cancelled" in replies[0].text.lower() and not replies[0].ephemeral
    assert (await requests.get(request.id)).status == Status.CANCELLED  # type: ignore[union-attr]


async def test_an_approval_that_won_is_not_overwritten_and_a_second_cancel_stops_it_before_it_starts() -> None:
    chat, requests, request = await planning()
    requests.meanwhile = [(Status.PLANNING, Status.AWAITING_APPROVAL), (Status.AWAITING_APPROVAL, Status.APPROVED)]
    replies = await chat.handle_message(said("cancel", "e2"))
    assert "approved a moment ago, so I didn't cancel it" in replies[0].text
    assert (await requests.get(request.id)).status == Status.APPROVED  # type: ignore[union-attr]
    replies = await chat.handle_message(said("cancel", "e3"))
    assert "before it started" in replies[0].text
    assert (await requests.get(request.id)).status == Status.CANCELLED  # type: ignore[union-attr]


async def test_a_request_that_keeps_moving_gets_an_answer_after_a_few_tries() -> None:
    chat, requests, request = await planning()
    # Planned, expired, planned again, expired again: always still cancellable, never settling.
    requests.meanwhile = [(Status.PLANNING, Status.AWAITING_APPROVAL), (Status.AWAITING_APPROVAL, Status.EXPIRED),
                          (Status.EXPIRED, Status.PLANNING), (Status.PLANNING, Status.AWAITING_APPROVAL)]
    replies = await chat.handle_message(said("cancel", "e2"))
    assert "changed a moment ago" in replies[0].text and replies[0].ephemeral
    assert (await requests.get(request.id)).status != Status.CANCELLED  # type: ignore[union-attr]
