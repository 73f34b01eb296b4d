"""The relay's work list in Redis: which jobs have a card change waiting, keyed by job id.

A pass claims a few ids instead of querying MongoDB, so its cost does not grow with the jobs ever run.
MongoDB's `relay_pending` flag stays the truth: when the list may have lost entries (a new or flushed
Redis) the relay rebuilds it from there. A claimed id is leased, so one whose relaying process died comes
back; a failed one is put back later, behind the others, so one broken card never holds up the rest.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from infra.redis_keys import (
    RELAY_CLAIM_SECONDS,
    RELAY_INFLIGHT,
    RELAY_NEW,
    RELAY_PREFIX,
    RELAY_SYNCED,
    relay_list_key,
)

_CLAIM = """
local now, lease, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], 'LT', now, id)
end
local out = {}
for i = 3, #KEYS + 1 do
    local key = KEYS[i] or KEYS[2]
    if #out >= limit then break end
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, limit - #out)) do
        -- A job can wait in two lists (marked, and found again by a rebuild): one claim takes it from both.
        for j = 2, #KEYS do redis.call('ZREM', KEYS[j], id) end
        redis.call('ZADD', KEYS[1], now + lease, id)
        table.insert(out, id)
    end
end
return out
"""


class RedisRelayWork:
    def __init__(self, redis: Redis, lease_seconds: float = RELAY_CLAIM_SECONDS) -> None:
        self.redis = redis
        self.lease = lease_seconds
        self._claim = redis.register_script(_CLAIM)

    async def mark(self, job_id: str, platform: str = "") -> None:
        # NX: a job already waiting (or backing off after a failure) keeps its place.
        await self.redis.zadd(relay_list_key(platform), {job_id: time.time()}, nx=True)

    async def claim(self, platforms: list[str], limit: int) -> list[str]:
        keys = [RELAY_INFLIGHT, RELAY_NEW, *(relay_list_key(p) for p in platforms)]
        ids = await self._claim(keys=keys, args=[time.time(), self.lease, limit])
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def done(self, job_id: str) -> None:
        await self.redis.zrem(RELAY_INFLIGHT, job_id)

    async def later(self, job_id: str, delay: float, platform: str | None = None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(RELAY_INFLIGHT, job_id)
            pipe.zadd(relay_list_key(platform), {job_id: time.time() + delay})
            await pipe.execute()

    async def synced(self) -> bool:
        return bool(await self.redis.exists(RELAY_SYNCED))

    async def rebuild(self, pending: list[tuple[str, str]]) -> None:
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id, platform in pending:
                pipe.zadd(relay_list_key(platform), {job_id: now}, nx=True)
            pipe.set(RELAY_SYNCED, "1")
            await pipe.execute()

    async def oldest(self, platforms: list[str]) -> float | None:
        """When the longest-waiting change on the list was marked (epoch seconds), None when nothing waits.

        A job still waiting for its platform to be known (the shared list) counts too; a claimed one does not.
        """
        keys = [RELAY_NEW, *(relay_list_key(p) for p in platforms)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrange(key, 0, 0, withscores=True)
            firsts = await pipe.execute()
        scores = [float(score) for first in firsts for _, score in first]
        return min(scores) if scores else None

    async def size(self) -> int:
        keys = [k async for k in self.redis.scan_iter(f"{RELAY_PREFIX}:*")]
        total = 0
        for key in keys:
            if key.decode() != RELAY_SYNCED:
                total += await self.redis.zcard(key)
        return total
