"""The line of jobs waiting for a busy stack, so each can tell its person where it stands.

Order is arrival order. A waiting job refreshes its entry each time it finds the stack still busy;
entries not refreshed for `stale_seconds` belong to jobs that were cancelled or lost their worker and
are dropped. Losing the whole line (Redis emptied) only loses places, never jobs: they rejoin.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from infra.redis_keys import STACK_LINE_PREFIX, STACK_LINE_STALE_SECONDS


class WaitLine:
    def __init__(self, redis: Redis, stale_seconds: float = STACK_LINE_STALE_SECONDS) -> None:
        self.redis = redis
        self.stale = stale_seconds

    async def place(self, stack: str, job_id: str) -> int:
        """Joins (or stays in) the line and returns how many jobs wait ahead of this one."""
        line, seen = STACK_LINE_PREFIX + stack, STACK_LINE_PREFIX + stack + ":seen"
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(line, {job_id: now}, nx=True)
            pipe.zadd(seen, {job_id: now})
            pipe.zrangebyscore(seen, "-inf", now - self.stale)
            for key in (line, seen):
                pipe.expire(key, int(self.stale * 2) + 1)
            _, _, stale, *_ = await pipe.execute()
        if stale:
            await self.redis.zrem(line, *stale)
            await self.redis.zrem(seen, *stale)
        rank = await self.redis.zrank(line, job_id)
        return int(rank or 0)

    async def leave(self, stack: str, job_id: str) -> None:
        await self.redis.zrem(STACK_LINE_PREFIX + stack, job_id)
        await self.redis.zrem(STACK_LINE_PREFIX + stack + ":seen", job_id)


def waiting_text(stack: str, ahead: int) -> str:
    if ahead == 0:
        return f"Waiting for another change on {stack} to finish; this one is next."
    changes = "change is" if ahead == 1 else "changes are"
    return f"Waiting for another change on {stack} to finish; {ahead} more {changes} ahead in line."
