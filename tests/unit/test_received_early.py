"""`received`: an adapter hears that a message is stored and new before the turn's own work is done, and
only then (core/chat_service.py). This is what lets Slack show a reply at once without claiming to have a
message it could still lose."""

from __future__ import annotations

import asyncio
from typing import Any

from core import texts
from core.messages import Reply, ThreadRef
from tests.fakes import FakeContextStore, FakeEventGate, FakeHistory, FakeRequests
from tests.unit.test_conversation_on_fakes import ASK, THREAD, Broken, BrokenPlanner, conversation, said


class Recorder:
    """The adapter's hook: what the stores held at the moment it was called."""

    def __init__(self, history: FakeHistory, requests: FakeRequests | None = None) -> None:
        self.history = history
        self.requests = requests
        self.calls: list[dict[str, Any]] = []

    def __call__(self) -> None:
        self.calls.append({
            "lines": [(d["role"], d["text"]) for d in self.history.docs.values()],
            "requests": len(self.requests.docs) if self.requests else None,
        })


async def test_the_words_are_stored_before_the_adapter_hears_and_before_the_turn_runs() -> None:
    history, requests = FakeHistory(), FakeRequests()
    heard = Recorder(history, requests)
    chat = conversation(history=history, requests=requests)

    [reply] = await chat.handle_message(said(ASK), heard)

    assert heard.calls == [{"lines": [("user", ASK)], "requests": 0}], "stored, and heard before the request existed"
    assert reply.request_id and len(requests.docs) == 1
    lines = [(d["role"], d["_id"]) for d in history.docs.values()]
    assert lines == [("user", "in:" + said(ASK).event_key()), ("bot", f"out:{said(ASK).event_key()}:0")]


async def test_a_redelivery_is_not_heard_and_changes_nothing() -> None:
    history = FakeHistory()
    heard = Recorder(history)
    chat = conversation(history=history)
    assert await chat.handle_message(said(ASK), heard)
    assert await chat.handle_message(said(ASK), heard) == []
    assert len(heard.calls) == 1
    assert [d["role"] for d in history.docs.values()] == ["user", "bot"]


async def test_words_that_cannot_be_stored_are_never_heard_and_the_turn_does_not_run() -> None:
    gate, requests = FakeEventGate(), FakeRequests()
    calls: list[int] = []
    chat = conversation(gate=gate, history=Broken(), requests=requests)

    [reply] = await chat.handle_message(said(ASK), lambda: calls.append(1))

    assert calls == []
    assert reply.body == texts.NOT_SAVED
    assert requests.docs == {}, "nothing was built on words that were not kept"
    assert await gate.claim(said(ASK).event_key()), "the claim was released for the platform's retry"


async def test_a_failed_turn_after_the_adapter_heard_still_answers_and_keeps_one_copy_of_the_words() -> None:
    gate, history = FakeEventGate(), FakeHistory()
    heard = Recorder(history)
    chat = conversation(gate=gate, history=history, planner=BrokenPlanner())

    [reply] = await chat.handle_message(said(ASK), heard)

    assert len(heard.calls) == 1
    assert reply.body == texts.ERROR
    assert [d["text"] for d in history.docs.values()] == [ASK]
    assert await gate.claim(said(ASK).event_key())


async def test_a_hook_that_raises_costs_the_user_nothing() -> None:
    def broken() -> None:
        raise RuntimeError("the adapter's bug")

    history = FakeHistory()
    chat = conversation(history=history)
    [reply] = await chat.handle_message(said(ASK), broken)
    assert reply.request_id
    assert [d["role"] for d in history.docs.values()] == ["user", "bot"]


async def test_without_a_hook_the_words_and_answer_are_one_write() -> None:
    class Counting(FakeHistory):
        writes = 0

        async def append_many(self, entries: Any) -> None:
            Counting.writes += 1
            await super().append_many(entries)

    history = Counting()
    chat = conversation(history=history)
    replies: list[Reply] = await chat.handle_message(said(ASK))
    assert replies and Counting.writes == 1
    assert [d["thread_key"] for d in history.docs.values()] == [THREAD.key()] * 2


async def test_the_adapter_hears_without_waiting_for_the_threads_context() -> None:
    """Opening the reply needs only the words stored and the event new: a slow context read (a busy Redis)
    must not hold it up, though the turn itself waits for it."""

    class SlowContexts(FakeContextStore):
        def __init__(self) -> None:
            super().__init__()
            self.release = asyncio.Event()

        async def load(self, thread: ThreadRef) -> dict[str, Any] | None:
            await self.release.wait()
            return await super().load(thread)

    contexts, history = SlowContexts(), FakeHistory()
    heard = asyncio.Event()
    chat = conversation(contexts=contexts, history=history)
    turn = asyncio.ensure_future(chat.handle_message(said(ASK), heard.set))
    try:
        await asyncio.wait_for(heard.wait(), 5)
        assert [d["role"] for d in history.docs.values()] == ["user"]
        assert not turn.done(), "the turn still waits for the context it builds on"
    finally:
        contexts.release.set()
    [reply] = await turn
    assert reply.request_id
