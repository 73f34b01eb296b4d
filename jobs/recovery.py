"""Frees the jobs of a worker that died, without waiting for arq's in-progress key to expire.

arq keeps a job's in-progress key for the longest job timeout plus 10 s; with Pulumi timeouts of half an
hour, a crashed worker would hold its jobs that long. Each running job here also holds a short lease that
its worker renews; when a queued job is marked in progress but has had no lease on two passes in a row,
its worker is gone and the in-progress key is dropped so another worker picks the job up (tasks are
idempotent, so re-running converges).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

log = logging.getLogger("infrabot.recovery")

LEASE_PREFIX = "infrabot:job-lease:"


class JobLeases:
    """arq `on_job_start` / `on_job_end` hooks that keep a heartbeat lease per running job."""

    def __init__(self, redis: Redis, ttl_seconds: float = 30.0) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl_seconds * 1000)
        self._beats: dict[str, asyncio.Task[None]] = {}

    async def _beat(self, key: str) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                await self.redis.set(key, "1", px=self.ttl_ms)
            except Exception:
                # One failed renewal must not end the heartbeat: the lease would lapse and the reaper would
                # hand a job that is still running to a second worker.
                log.warning("could not renew the lease %s; trying again", key, exc_info=True)

    async def started(self, ctx: dict[str, Any]) -> None:
        key = LEASE_PREFIX + ctx["job_id"]
        await self.redis.set(key, "1", px=self.ttl_ms)
        self._beats[ctx["job_id"]] = asyncio.create_task(self._beat(key))

    async def stop(self) -> None:
        beats = list(self._beats.values())
        self._beats.clear()
        for beat in beats:
            beat.cancel()
        for beat in beats:
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def ended(self, ctx: dict[str, Any]) -> None:
        beat = self._beats.pop(ctx["job_id"], None)
        if beat:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        await self.redis.delete(LEASE_PREFIX + ctx["job_id"])


async def reap(redis: Redis, queue_name: str, suspects: set[str]) -> tuple[list[str], set[str]]:
    """One pass: returns the jobs freed now and the ones to look at again next pass."""
    freed: list[str] = []
    still: set[str] = set()
    for raw in await redis.zrange(queue_name, 0, -1):
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        running = await redis.exists(in_progress_key_prefix + job_id)
        if not running or await redis.exists(LEASE_PREFIX + job_id):
            continue
        if job_id in suspects:
            await redis.delete(in_progress_key_prefix + job_id)
            log.warning("job %s lost its worker; releasing it to run again", job_id)
            freed.append(job_id)
        else:
            still.add(job_id)
    return freed, still


async def reaper(redis: Redis, queue_name: str, every_seconds: float) -> None:
    suspects: set[str] = set()
    while True:
        await asyncio.sleep(every_seconds)
        try:
            _, suspects = await reap(redis, queue_name, suspects)
        except Exception:
            log.warning("orphaned-job check failed", exc_info=True)
