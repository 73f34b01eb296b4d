"""The insert batch's answers when the store fails part or all of a shared insert, or a caller gives up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, BulkWriteError, WriteError

from jobs.stores.insert_batch import InsertBatch


class ScriptedCollection:
    """Holds each `insert_many` until the test lets it go, then answers as scripted: stored, or a raise."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.answers: list[BaseException | None] = []

    async def insert_many(self, documents: list[dict[str, Any]], *, ordered: bool = True) -> None:
        assert not ordered, "one refused document must not stop the rest of the batch"
        self.calls.append([d["_id"] for d in documents])
        await self.gate.wait()
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer


def bulk_error(*errors: tuple[int, int]) -> BulkWriteError:
    return BulkWriteError({"writeErrors": [{"index": i, "code": code, "errmsg": f"code {code}"} for i, code in errors],
                           "writeConcernErrors": []})


async def started(batch: InsertBatch, *ids: str) -> list[asyncio.Task[list[bool]]]:
    tasks = [asyncio.create_task(batch.insert([{"_id": i}])) for i in ids]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return tasks


async def test_inserts_made_while_one_is_in_flight_go_together_in_the_next() -> None:
    col = ScriptedCollection()
    batch = InsertBatch(col)
    first = await started(batch, "a")
    rest = await started(batch, "b", "c", "d")
    assert col.calls == [["a"]]
    col.gate.set()
    assert await asyncio.gather(*first, *rest) == [[True]] * 4
    assert col.calls == [["a"], ["b", "c", "d"]]
    assert batch._sending is None


async def test_a_duplicate_answers_false_and_another_refusal_fails_only_its_own_caller() -> None:
    col = ScriptedCollection()
    col.answers = [bulk_error((1, 11000), (2, 121))]
    batch = InsertBatch(col)
    tasks = await started(batch, "a", "dup", "invalid", "d")
    col.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == [True] and results[1] == [False] and results[3] == [True]
    assert isinstance(results[2], WriteError) and results[2].code == 121


async def test_a_failure_of_the_whole_call_reaches_every_caller_and_the_next_insert_still_goes() -> None:
    col = ScriptedCollection()
    col.answers = [AutoReconnect("connection closed")]
    batch = InsertBatch(col)
    tasks = await started(batch, "a", "b")
    col.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, AutoReconnect) for r in results)
    assert await batch.insert([{"_id": "c"}]) == [True]


async def test_a_write_concern_error_fails_the_whole_batch() -> None:
    col = ScriptedCollection()
    col.answers = [BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64, "errmsg": "waiting"}]})]
    batch = InsertBatch(col)
    tasks = await started(batch, "a", "b")
    col.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, BulkWriteError) for r in results)


async def test_a_cancelled_caller_leaves_the_others_answered_and_nothing_running() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        col = ScriptedCollection()
        batch = InsertBatch(col)
        first = await started(batch, "a")
        waiting = await started(batch, "b", "c")
        first[0].cancel()
        waiting[0].cancel()
        col.gate.set()
        assert await waiting[1] == [True]
        for task in (first[0], waiting[0]):
            with pytest.raises(asyncio.CancelledError):
                await task
        # Like an insert cut off on its way, a cancelled caller's document may still be stored.
        assert col.calls == [["a"], ["b", "c"]]
        await asyncio.sleep(0)
        assert batch._sending is None
    finally:
        loop.set_exception_handler(old_handler)
    assert errors == [], "settling a cancelled caller's answer must not raise InvalidStateError"


async def test_closing_cancels_the_sender_and_every_caller_waiting_on_it_learns_it() -> None:
    col = ScriptedCollection()
    batch = InsertBatch(col)
    in_flight = await started(batch, "a")
    queued = await started(batch, "b")
    assert batch._sending is not None
    batch._sending.cancel()
    for task in (*in_flight, *queued):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert batch._sending is None and batch._waiting == []


async def test_a_large_backlog_goes_in_batches_of_at_most_max_docs() -> None:
    col = ScriptedCollection()
    col.gate.set()
    batch = InsertBatch(col, max_docs=4)
    first = await started(batch, "x")
    many = asyncio.create_task(batch.insert([{"_id": str(i)} for i in range(10)]))
    assert await many == [True] * 10
    assert await first[0] == [True]
    assert [len(c) for c in col.calls] == [1, 4, 4, 2]
