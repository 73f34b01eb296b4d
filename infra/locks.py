"""One change at a time per Pulumi stack, across every worker process, held in Redis.

Pulumi's own stack lock only says "busy" once the CLI is already running; this lease lets a worker
find out before it starts, and tell the person they are next instead of failing.

Waiting policy: `hold(..., wait=0)` (the default) refuses at once with `StackBusy`, so an arq job can
`Retry` later instead of tying up a worker slot; `wait=N` polls for up to N seconds first.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field

from redis.asyncio import Redis

from infra import errors

log = logging.getLogger(__name__)

KEY_PREFIX = "infrabot:stack-lock:"

# Only the holder of the token may extend or drop the lease: a worker whose lease expired while it
# was stalled must not delete the lease a newer worker now holds.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


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

    def abandon(self) -> None:
        """Leave the lease to expire on its own instead of releasing it: the change it guards may still
        be running (an engine that did not stop when asked), so the stack must not look free yet."""
        self.abandoned = True


# The lease this task holds while it drives Pulumi. asyncio.to_thread copies the context, so the engine's
# worker thread sees it too: a Pulumi lock found while holding the lease cannot belong to a live
# infrabot worker, since that worker would still hold the lease (see infra/stale_locks.py).
current_lease: ContextVar[Lease | None] = ContextVar("infrabot_stack_lease", default=None)


def _text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode()
    return value


def owner_of(token: str | None) -> str | None:
    """Tokens are `<owner>|<nonce>`: the owner is readable, the nonce makes each hold unique."""
    if token is None:
        return None
    return token.rsplit("|", 1)[0]


class StackLock:
    def __init__(self, redis: Redis, *, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, stack: str) -> str:
        return f"{self._prefix}{stack}"

    async def acquire(self, stack: str, owner: str, ttl: float) -> str | None:
        """One attempt; returns the lease token, or None if someone else holds the stack.

        A second run of the same job gets a fresh token and is refused too: two copies of one job
        must not both drive Pulumi.
        """
        token = f"{owner}|{uuid.uuid4().hex}"
        ok = await self._redis.set(self.key(stack), token, nx=True, px=_ms(ttl))
        return token if ok else None

    async def renew(self, stack: str, token: str, ttl: float) -> bool:
        return bool(await self._redis.eval(_RENEW, 1, self.key(stack), token, _ms(ttl)))

    async def release(self, stack: str, token: str) -> bool:
        return bool(await self._redis.eval(_RELEASE, 1, self.key(stack), token))

    async def holder(self, stack: str) -> str | None:
        return owner_of(_text(await self._redis.get(self.key(stack))))

    @asynccontextmanager
    async def hold(
        self, stack: str, owner: str, ttl: float = 60.0, *, wait: float = 0.0, poll: float = 0.5
    ) -> AsyncIterator[Lease]:
        """Hold the stack for the duration of the block, renewing the lease every ttl/3.

        Raises StackBusy if another owner still holds it after `wait` seconds.
        """
        deadline = time.monotonic() + wait
        while True:
            token = await self.acquire(stack, owner, ttl)
            if token is not None:
                break
            if time.monotonic() >= deadline:
                raise StackBusy(stack, await self.holder(stack))
            await asyncio.sleep(min(poll, max(deadline - time.monotonic(), 0.01)))

        lease = Lease(stack=stack, owner=owner, token=token)
        heartbeat = asyncio.create_task(self._heartbeat(lease, ttl))
        held = current_lease.set(lease)
        try:
            yield lease
        finally:
            current_lease.reset(held)
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
            if not lease.abandoned:
                await self.release(stack, token)

    async def _heartbeat(self, lease: Lease, ttl: float) -> None:
        interval = max(ttl / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                renewed = await self.renew(lease.stack, lease.token, ttl)
            except Exception:  # a Redis blip must not kill the change in progress; try again next beat
                log.warning("could not renew the lease on %s", lease.stack, exc_info=True)
                continue
            if not renewed and await self._redis.set(self.key(lease.stack), lease.token, nx=True, px=_ms(ttl)):
                # The key vanished (Redis restarted empty or was flushed) rather than passing to someone
                # else: take it back before another worker sees the stack as free.
                log.warning("re-took the lease on stack %s after it vanished", lease.stack)
                continue
            if not renewed:
                # The lease expired (e.g. the loop was blocked longer than the TTL) and may now be
                # someone else's: say so, since the running Pulumi process cannot be stopped from here.
                lease.lost = True
                log.error("lost the lease on stack %s held by %s", lease.stack, lease.owner)
                return


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)
