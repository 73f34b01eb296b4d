"""A writer frozen past its document lease cannot overwrite the holder that came after it.

The frozen writer is a second "process": its own thread, event loop, Redis and MongoDB clients, frozen
whole (its lease renewal included) between its compare-and-set's read and its write, as a stopped or
starved process would be.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bots.runtime import Runtime
from config.local_services import LocalServices
from config.settings import Settings
from core.draft import Draft
from core.messages import ThreadRef
from core.request import Status
from core.requests import Actor
from core.spec import Component, InfraSpec
from infra.lease import RedisLease
from jobs.stores.doc_lock import FENCE_FIELD, DocLockLost, DocLocks
from jobs.stores.mongo import MongoRequests

THREAD = ThreadRef("web", "local", "web", "fencing")


class FreezingCollection:
    """The requests collection, except that its write first freezes the whole thread until `resume`."""

    def __init__(self, col: Any, frozen: threading.Event, resume: threading.Event) -> None:
        self._col, self._frozen, self._resume = col, frozen, resume

    def __getattr__(self, name: str) -> Any:
        return getattr(self._col, name)

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
        self._frozen.set()
        self._resume.wait(20)  # blocks this thread's event loop: nothing of this writer runs meanwhile
        return await self._col.find_one_and_update(*args, **kwargs)


def frozen_writer(services: LocalServices, db_name: str, request_id: str, frozen: threading.Event,
                  resume: threading.Event) -> str:
    """Runs in its own thread: cancels the request, frozen between its read and its write until `resume`."""

    async def run() -> str:
        redis = Redis.from_url(services.redis_url)
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongodb_url)
        try:
            store = MongoRequests(mongo[db_name], DocLocks(redis, lease_ms=400))
            store.col = FreezingCollection(store.col, frozen, resume)  # type: ignore[assignment]
            try:
                moved = await store.transition(request_id, Status.PLANNING, Status.CANCELLED, {"error": "stale"})
            except DocLockLost:
                return "refused"
            return "wrote" if moved else "lost the compare-and-set"
        finally:
            await redis.aclose()
            await mongo.close()

    return asyncio.run(run())


async def _request(runtime: Runtime) -> str:
    spec = InfraSpec(app="shop", environment="dev", components=[Component(kind="bucket")])
    request_id, _ = await runtime.core.request_service.start(Actor(THREAD, "ana", (), "web:local:f"),
                                                             Draft.from_spec(spec), "x")
    assert request_id
    return request_id


async def test_a_writer_frozen_past_its_lease_is_refused_after_another_took_the_lock(
    runtime: Runtime, services: LocalServices, settings: Settings
) -> None:
    request_id = await _request(runtime)
    frozen, resume = threading.Event(), threading.Event()
    stale = asyncio.create_task(asyncio.to_thread(frozen_writer, services, settings.mongodb_db, request_id, frozen,
                                                  resume))
    assert await asyncio.to_thread(frozen.wait, 20), "the frozen writer never got to its write"

    # Its lease (0.4 s) runs out while it is frozen; this writer then takes the lock and moves the request on.
    moved = await runtime.requests.transition(request_id, Status.PLANNING, Status.FAILED, {"error": "newer"})
    assert moved is not None and moved.status == Status.FAILED
    resume.set()

    assert await asyncio.wait_for(stale, 20) == "refused"
    doc = await runtime.db.requests.find_one({"_id": request_id})
    assert doc is not None and (doc["status"], doc["error"]) == ("failed", "newer")
    assert doc[FENCE_FIELD] > 0, "the write carries its holder's fencing token"


async def test_a_holder_older_than_the_documents_last_writer_is_refused(runtime: Runtime) -> None:
    request_id = await _request(runtime)
    locks = DocLocks(runtime.redis)
    async with locks.hold(f"requests:{request_id}") as older:
        pass
    await runtime.requests.update(request_id, {"error": "written by a later holder"})
    doc = await runtime.db.requests.find_one({"_id": request_id})
    assert doc is not None and doc[FENCE_FIELD] > older.fence
    with pytest.raises(DocLockLost):
        older.check(doc)
    # The same check passes for whoever holds it now.
    async with locks.hold(f"requests:{request_id}") as newer:
        newer.check(doc)


async def test_fencing_tokens_only_grow_even_when_redis_comes_back_empty(runtime: Runtime) -> None:
    leases = RedisLease(runtime.redis, "infrabot:test-lease:")
    first = await leases.acquire("a", "me", 5)
    second = await leases.acquire("b", "me", 5)
    assert first is not None and second is not None and second.fence > first.fence
    assert await leases.acquire("a", "you", 5) is None, "one holder at a time"
    await runtime.redis.flushall()
    third = await leases.acquire("a", "you", 5)
    assert third is not None and third.fence > second.fence
    assert not await leases.renew(first), "a lease that vanished is lost, not taken back"
    assert first.lost and first.remaining() == 0
