"""Document locks outlast a slow write, and a writer whose lease lapsed anyway cannot commit."""

from __future__ import annotations

import asyncio

import pytest

from bots.runtime import Runtime
from jobs.stores.doc_lock import DocLockLost, DocLocks, DocLockTimeout


async def test_a_lock_held_longer_than_its_lease_keeps_others_out(runtime: Runtime) -> None:
    locks = DocLocks(runtime.redis, lease_ms=300, wait_seconds=0.5)
    async with locks.hold("requests:slow") as held:
        await asyncio.sleep(1.0)  # more than three leases: only the renewal keeps it
        with pytest.raises(DocLockTimeout):
            async with locks.hold("requests:slow"):
                pass
        await held.confirm()
    async with locks.hold("requests:slow"):
        pass


async def test_a_writer_whose_lease_passed_to_another_cannot_commit(runtime: Runtime) -> None:
    locks = DocLocks(runtime.redis, lease_ms=5000)
    async with locks.hold("jobs:stalled") as held:
        # What a frozen process finds when it wakes: its lease expired and another writer took the lock.
        await runtime.redis.set("infrabot:doclock:jobs:stalled", "someone-else")
        with pytest.raises(DocLockLost):
            await held.confirm()
    assert await runtime.redis.get("infrabot:doclock:jobs:stalled") == b"someone-else"
