"""The arq worker: the only process that builds an engine and so the only one holding cloud credentials."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker, func
from redis.asyncio import Redis

from config.settings import Settings
from core.ports import Engine
from infra.locks import StackLock
from jobs import tasks
from jobs.doc_lock import DocLocks
from jobs.mongo_store import MongoAudit, MongoJobs, MongoRequests, connect, ensure_indexes
from jobs.queue import QUEUE_NAME
from jobs.recovery import JobLeases, reaper
from jobs.redis_state import RedisStatusSignal

log = logging.getLogger("infrabot.worker")


def build_engine(settings: Settings) -> Engine:
    if settings.engine == "pulumi":
        from infra.pulumi_engine import PulumiEngine

        return PulumiEngine.from_settings(settings)
    from infra.offline import OfflineEngine
    from infra.state import FileStateStore

    return OfflineEngine(FileStateStore(Path(settings.data_dir) / "offline-state"), project=settings.gcp_project)


def make_worker(settings: Settings, redis_url: str, mongodb_url: str, **overrides: Any) -> Worker:
    async def startup(ctx: dict[str, Any]) -> None:
        client, db = connect(mongodb_url, settings.mongodb_db)
        await ensure_indexes(db)
        redis = Redis.from_url(redis_url)
        ctx["mongo"], ctx["signal_redis"] = client, redis
        locks = DocLocks(redis)
        ctx["leases"] = JobLeases(redis, settings.job_lease_seconds)
        ctx["reaper"] = asyncio.create_task(reaper(redis, QUEUE_NAME, settings.job_lease_seconds / 2))
        ctx["deps"] = tasks.Deps(
            jobs=MongoJobs(db, locks),
            requests=MongoRequests(db, locks),
            audit=MongoAudit(db),
            signal=RedisStatusSignal(redis),
            engine=build_engine(settings),
            lock=StackLock(redis),
        )
        log.info("worker ready (engine: %s)", ctx["deps"].engine.name)

    async def job_started(ctx: dict[str, Any]) -> None:
        await ctx["leases"].started(ctx)

    async def job_ended(ctx: dict[str, Any]) -> None:
        await ctx["leases"].ended(ctx)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "reaper" in ctx:
            ctx["reaper"].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ctx["reaper"]
        if "leases" in ctx:
            # Jobs cut off by the shutdown keep no heartbeat: their leases lapse and they run again elsewhere.
            await ctx["leases"].stop()
        if "signal_redis" in ctx:
            await ctx["signal_redis"].aclose()
        if "mongo" in ctx:
            await ctx["mongo"].close()

    timeout = settings.job_timeout_seconds
    options: dict[str, Any] = {
        "functions": [
            func(tasks.plan, name="plan", timeout=timeout, max_tries=5),
            func(tasks.apply, name="apply", timeout=timeout, max_tries=5),
            func(tasks.destroy, name="destroy", timeout=timeout, max_tries=5),
        ],
        "redis_settings": RedisSettings.from_dsn(redis_url),
        "queue_name": QUEUE_NAME,
        # arq's 0.5 s default poll would dominate pick-up latency.
        "poll_delay": settings.worker_poll_delay,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "on_job_start": job_started,
        "on_job_end": job_ended,
        "handle_signals": False,
        "max_jobs": 4,
        "keep_result": 3600,
    }
    options.update(overrides)
    return Worker(**options)
