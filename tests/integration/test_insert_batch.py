"""History inserts share round trips on the real FerretDB, and each caller still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from bots.runtime import Runtime
from config.local_services import LocalServices
from core.messages import HistoryEntry, ThreadRef
from jobs.stores.mongo import MongoHistory

THREAD = ThreadRef("web", "local", "web", "batched")


class InsertCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.inserts: list[int] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert":
            self.inserts.append(len(event.command.get("documents", [])))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counted(runtime: Runtime, services: LocalServices) -> AsyncIterator[tuple[MongoHistory, InsertCounter]]:
    counter = InsertCounter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongodb_url, event_listeners=[counter])
    # The runtime's own database, so what this history stores is what the product reads.
    yield MongoHistory(client[runtime.settings.mongodb_db]), counter
    await client.close()


async def test_concurrent_turns_share_insert_commands_and_each_line_is_stored_once(
    counted: tuple[MongoHistory, InsertCounter],
) -> None:
    history, counter = counted
    answers = await asyncio.gather(*(history.append(THREAD, "user", f"line {i}", key=f"in:{i}") for i in range(30)))
    assert answers == [True] * 30
    assert sum(counter.inserts) == 30
    assert len(counter.inserts) <= 3, f"30 concurrent appends took {len(counter.inserts)} insert commands"
    stored = await history.list(THREAD)
    assert sorted(d["_id"] for d in stored) == sorted(f"in:{i}" for i in range(30))


async def test_a_redelivery_in_a_shared_batch_is_refused_alone(counted: tuple[MongoHistory, InsertCounter]) -> None:
    history, counter = counted
    assert await history.append(THREAD, "user", "first", key="in:old")
    answers = await asyncio.gather(
        history.append(THREAD, "user", "a", key="in:a"),
        history.append(THREAD, "user", "first again", key="in:old"),
        history.append(THREAD, "user", "b", key="in:b"),
    )
    assert answers == [True, False, True]
    assert len(counter.inserts) <= 3
    stored = {d["_id"]: d["text"] for d in await history.list(THREAD)}
    assert stored == {"in:old": "first", "in:a": "a", "in:b": "b"}


async def test_the_same_key_twice_at_once_is_stored_exactly_once(counted: tuple[MongoHistory, InsertCounter]) -> None:
    history, _ = counted
    # Two chat processes' worth of one redelivered event, plus filler so both copies queue behind one insert.
    answers = await asyncio.gather(
        history.append(THREAD, "user", "warm", key="in:warm"),
        *(history.append(THREAD, "user", "twice", key="in:twice") for _ in range(2)),
    )
    assert answers[0] is True
    assert sorted(answers[1:]) == [False, True]
    assert [d["_id"] for d in await history.list(THREAD)].count("in:twice") == 1


async def test_a_turns_lines_keep_their_order_when_batched_with_others(
    counted: tuple[MongoHistory, InsertCounter],
) -> None:
    history, _ = counted
    other = ThreadRef("web", "local", "web", "other")
    await asyncio.gather(
        history.append(other, "user", "hi", key="in:o"),
        history.append_many([HistoryEntry(THREAD, "bot", f"reply {i}", f"out:{i}") for i in range(5)]),
        history.append_many([HistoryEntry(THREAD, "bot", "reply 2 again", "out:2")]),
    )
    assert [d["text"] for d in await history.list(THREAD)] == [f"reply {i}" for i in range(5)]
    assert [d["text"] for d in await history.list(other)] == ["hi"]
