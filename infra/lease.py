"""Leases in Redis: one holder per name at a time, renewed while held, each grant with a fencing token.

The one mechanism behind the stack lease (infra/locks.py), the document locks (jobs/stores/doc_lock.py) and the
reconciler's leader lease (jobs/worker/reconciler.py).

- A holder's token (`<owner>|<nonce>`) is the key's value: only that holder renews or releases it, so a
  holder whose lease lapsed while it was stalled cannot drop (or extend) the lease of whoever has it now.
- Every grant also gets a fencing token: a number larger than any earlier grant's, on any lease. It is
  Redis's clock in microseconds, or one more than the last one given if that is larger (an INCR that
  cannot go backwards): a counter alone would start again from 1 after Redis restarts empty, and the
  stores would then refuse every new holder as older than the last one they saw.
- `valid_until` is how long the holder may act on the lease, by its own monotonic clock: counted from
  before the request that took or renewed it was sent, so it never outlasts the lease in Redis (short of
  clocks running at different rates, which `margin` covers).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from infra.redis_keys import LEASE_FENCE_KEY

log = logging.getLogger("infrabot.lease")


_ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return 0
end
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local fence = math.max(clock, last + 1)
redis.call('SET', KEYS[2], string.format('%.0f', fence))
return fence
"""

# 1: renewed; 2: the key had vanished (Redis restarted empty or was flushed) and was taken back, when
# ARGV[3] allows it; 0: someone else holds it, or it vanished and taking it back is not allowed.
_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if not current and ARGV[3] == '1' then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 2
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def owner_of(token: str | None) -> str | None:
    """Tokens are `<owner>|<nonce>`: the owner is readable, the nonce makes each hold unique."""
    if token is None:
        return None
    return token.rsplit("|", 1)[0]


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


@dataclass
class Grant:
    key: str
    token: str
    fence: int
    ttl: float
    valid_until: float
    lost: bool = False
    acquired_at: float = field(default_factory=time.time)

    def remaining(self, margin: float = 0.0) -> float:
        """Seconds left to act on this grant, keeping `margin` (a fraction of the TTL) in hand."""
        if self.lost:
            return 0.0
        return self.valid_until - time.monotonic() - margin * self.ttl


class RedisLease:
    """Leases named under `prefix`; `retake` lets a holder take back a lease that vanished with Redis's
    keyspace (nobody else holds it then) instead of counting it lost."""

    def __init__(self, redis: Redis, prefix: str, *, retake: bool = False) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retake = retake
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def acquire(self, name: str, owner: str, ttl: float, token: str | None = None) -> Grant | None:
        """One attempt; None if someone else holds it. Each attempt has a fresh token unless one is given,
        so a second copy of the same holder (a job run twice) is refused too."""
        token = token or f"{owner}|{uuid.uuid4().hex}"
        sent = time.monotonic()
        fence = int(await self._acquire(keys=[self.key(name), LEASE_FENCE_KEY], args=[token, _ms(ttl)]))
        if not fence:
            return None
        return Grant(key=self.key(name), token=token, fence=fence, ttl=ttl, valid_until=sent + ttl)

    async def renew(self, grant: Grant) -> bool:
        """Extends the lease by its TTL; False (and the grant marked lost) once someone else has it."""
        if grant.lost:
            return False
        sent = time.monotonic()
        result = int(await self._renew(keys=[grant.key], args=[grant.token, _ms(grant.ttl),
                                                               "1" if self.retake else "0"]))
        if result == 0:
            grant.lost = True
            return False
        if result == 2:
            log.warning("took back the lease %s after it vanished from Redis", grant.key)
        grant.valid_until = sent + grant.ttl
        return True

    async def release(self, grant: Grant) -> bool:
        return bool(await self._release(keys=[grant.key], args=[grant.token]))

    async def holder(self, name: str) -> str | None:
        value = await self.redis.get(self.key(name))
        return owner_of(value.decode() if isinstance(value, bytes) else value)

    async def keep(self, grant: Grant, on_lost: Callable[[Grant], None] | None = None,
                   on_beat: Callable[[Grant], Awaitable[object]] | None = None) -> None:
        """Renews every third of the TTL until cancelled or lost. A failed call is tried again next beat:
        one Redis blip must not end a hold that is going well. `on_beat` runs every beat, lost or not."""
        interval = max(grant.ttl / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            if on_beat is not None:
                try:
                    await on_beat(grant)
                except Exception:
                    log.warning("heartbeat of %s failed; trying again", grant.key, exc_info=True)
            if grant.lost:
                continue
            try:
                renewed = await self.renew(grant)
            except Exception:
                log.warning("could not renew %s; trying again", grant.key, exc_info=True)
                continue
            if not renewed:
                log.error("lost the lease %s", grant.key)
                if on_lost is not None:
                    on_lost(grant)
                if on_beat is None:
                    return
