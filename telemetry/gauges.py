"""Gauges read from the stores when Prometheus scrapes: queue depth, open jobs, relay lag.

Reading at scrape time keeps them exact without a background loop; each read is one small query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

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


async def refresh_jobs(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Open jobs per kind and phase, and how long the oldest has been in it (the stuck-job alert's input)."""
    now = datetime.now(UTC)
    counts = {(k, p): 0 for k in KINDS for p in OPEN_PHASES}
    oldest = dict.fromkeys(counts, 0.0)
    cursor = db.jobs.find({"phase": {"$in": list(OPEN_PHASES)}},
                          {"kind": 1, "phase": 1, "created_at": 1, "started_at": 1})
    async for doc in cursor:
        key = (str(doc.get("kind")), str(doc.get("phase")))
        counts[key] = counts.get(key, 0) + 1
        since = doc.get("created_at") if key[1] == "queued" else doc.get("started_at") or doc.get("created_at")
        oldest[key] = max(oldest.get(key, 0.0), _age(since, now))
    for (kind, phase), n in counts.items():
        metrics.JOBS_OPEN.labels(kind, phase).set(n)
        metrics.JOB_OLDEST_SECONDS.labels(kind, phase).set(oldest[(kind, phase)])


async def refresh_relay(db: AsyncDatabase[dict[str, Any]], platforms: list[str]) -> None:
    """How far this process's cards are behind: the oldest status change not yet relayed."""
    lag = 0.0
    if platforms:
        doc = await db.jobs.find_one({"relay_pending": True, "thread.platform": {"$in": platforms}},
                                     {"updated_at": 1, "created_at": 1}, sort=[("updated_at", 1)])
        if doc:
            lag = _age(doc.get("updated_at") or doc.get("created_at"), datetime.now(UTC))
    metrics.RELAY_LAG_SECONDS.set(lag)
