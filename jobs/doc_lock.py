"""Per-document mutual exclusion in Redis.

FerretDB v1 applies an update by reading the document, changing it and writing it back whole, with no
isolation between concurrent updates: two processes updating different fields of one document can lose
one of the changes (50 concurrent `$inc`s end at 9). Every update in the MongoDB adapters goes through
this lock, which also makes conditional updates ("only if still awaiting approval") real compare-and-set.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class DocLockTimeout(TimeoutError):
    pass


class DocLocks:
    def __init__(self, redis: Redis, lease_ms: int = 10_000, wait_seconds: float = 15.0) -> None:
        self.redis = redis
        self.lease_ms = lease_ms
        self.wait_seconds = wait_seconds
        self._release = redis.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        name = f"infrabot:doclock:{key}"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_seconds
        pause = 0.001
        while not await self.redis.set(name, token, nx=True, px=self.lease_ms):
            if time.monotonic() > deadline:
                raise DocLockTimeout(f"document {key} stayed locked for {self.wait_seconds}s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)
        try:
            yield
        finally:
            await self._release(keys=[name], args=[token])
