"""The order of durable steps around a turn (core/chat_service.py), on fakes: claim once, store the words
before answering, and let the platform's retry through when a turn fails."""

from __future__ import annotations

from typing import Any

from core import texts
from core.chat_service import ChatService
from core.messages import ActionEvent, IncomingMessage, ThreadRef
from core.policy import Policy
from core.requests import RequestService
from core.understanding.model import Parsed
from core.understanding.parser import RuleParser
from tests.fakes import (
    FakeAudit,
    FakeContextStore,
    FakeEventGate,
    FakeHistory,
    FakeJobs,
    FakeQueue,
    FakeRequests,
    FakeStackOwners,
)

THREAD = ThreadRef("web", "local", "web", "t1")
ASK = "create a bucket for my app shop in dev"


class Broken:
    """A store or gate whose every call fails, the way one on a dead server would."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError(f"{name}: server gone")

        return fail


class BrokenPlanner:
    def parse(self, text: str) -> Parsed:
        raise RuntimeError("the parser hit a bug")


def conversation(**ports: Any) -> ChatService:
    requests = ports.pop("requests", FakeRequests())
    request_service = RequestService(requests, FakeJobs(), FakeQueue(), FakeAudit(), Policy(), "fake",
                                     FakeStackOwners())
    defaults: dict[str, Any] = dict(gate=FakeEventGate(), contexts=FakeContextStore(), history=FakeHistory(),
                                    requests=requests, request_service=request_service, planner=RuleParser())
    return ChatService(**(defaults | ports))


def said(text: str, event: str = "e1", user: str = "ana") -> IncomingMessage:
    return IncomingMessage(thread=THREAD, user=user, text=text, event_id=event)


async def test_a_redelivered_event_gets_no_second_answer_and_no_second_line() -> None:
    history = FakeHistory()
    chat = conversation(history=history)
    first = await chat.handle_message(said(ASK))
    assert first and first[0].request_id
    assert await chat.handle_message(said(ASK)) == []
    lines = await history.list(THREAD)
    assert [d["role"] for d in lines] == ["user", "bot"]
    assert lines[1]["meta"]["request_id"] == first[0].request_id


async def test_a_failed_turn_keeps_the_words_and_lets_the_retry_through() -> None:
    gate, history = FakeEventGate(), FakeHistory()
    chat = conversation(gate=gate, history=history, planner=BrokenPlanner())
    [reply] = await chat.handle_message(said(ASK))
    assert reply.body == texts.ERROR
    assert [d["text"] for d in await history.list(THREAD)] == [ASK]
    assert await gate.claim(said(ASK).event_key()), "the claim was released for the platform's retry"


async def test_with_the_history_store_down_the_reply_does_not_claim_it_was_saved() -> None:
    gate = FakeEventGate()
    chat = conversation(gate=gate, history=Broken())
    [reply] = await chat.handle_message(said(ASK))
    assert reply.body == texts.NOT_SAVED
    assert await gate.claim(said(ASK).event_key())


async def test_with_the_event_gate_down_the_user_still_gets_an_answer_and_the_words_are_kept() -> None:
    history = FakeHistory()
    chat = conversation(gate=Broken(), history=history)
    [reply] = await chat.handle_message(said(ASK))
    assert reply.body == texts.ERROR
    assert [d["text"] for d in await history.list(THREAD)] == [ASK]


async def test_after_the_context_expired_the_thread_still_means_its_latest_request() -> None:
    contexts, requests = FakeContextStore(), FakeRequests()
    chat = conversation(contexts=contexts, requests=requests)
    [started] = await chat.handle_message(said(ASK))
    contexts.expire(THREAD)
    replies = await chat.handle_message(said("status", event="e2"))
    assert replies[0].body == texts.EXPIRED
    assert (await contexts.load(THREAD) or {}).get("request_id") == started.request_id


async def test_a_click_is_handled_once_and_a_click_for_an_unknown_request_is_refused() -> None:
    audit = FakeAudit()
    requests = FakeRequests()
    request_service = RequestService(requests, FakeJobs(), FakeQueue(), audit, Policy(), "fake", FakeStackOwners())
    chat = conversation(requests=requests, request_service=request_service)
    click = ActionEvent(thread=THREAD, user="ana", request_id="rnothere.abc", action="approve", event_id="c1")
    [reply] = await chat.handle_action(click)
    assert reply.ephemeral and "can't find" in reply.text
    assert await chat.handle_action(click) == []
    [refused] = await audit.list(event="refused")
    assert refused["reason"] == "unknown request"
