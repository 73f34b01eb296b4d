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

from infra.lease import Grant, RedisLease
from infra.redis_keys import JOB_LEASE_PREFIX, JOB_LEASE_TTL_SECONDS

log = logging.getLogger("infrabot.recovery")


class JobLeases:
    """arq `on_job_start` / `on_job_end` hooks that keep a heartbeat lease per running job (infra/lease.py).

    A lease that vanished with Redis's keyspace is taken back, since the job is still running here; one
    that another run of the same job holds is left to it (arq runs a job at least once, not at most)."""

    def __init__(self, redis: Redis, ttl_seconds: float = JOB_LEASE_TTL_SECONDS) -> None:
        self.leases = RedisLease(redis, JOB_LEASE_PREFIX, retake=True)
        self.ttl = ttl_seconds
        self._held: dict[str, tuple[Grant, asyncio.Task[None]]] = {}

    async def started(self, ctx: dict[str, Any]) -> None:
        job_id = ctx["job_id"]
        grant = await self.leases.acquire(job_id, "worker", self.ttl)
        if grant is None:
            log.warning("job %s already has a lease: another run of it holds it", job_id)
            return
        self._held[job_id] = (grant, asyncio.create_task(self.leases.keep(grant)))

    async def stop(self) -> None:
        held = list(self._held.values())
        self._held.clear()
        for _, beat in held:
            beat.cancel()
        for _, beat in held:
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def ended(self, ctx: dict[str, Any]) -> None:
        held = self._held.pop(ctx["job_id"], None)
        if held is None:
            return
        grant, beat = held
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        await self.leases.release(grant)


async def reap(redis: Redis, queue_name: str, suspects: set[str]) -> tuple[list[str], set[str]]:
    """One pass: returns the jobs freed now and the ones to look at again next pass."""
    freed: list[str] = []
    still: set[str] = set()
    for raw in await redis.zrange(queue_name, 0, -1):
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        running = await redis.exists(in_progress_key_prefix + job_id)
        if not running or await redis.exists(JOB_LEASE_PREFIX + job_id):
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
