"""During an outage the bot still answers, and says truthfully whether the message was saved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from bots.runtime import Runtime
from config.local_services import free_port
from core import texts
from core.chat_service import ChatService
from core.messages import IncomingMessage, ThreadRef
from jobs.stores.connections import redis_client
from jobs.stores.mongo import MongoHistory
from jobs.stores.redis_state import RedisEventGate

THREAD = ThreadRef("web", "local", "web", "outage")


def _message(event: str) -> IncomingMessage:
    return IncomingMessage(thread=THREAD, user="ana", text="create a bucket for my app shop", event_id=event)


def _conversation(runtime: Runtime, **ports: object) -> ChatService:
    core = runtime.core
    defaults: dict[str, object] = {"gate": core.gate, "contexts": core.contexts, "history": core.history,
                                   "requests": core.requests, "request_service": core.request_service,
        "planner": core.planner}
    return ChatService(**{**defaults, **ports})  # type: ignore[arg-type]


@pytest.fixture
async def dead_mongo() -> AsyncIterator[MongoHistory]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=300, connectTimeoutMS=300
    )
    yield MongoHistory(client["x"])
    await client.close()


async def test_with_the_event_gate_down_the_message_is_saved_and_answered(runtime: Runtime) -> None:
    dead = redis_client(f"redis://127.0.0.1:{free_port()}")
    try:
        replies = await _conversation(runtime, gate=RedisEventGate(dead)).handle_message(_message("g1"))
    finally:
        await dead.aclose()
    assert [r.body for r in replies] == [texts.ERROR]
    saved = await runtime.history.list(THREAD)
    assert [m["text"] for m in saved] == ["create a bucket for my app shop"]


async def test_when_saving_fails_the_reply_says_it_was_not_saved(runtime: Runtime, dead_mongo: MongoHistory) -> None:
    chat = _conversation(runtime, history=dead_mongo)
    replies = await chat.handle_message(_message("h1"))
    assert [r.body for r in replies] == [texts.NOT_SAVED]
    # The claim was let go, so the platform's retry is handled once storage is back.
    assert (await runtime.core.handle_message(_message("h1")))[0].body not in (texts.ERROR, texts.NOT_SAVED)


async def test_with_everything_down_the_reply_still_comes(dead_mongo: MongoHistory, runtime: Runtime) -> None:
    dead = redis_client(f"redis://127.0.0.1:{free_port()}")
    try:
        chat = _conversation(runtime, gate=RedisEventGate(dead), history=dead_mongo)
        replies = await chat.handle_message(_message("x1"))
    finally:
        await dead.aclose()
    assert [r.body for r in replies] == [texts.NOT_SAVED]
