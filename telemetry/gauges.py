"""Gauges read from the stores when Prometheus scrapes: queue depth, open jobs, relay lag.

Reading at scrape time keeps them exact without a background loop; each read is one small query.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis

from core.job import JobStatus
from telemetry import metrics

KINDS = ("plan", "apply", "destroy")
OPEN_PHASES = ("queued", "running", "applying")


def _age(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if moment.tzinfo is None:  # MongoDB hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return max((now - moment).total_seconds(), 0.0)


async def refresh_queue(redis: Redis, queue_name: str) -> None:
    metrics.QUEUE_DEPTH.set(await redis.zcard(queue_name))


class OpenJobs(Protocol):
    async def open_jobs(self, limit: int = 500) -> list[JobStatus]: ...


async def refresh_jobs(jobs: OpenJobs) -> None:
    """Open jobs per kind and phase, and how long the oldest has been in it (the stuck-job alert's input).

    Read through the keyed list of open jobs: a query on `phase` makes FerretDB v1 scan every job ever run
    (seconds with ten thousand of them), on every scrape.
    """
    now = datetime.now(UTC)
    counts = {(k, p): 0 for k in KINDS for p in OPEN_PHASES}
    oldest = dict.fromkeys(counts, 0.0)
    for job in await jobs.open_jobs():
        key = (job.kind, str(job.phase))
        counts[key] = counts.get(key, 0) + 1
        since = job.created_at if key[1] == "queued" else job.started_at or job.created_at
        oldest[key] = max(oldest.get(key, 0.0), _age(since, now))
    for (kind, phase), n in counts.items():
        metrics.JOBS_OPEN.labels(kind, phase).set(n)
        metrics.JOB_OLDEST_SECONDS.labels(kind, phase).set(oldest[(kind, phase)])


class WaitingWork(Protocol):
    async def oldest(self, platforms: list[str]) -> float | None: ...


async def refresh_relay(work: WaitingWork, platforms: list[str]) -> None:
    """How far this process's cards are behind: the oldest status change waiting on the relay's work list.

    Read from the Redis list, not from MongoDB: a query on `relay_pending` makes FerretDB scan every job ever
    run, on every scrape. A failed card waiting for its retry counts from when the retry is due.
    """
    oldest = await work.oldest(platforms) if platforms else None
    metrics.RELAY_LAG_SECONDS.set(max(time.time() - oldest, 0.0) if oldest is not None else 0.0)
