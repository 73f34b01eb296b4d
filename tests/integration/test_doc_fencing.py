"""A writer frozen past its document lease cannot overwrite the holder that came after it.

The frozen writer is a second "process": its own thread, event loop, Redis and MongoDB clients, frozen
whole (its lease renewal included) between its compare-and-set's read and its write, as a stopped or
starved process would be.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from jobs.stores.mongo import MongoRequests, filters_are_atomic

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


class DelayingProxy:
    """A TCP proxy in front of FerretDB that can hold back the writes its clients send (a slow network path).

    While closed, a message carrying a `findAndModify` waits; other traffic (handshakes, heartbeats, reads)
    passes. Held bytes still reach the server once let go, even after the client gave up and closed its
    socket: that is what a request delayed on the network does."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.open = asyncio.Event()
        self.open.set()
        self.held = asyncio.Event()  # set once something was held back
        self.delivered = asyncio.Event()  # set once held bytes reached the server and it was done with them
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        delayed = asyncio.Event()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if not self.open.is_set() and b"findAndModify" in data:
                    self.held.set()
                    delayed.set()
                    await self.open.wait()
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            # FerretDB answers a command that arrives past its maxTimeMS by closing the connection, having
            # made the write all the same: either way, the server is done with it.
            while data := await server_r.read(65536):
                if delayed.is_set():
                    self.delivered.set()
                client_w.write(data)
                with contextlib.suppress(ConnectionError):
                    await client_w.drain()
            if delayed.is_set():
                self.delivered.set()

        for step in (upstream(), downstream()):
            task = asyncio.create_task(step)
            self._tasks.add(task)


async def test_a_write_delayed_on_the_network_past_its_lease_matches_nothing(
    runtime: Runtime, services: LocalServices, settings: Settings
) -> None:
    """The write leaves in time, under its lease; the network holds it until the lease is over and the next
    holder has written. When it reaches the server it must change nothing: its filter names its fence.

    The stores put the fence in the filter where the server checks a filter and writes in one step (MongoDB);
    the test servers are FerretDB v1, which gets `_id` alone by default (see jobs/stores/doc_lock.py), so the
    slow writer here has it switched on: what is checked is that such a filter stops the late write."""
    request_id = await _request(runtime)
    proxy = DelayingProxy(int(services.mongodb_url.rsplit(":", 1)[1].strip("/")))
    port = await proxy.start()
    slow_mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(f"mongodb://127.0.0.1:{port}/",
                                                                     directConnection=True)
    try:
        assert not await filters_are_atomic(runtime.db)
        slow = MongoRequests(slow_mongo[settings.mongodb_db], DocLocks(runtime.redis, lease_ms=600,
                                                                       fence_in_filter=True))

        class DelayedCollection:
            def __getattr__(self, name: str) -> Any:
                return getattr(slow_mongo[settings.mongodb_db].requests, name)

            async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
                proxy.open.clear()  # the write is sent now, and held on its way
                return await slow_mongo[settings.mongodb_db].requests.find_one_and_update(*args, **kwargs)

        slow.col = DelayedCollection()  # type: ignore[assignment]
        with pytest.raises(DocLockLost):
            # Its client gives up at the end of the lease; the write itself is still on its way.
            await slow.transition(request_id, Status.PLANNING, Status.CANCELLED, {"error": "stale"})
        assert proxy.held.is_set()

        moved = await runtime.requests.transition(request_id, Status.PLANNING, Status.FAILED, {"error": "newer"})
        assert moved is not None and moved.status == Status.FAILED
        proxy.open.set()  # the delayed write arrives now, after the next holder's
        await asyncio.wait_for(proxy.delivered.wait(), 20)

        doc = await runtime.db.requests.find_one({"_id": request_id})
        assert doc is not None and (doc["status"], doc["error"]) == ("failed", "newer")
    finally:
        await slow_mongo.close()
        await proxy.close()
