"""Per-document mutual exclusion in Redis.

FerretDB v1 applies an update by reading the document, changing it and writing it back whole, with no
isolation between concurrent updates: two processes updating different fields of one document can lose
one of the changes (50 concurrent `$inc`s end at 9). Every update in the MongoDB adapters goes through
this lock, which also makes conditional updates ("only if still awaiting approval") real compare-and-set.

The lease is renewed while the lock is held, so a slow MongoDB call does not let a second writer in, and
a writer confirms it still holds the lock right before it writes (`Held.confirm`): one whose lease lapsed
anyway (its process was frozen longer than the lease) gives up instead of overwriting the newer writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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


# Renews the holder's lease; a lease that vanished with the whole keyspace (Redis restarted empty) is
# taken back, since nobody else holds it; one that another writer holds now is lost.
_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not current then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""

log = logging.getLogger("infrabot.doclock")


class DocLockTimeout(TimeoutError):
    pass


class DocLockLost(DocLockTimeout):
    """The lease lapsed while held: another writer may have the document now."""


class Held:
    def __init__(self, locks: DocLocks, name: str, token: str) -> None:
        self.locks, self.name, self.token = locks, name, token

    async def confirm(self) -> None:
        """Raises DocLockLost unless this holder still has the lock; call right before writing."""
        if not await self.locks._renew(keys=[self.name], args=[self.token, self.locks.lease_ms]):
            raise DocLockLost(f"lost the lock on {self.name} before writing")

    async def keep(self) -> None:
        while True:
            await asyncio.sleep(self.locks.lease_ms / 3000)
            try:
                renewed = await self.locks._renew(keys=[self.name], args=[self.token, self.locks.lease_ms])
            except Exception:
                log.warning("could not renew %s; trying again", self.name, exc_info=True)
                continue
            if not renewed:
                return  # confirm() will refuse the write


class DocLocks:
    def __init__(self, redis: Redis, lease_ms: int = 10_000, wait_seconds: float = 15.0) -> None:
        self.redis = redis
        self.lease_ms = lease_ms
        self.wait_seconds = wait_seconds
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[Held]:
        name = f"infrabot:doclock:{key}"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_seconds
        pause = 0.001
        while not await self.redis.set(name, token, nx=True, px=self.lease_ms):
            if time.monotonic() > deadline:
                raise DocLockTimeout(f"document {key} stayed locked for {self.wait_seconds}s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)
        held = Held(self, name, token)
        renewing = asyncio.create_task(held.keep())
        try:
            yield held
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self._release(keys=[name], args=[token])
