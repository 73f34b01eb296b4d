"""One change at a time per Pulumi stack, across every worker process, held in Redis.

Pulumi's own stack lock only says "busy" once the CLI is already running; this lease lets a worker
find out before it starts, and tell the person they are next instead of failing.

Waiting policy: `hold(..., wait=0)` (the default) refuses at once with `StackBusy`, so an arq job can
`Retry` later instead of tying up a worker slot; `wait=N` polls for up to N seconds first.

Besides the lease itself, every holder keeps a heartbeat record of its own for the stack (a sorted set
of holder tokens scored by when each expires), renewed for as long as its hold lasts, even after it lost
the lease. It answers the one question the lease cannot after Redis restarted empty: is a holder that
lost its lease with the keyspace still running? (see `alone` and infra/stale_locks.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field

from redis.asyncio import Redis

from infra import errors
from infra.lease import Grant, RedisLease, owner_of
from infra.redis_keys import LEASE_EPOCH_KEY, STACK_ALIVE_PREFIX, STACK_LOCK_PREFIX, STACK_LOCK_TTL_SECONDS

log = logging.getLogger(__name__)


_NOW_MS = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('SET', KEYS[2], string.format('%.0f', ms), 'NX')
"""
_BEAT = _NOW_MS + """
redis.call('ZADD', KEYS[1], string.format('%.0f', ms + tonumber(ARGV[2])), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# 1: no other holder of the stack is alive, and the keyspace is at least a lease old, so a holder that
# lost its lease when Redis came back empty has had a full lease to beat again; 0: another holder is
# alive; -1: too soon after Redis came back empty to tell.
_ALONE = _NOW_MS + """
if ms - tonumber(redis.call('GET', KEYS[2])) < tonumber(ARGV[2]) then
    return -1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if member ~= ARGV[1] then
        return 0
    end
end
return 1
"""

_ASK_TIMEOUT_SECONDS = 10.0


class StackBusy(errors.StackBusy):
    """The shared StackBusy that workers catch, plus who holds the stack (for logs)."""

    def __init__(self, stack: str, holder: str | None = None) -> None:
        super().__init__(stack)
        self.holder = holder


@dataclass
class Lease:
    stack: str
    owner: str
    token: str
    lost: bool = False
    acquired_at: float = field(default_factory=time.time)
    abandoned: bool = False
    fence: int = 0
    # Asked from the engine's thread: True only when no other holder of this stack is alive (see _ALONE).
    # Unset means nobody can say, which never lets a lock count as stale.
    alone: Callable[[], bool] | None = None

    def abandon(self) -> None:
        """Leave the lease to expire on its own instead of releasing it: the change it guards may still
        be running (an engine that did not stop when asked), so the stack must not look free yet."""
        self.abandoned = True


# The lease this task holds while it drives Pulumi. asyncio.to_thread copies the context, so the engine's
# worker thread sees it too: a Pulumi lock found while holding the lease cannot belong to a live
# infrabot worker, since that worker would still hold the lease (see infra/stale_locks.py).
current_lease: ContextVar[Lease | None] = ContextVar("infrabot_stack_lease", default=None)


class StackLock:
    def __init__(self, redis: Redis, *, prefix: str = STACK_LOCK_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        # A worker holding a stack through a long Pulumi run takes back a lease that vanished with Redis.
        self._leases = RedisLease(redis, prefix, retake=True)
        self._beat = redis.register_script(_BEAT)
        self._alone = redis.register_script(_ALONE)

    def key(self, stack: str) -> str:
        return self._leases.key(stack)

    def _alive_key(self, stack: str) -> str:
        return f"{STACK_ALIVE_PREFIX}{stack}"

    async def acquire(self, stack: str, owner: str, ttl: float) -> str | None:
        """One attempt; returns the lease token, or None if someone else holds the stack.

        A second run of the same job gets a fresh token and is refused too: two copies of one job
        must not both drive Pulumi.
        """
        grant = await self._leases.acquire(stack, owner, ttl)
        return grant.token if grant else None

    async def renew(self, stack: str, token: str, ttl: float) -> bool:
        return await self._leases.renew(self._grant(stack, token, ttl))

    async def release(self, stack: str, token: str) -> bool:
        return await self._leases.release(self._grant(stack, token, 0.0))

    async def holder(self, stack: str) -> str | None:
        return await self._leases.holder(stack)

    def _grant(self, stack: str, token: str, ttl: float) -> Grant:
        return Grant(key=self.key(stack), token=token, fence=0, ttl=ttl, valid_until=0.0)

    async def _beat_alive(self, stack: str, token: str, ttl: float) -> None:
        await self._beat(keys=[self._alive_key(stack), LEASE_EPOCH_KEY], args=[token, _ms(ttl)])

    async def is_alone(self, stack: str, token: str, ttl: float) -> int:
        """1, 0 or -1 as _ALONE says."""
        return int(await self._alone(keys=[self._alive_key(stack), LEASE_EPOCH_KEY], args=[token, _ms(ttl)]))

    @asynccontextmanager
    async def hold(
        self, stack: str, owner: str, ttl: float = STACK_LOCK_TTL_SECONDS, *, wait: float = 0.0, poll: float = 0.5
    ) -> AsyncIterator[Lease]:
        """Hold the stack for the duration of the block, renewing the lease every ttl/3.

        Raises StackBusy if another owner still holds it after `wait` seconds.
        """
        deadline = time.monotonic() + wait
        while True:
            grant = await self._leases.acquire(stack, owner, ttl)
            if grant is not None:
                break
            if time.monotonic() >= deadline:
                raise StackBusy(stack, await self.holder(stack))
            await asyncio.sleep(min(poll, max(deadline - time.monotonic(), 0.01)))

        try:
            await self._beat_alive(stack, grant.token, ttl)
        except BaseException:
            await self._leases.release(grant)
            raise
        lease = Lease(stack=stack, owner=owner, token=grant.token, fence=grant.fence,
                      alone=self._asker(stack, grant.token, ttl))

        def lost(_: Grant) -> None:
            # The lease expired (e.g. the loop was blocked longer than the TTL) and may now be someone
            # else's: say so, since the running Pulumi process cannot be stopped from here.
            lease.lost = True
            log.error("lost the lease on stack %s held by %s", stack, owner)

        async def beat(g: Grant) -> None:
            # Beats on after losing the lease: this holder's Pulumi may still be running.
            await self._beat_alive(stack, g.token, ttl)

        heartbeat = asyncio.create_task(self._leases.keep(grant, on_lost=lost, on_beat=beat))
        held = current_lease.set(lease)
        try:
            yield lease
        finally:
            current_lease.reset(held)
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
            if not lease.abandoned:
                await self._leases.release(grant)
                with suppress(Exception):
                    await self._redis.zrem(self._alive_key(stack), grant.token)

    def _asker(self, stack: str, token: str, ttl: float) -> Callable[[], bool]:
        """`Lease.alone` for the engine's thread, answered on this event loop."""
        loop = asyncio.get_running_loop()

        def alone() -> bool:
            future = asyncio.run_coroutine_threadsafe(self.is_alone(stack, token, ttl), loop)
            try:
                answer = future.result(_ASK_TIMEOUT_SECONDS)
            except (concurrent.futures.TimeoutError, Exception):
                log.warning("could not tell whether another holder of %s is alive", stack, exc_info=True)
                return False
            if answer < 0:
                log.info("stack %s: too soon after Redis came back empty to call a lock stale", stack)
            return answer == 1

        return alone


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


__all__ = ["Lease", "StackBusy", "StackLock", "current_lease", "owner_of"]
