"""`POST /api/chat` with `Accept: application/x-ndjson`, against a real server on the real stores: "on it" as
soon as the words are stored, the answer after; a redelivery and a client that hangs up change nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bots.runtime import Runtime
from bots.serve import create_app
from bots.web.app import web_thread
from tests.support import eventually, serving

STREAM = {"Accept": "application/x-ndjson"}
ASK = {"thread": "lines", "user": "ana", "text": "create a bucket for my app shop in dev", "event_id": "ev-1"}


@pytest.fixture
async def base(runtime: Runtime) -> AsyncIterator[str]:
    async with serving(create_app(runtime)) as url:
        yield url


@pytest.fixture
def held(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Holds every turn after its words are stored, until set."""
    release = asyncio.Event()
    route = runtime.core.router.route

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await release.wait()
        return await route(*args, **kwargs)

    monkeypatch.setattr(runtime.core.router, "route", slow)
    return release


async def _roles(runtime: Runtime) -> list[str]:
    return [d["role"] for d in await runtime.history.list(web_thread("lines"))]


async def test_on_it_comes_once_the_words_are_stored_and_the_answer_after(
    base: str, runtime: Runtime, held: asyncio.Event
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http, \
            http.stream("POST", "/api/chat", json=ASK, headers=STREAM) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = response.aiter_lines()
        assert json.loads(await anext(lines)) == {"received": True}
        assert await _roles(runtime) == ["user"], "the words were durable before the page heard of them"
        assert await runtime.db.requests.count_documents({}) == 0, "and the turn had not run yet"
        held.set()
        answer = json.loads(await anext(lines))
    assert "planning" in answer["reply"].lower() and answer["duplicate"] is False
    assert answer["replies"][0]["request_id"]
    assert await _roles(runtime) == ["user", "bot"]


async def test_a_redelivered_message_gets_no_on_it_and_no_second_turn(base: str, runtime: Runtime) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        first = (await http.post("/api/chat", json=ASK, headers=STREAM)).text.splitlines()
        again = (await http.post("/api/chat", json=ASK, headers=STREAM)).text.splitlines()
    assert json.loads(first[0]) == {"received": True} and len(first) == 2
    assert [json.loads(line)["duplicate"] for line in again] == [True]
    assert await runtime.db.requests.count_documents({}) == 1
    assert await _roles(runtime) == ["user", "bot"]


async def test_a_page_that_goes_away_mid_answer_does_not_stop_the_turn(
    base: str, runtime: Runtime, held: asyncio.Event
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        async with http.stream("POST", "/api/chat", json=ASK, headers=STREAM) as response:
            assert json.loads(await anext(response.aiter_lines())) == {"received": True}
        # Hung up: the server sees the client gone, then the turn is let go on.
        await asyncio.sleep(0.3)
        held.set()

        async def answered() -> bool:
            return await _roles(runtime) == ["user", "bot"]

        await eventually(answered, within=10)
        assert await runtime.db.requests.count_documents({}) == 1
        shown = (await http.get("/api/chat/lines")).json()
    assert "planning" in shown[-1]["text"].lower(), "the answer is there when the page loads the thread again"


async def test_a_plain_request_still_gets_one_json_answer(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        response = await http.post("/api/chat", json=ASK)
    assert response.headers["content-type"].startswith("application/json")
    assert "planning" in response.json()["reply"].lower()


async def test_a_server_stopping_lets_the_turn_of_a_page_that_left_finish_first(
    runtime: Runtime, held: asyncio.Event
) -> None:
    async with serving(create_app(runtime)) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:
        async with http.stream("POST", "/api/chat", json=ASK, headers=STREAM) as response:
            assert json.loads(await anext(response.aiter_lines())) == {"received": True}
        await asyncio.sleep(0.3)
        # The server is told to stop while the turn is still held; it lets it go on half a second later.
        asyncio.get_running_loop().call_later(0.5, held.set)
    assert await _roles(runtime) == ["user", "bot"], "the stores stayed open until the turn had answered"
    assert await runtime.db.requests.count_documents({}) == 1


async def test_an_event_id_reused_from_another_thread_changes_neither_thread(base: str, runtime: Runtime) -> None:
    """The event id is the client's to choose: one copied from another conversation is a repeat, so the copy
    is neither heard nor answered there, and the first thread keeps its one request."""
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        await http.post("/api/chat", json=ASK, headers=STREAM)
        copied = {**ASK, "thread": "elsewhere", "user": "mallory", "text": "cancel"}
        lines = (await http.post("/api/chat", json=copied, headers=STREAM)).text.splitlines()
    assert [json.loads(line).get("duplicate") for line in lines] == [True]
    assert await _roles(runtime) == ["user", "bot"]
    assert await runtime.history.list(web_thread("elsewhere")) == []
    [request] = [doc async for doc in runtime.db.requests.find({})]
    assert request["status"] == "planning" and request["user"] == "ana"
