"""The web chat's answer as JSON lines (bots/web/answer_stream.py), on small stand-in cores."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pymongo.errors import ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError

from bots.web.answer_stream import STORE_DOWN, answer_lines, wants_stream
from core.markup import say
from core.messages import ActionEvent, IncomingMessage, Reply, ThreadRef

MESSAGE = IncomingMessage(thread=ThreadRef("web", "local", "web", "t"), user="ana", text="help", event_id="e1")


class Core:
    def __init__(self, *, hear: bool, fail: Exception | None = None) -> None:
        self.hear = hear
        self.fail = fail

    async def handle_message(self, message: IncomingMessage, received: Callable[[], None] | None = None) -> list[Reply]:
        if self.hear and received is not None:
            received()
        if self.fail is not None:
            raise self.fail
        return [Reply(say("hello"))] if self.hear else []

    async def handle_action(self, action: ActionEvent) -> list[Reply]:
        return []


def _answer(replies: list[Reply]) -> dict[str, Any]:
    return {"reply": [r.text for r in replies], "duplicate": not replies}


async def _lines(core: Core) -> list[dict[str, Any]]:
    return [json.loads(line) async for line in answer_lines(core, MESSAGE, _answer, set())]


async def test_on_it_then_the_answer() -> None:
    assert await _lines(Core(hear=True)) == [{"received": True}, {"reply": ["hello"], "duplicate": False}]


async def test_a_message_the_core_did_not_take_gets_only_its_answer() -> None:
    assert await _lines(Core(hear=False)) == [{"reply": [], "duplicate": True}]


async def test_a_store_that_fails_mid_turn_ends_the_stream_with_a_friendly_error() -> None:
    for failure in (RedisConnectionError("down"), ServerSelectionTimeoutError("down")):
        assert await _lines(Core(hear=True, fail=failure)) == [{"received": True}, {"error": STORE_DOWN}]
        assert await _lines(Core(hear=False, fail=failure)) == [{"error": STORE_DOWN}]


def test_only_a_client_that_asks_gets_lines() -> None:
    assert wants_stream("application/x-ndjson")
    assert wants_stream("Application/X-NDJSON, application/json;q=0.5")
    assert not wants_stream("application/json") and not wants_stream("*/*") and not wants_stream("")
