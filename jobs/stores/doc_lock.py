"""Per-document mutual exclusion in Redis, fenced.

FerretDB v1 applies an update by reading the document, changing it and writing it back whole, with no
isolation between concurrent updates: two processes updating different fields of one document can lose
one of the changes (50 concurrent `$inc`s end at 9). Every update in the MongoDB adapters goes through
this lock, which also makes conditional updates ("only if still awaiting approval") real compare-and-set.

The lease (infra/lease.py) is renewed while the lock is held, so a slow MongoDB call does not let a second
writer in. A writer that stalls past its lease (a frozen process, a long pause) must not write after
someone else took the lock, and checking right before the write is not enough: it can freeze between the
check and the write. So each write is fenced twice:

- by time: `Held.write()` runs the write under a PyMongo deadline at the end of the lease as this holder
  knows it (counted from before its last renewal was sent, less a margin). PyMongo refuses to send a
  command whose deadline has passed, and gives the server the rest as `maxTimeMS`, so a holder that wakes
  up after its lease ran out never sends the write;
- by token: every grant has a fencing token larger than any before it, stored in the document it writes
  (`_fence`). A holder that reads a document stamped by a later holder refuses to go on (`Held.check`), and
  on MongoDB the write itself matches the document only while no later holder has stamped it
  (`Held.where`): a write sent in time but delayed on its way until after the next holder wrote matches
  nothing and changes nothing, the condition and the write being one atomic step there. FerretDB v1 gets
  the `_id` alone (`fence_in_filter=False`, see `filters_are_atomic`): it looks a document up by index only
  for a filter of `_id` alone, scanning the whole collection for anything more, and it evaluates a filter
  in a read-modify-write without isolation anyway, so there the condition would narrow the window at the
  price of a scan per write rather than close it.

A lease that vanished with the whole keyspace (Redis restarted empty) is lost, not taken back: what this
holder read under it may be stale, so the write is refused and the caller tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pymongo
from pymongo.errors import PyMongoError
from redis.asyncio import Redis

from infra.lease import Grant, RedisLease
from infra.redis_keys import DOC_LOCK_PREFIX, DOC_LOCK_TTL_MS

FENCE_FIELD = "_fence"
# The part of the lease kept in hand when a write is sent: covers a renewal's round trip and clocks that
# run at slightly different rates.
MARGIN = 0.2


class DocLockTimeout(TimeoutError):
    pass


class DocLockLost(DocLockTimeout):
    """The lease lapsed while held, or a later holder wrote the document: this writer must not."""


class Held:
    def __init__(self, locks: DocLocks, grant: Grant) -> None:
        self.locks, self.grant = locks, grant

    @property
    def name(self) -> str:
        return self.grant.key

    @property
    def fence(self) -> int:
        return self.grant.fence

    def check(self, doc: Mapping[str, Any] | None) -> None:
        """Raises DocLockLost if `doc` was written under a later grant than this one."""
        if doc is not None and int(doc.get(FENCE_FIELD) or 0) > self.fence:
            raise DocLockLost(f"{self.name} was written by a later holder (fence {doc.get(FENCE_FIELD)} > "
                              f"{self.fence})")

    def where(self, doc_id: str, **conditions: Any) -> dict[str, Any]:
        """A write's filter: `doc_id` (and `conditions`) only while no later holder has stamped it. A write
        that matches nothing under it was overtaken: `lost()` says so. Where the server cannot evaluate more
        than `_id` cheaply and atomically, `_id` alone: the caller has checked the rest under the lock."""
        if not self.locks.fence_in_filter:
            return {"_id": doc_id}
        return {"_id": doc_id, **conditions, FENCE_FIELD: {"$not": {"$gt": self.fence}}}

    def lost(self) -> DocLockLost:
        return DocLockLost(f"{self.name} was written by a later holder before this write arrived")

    def stamp(self, update: dict[str, Any]) -> dict[str, Any]:
        """`update` with this holder's fencing token added (never lowering a later one)."""
        return {**update, "$max": {**update.get("$max", {}), FENCE_FIELD: self.fence}}

    async def confirm(self) -> None:
        """Raises DocLockLost unless this holder still has the lock; call right before writing."""
        if not await self.locks.leases.renew(self.grant):
            raise DocLockLost(f"lost the lock on {self.name} before writing")

    @asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        """Confirms the lock, then runs the block's MongoDB calls under a deadline at the end of the lease."""
        await self.confirm()
        remaining = self.grant.remaining(MARGIN)
        if remaining <= 0:
            raise DocLockLost(f"the lease on {self.name} ran out before the write")
        try:
            with pymongo.timeout(remaining):
                yield
        except PyMongoError as exc:
            if exc.timeout:
                # The deadline is the lease's end (PyMongo's own timeouts give way to it): whether the write
                # was made or not is unknown, and only a later holder may now write.
                raise DocLockLost(f"the lease on {self.name} ran out before the write was answered") from exc
            raise


class DocLocks:
    def __init__(
        self, redis: Redis, lease_ms: int = DOC_LOCK_TTL_MS, wait_seconds: float = 15.0, *,
        fence_in_filter: bool = True,
    ) -> None:
        self.redis = redis
        self.lease_ms = lease_ms
        self.wait_seconds = wait_seconds
        self.fence_in_filter = fence_in_filter
        self.leases = RedisLease(redis, DOC_LOCK_PREFIX)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[Held]:
        ttl = self.lease_ms / 1000
        deadline = time.monotonic() + self.wait_seconds
        pause = 0.001
        while (grant := await self.leases.acquire(key, "doc", ttl)) is None:
            if time.monotonic() > deadline:
                raise DocLockTimeout(f"document {key} stayed locked for {self.wait_seconds}s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)
        held = Held(self, grant)
        renewing = asyncio.create_task(self.leases.keep(grant))
        try:
            yield held
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self.leases.release(grant)
