"""The arq worker: the only process that builds an engine and so the only one holding cloud credentials."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker, func
from redis.asyncio import Redis

from config.policy import policy_from_settings
from config.settings import Settings
from core.ports import Engine
from infra.errors import EngineConfigError
from infra.locks import StackLock
from jobs.stores.connections import arq_client, redis_client
from jobs.stores.doc_lock import DocLocks
from jobs.stores.mongo import MongoAudit, MongoJobs, MongoRequests, connect, ensure_indexes, filters_are_atomic
from jobs.stores.queue import QUEUE_NAME, ArqQueue
from jobs.stores.redis_state import RedisStatusSignal
from jobs.worker import tasks
from jobs.worker.reconciler import Reconciler
from jobs.worker.recovery import JobLeases, reaper
from jobs.worker.waitline import WaitLine
from telemetry import gauges, logs, probes
from telemetry.observed import ObservedAudit, ObservedJobs
from telemetry.probe_server import Checks, Refresh, start_probe_server

log = logging.getLogger("infrabot.worker")


def build_engine(settings: Settings) -> Engine:
    if settings.engine == "pulumi":
        from infra.pulumi_engine import PulumiEngine

        return PulumiEngine.from_settings(settings)
    from infra.offline import OfflineEngine
    from infra.state import FileStateStore

    return OfflineEngine(FileStateStore(Path(settings.data_dir) / "offline-state"), project=settings.gcp_project,
                         step_seconds=settings.offline_step_seconds, aws_service=settings.aws_service)


def _local(url: str) -> bool:
    return url.startswith("file:") or "://" not in url


def refuse_local_state(settings: Settings) -> None:
    """A worker on the real engine needs state every worker sees; a file:// backend is one disk's."""
    if settings.engine != "pulumi" or settings.allow_local_pulumi_state:
        return
    url = settings.pulumi_backend_url
    if url is None or _local(url):
        where = url or "the default file backend under DATA_DIR"
        raise EngineConfigError(
            f"refusing to start: Pulumi state would live on this machine's disk ({where}), where another "
            "worker or a new container cannot see it. Set PULUMI_BACKEND_URL=gs://BUCKET (or Pulumi Cloud), "
            "or ALLOW_LOCAL_PULUMI_STATE=true for a single local worker (make run sets it)"
        )


def yield_cpu(increment: int) -> None:
    """Lowers this process's CPU priority, for a process that is only this worker. Measured under the Slack
    benchmark at 50 conversations on two cores, a worker at the chat process's priority held up replies
    while it evaluated plans; the worker's own jobs have nobody waiting on them to the millisecond."""
    if increment > 0:
        os.nice(increment)


async def settle(warm: Callable[[], None] | None) -> None:
    """Warms the engine, then moves what start-up made out of the garbage collector's sight, for a process of
    its own (`infrabot worker`). A full collection walks every tracked object, and the provider SDKs' modules
    are most of them: under the Slack benchmark the worker's full collections stopped it for about 0.3 s each,
    holding up status writes, and about 0.05 s once frozen."""
    if warm is not None:
        await asyncio.to_thread(warm)
    gc.collect()
    gc.freeze()


class InfrabotWorker(Worker):
    async def close(self) -> None:
        """arq 0.28's close() with one change: it waits for the jobs it has just cancelled with a plain gather,
        and one cancelled before it began (in arq's own set-up or the job-start hook) re-raises its
        CancelledError there, before the shutdown hook; the reconciler, the reaper and the clients then
        outlived the worker. Here every job's end is awaited, whatever it ends with."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.close(close_connection_pool=True)
        self._pool = None


def make_worker(
    settings: Settings, redis_url: str, mongodb_url: str, *, metrics_port: int | None = None,
    settle_heap: bool = False, **overrides: Any
) -> InfrabotWorker:
    """`metrics_port` serves /metrics, /livez and /readyz (0 picks a free port, kept in ctx["probes"]);
    `settle_heap` is for a process that is only this worker (see `settle`)."""
    stop = tasks.Shutdown()

    async def startup(ctx: dict[str, Any]) -> None:
        try:
            await start(ctx)
        except Exception:
            if not ctx.get("shut"):
                raise
        if ctx.get("shut"):
            # arq's close() ran the shutdown while this was still starting: a cancellation lost on the way (seen
            # in arq's first Redis call, before startup) lets startup go on, and what it made after that shutdown
            # would outlive the worker, its reconciler holding the leader lease and its loop taking jobs.
            await shutdown(ctx)
            raise asyncio.CancelledError
        log.info("worker ready (engine: %s)", ctx["deps"].engine.name)

    async def start(ctx: dict[str, Any]) -> None:
        # Each resource goes into ctx as soon as it exists, so a shutdown at any point closes it.
        client, db = connect(mongodb_url, settings.mongodb_db)
        ctx["mongo"] = client
        redis = ctx["signal_redis"] = redis_client(redis_url)
        await ensure_indexes(db)
        locks = DocLocks(redis, fence_in_filter=await filters_are_atomic(db))
        lease = settings.job_lease_seconds
        ctx["leases"] = JobLeases(redis, lease)
        jobs = MongoJobs(db, locks)
        deps = ctx["deps"] = tasks.Deps(
            jobs=ObservedJobs(jobs, label_logs=True),
            requests=MongoRequests(db, locks),
            audit=ObservedAudit(MongoAudit(db)),
            signal=RedisStatusSignal(redis),
            engine=build_engine(settings),
            lock=StackLock(redis),
            queue=ArqQueue(ctx["redis"]),
            line=WaitLine(redis, stale_seconds=max(tasks.BUSY_RETRY_SECONDS * 6, lease * 2)),
            timeout_seconds=settings.job_timeout_seconds,
            lease_seconds=lease,
            shutdown=stop,
            policy=policy_from_settings(settings),
        )
        reconciler = Reconciler(deps, jobs, ctx["redis"], every_seconds=max(lease, 1.0),
                                deadline_seconds=settings.job_deadline_seconds)
        ctx["background"] = [
            asyncio.create_task(reaper(redis, QUEUE_NAME, lease / 2)),
            asyncio.create_task(reconciler.run()),
        ]
        warm = getattr(deps.engine, "warm", None)
        if settle_heap:
            ctx["background"].append(asyncio.create_task(settle(warm)))
        elif warm is not None:
            ctx["background"].append(asyncio.create_task(asyncio.to_thread(warm)))
        if metrics_port is not None:
            ctx["probes"] = await start_probe_server(metrics_port, *_probes(redis, db, jobs))

    async def job_started(ctx: dict[str, Any]) -> None:
        # Runs in the job's own task before the job: every line of the job, arq's included, carries its
        # id, and its request, thread and platform once the record is read (ObservedJobs binds them).
        logs.bind(job_id=ctx["job_id"])
        try:
            await ctx["leases"].started(ctx)
            await ctx["deps"].jobs.get(ctx["job_id"])
        except Exception:
            # The job still runs; without a lease the reaper or reconciler may hand it on, and tasks are
            # idempotent, so this costs at most a second run.
            log.warning("could not take the lease of job %s", ctx["job_id"], exc_info=True)

    async def job_ended(ctx: dict[str, Any]) -> None:
        try:
            await ctx["leases"].ended(ctx)
        except Exception:
            log.warning("could not drop the lease of job %s; it expires on its own", ctx["job_id"], exc_info=True)

    async def shutdown(ctx: dict[str, Any]) -> None:
        """Closes what startup made so far; a second call (from a startup that outran it) closes the rest."""
        ctx["shut"] = True
        if "probes" in ctx:
            await ctx.pop("probes").stop()
        background = ctx.pop("background", [])
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if "leases" in ctx:
            # Jobs cut off by the shutdown keep no heartbeat: their leases lapse and they run again elsewhere.
            await ctx.pop("leases").stop()
        if "signal_redis" in ctx:
            await ctx.pop("signal_redis").aclose()
        if "mongo" in ctx:
            await ctx.pop("mongo").close()

    # Tasks time themselves out (a readable end) and count their own attempts (waiting for a busy stack
    # is not one); arq's limits are only a backstop behind those.
    timeout = settings.job_timeout_seconds + tasks.WIND_DOWN_SECONDS + 30
    tries = 10_000
    options: dict[str, Any] = {
        "functions": [
            func(tasks.plan, name="plan", timeout=timeout, max_tries=tries),
            func(tasks.apply, name="apply", timeout=timeout, max_tries=tries),
            func(tasks.destroy, name="destroy", timeout=timeout, max_tries=tries),
        ],
        "redis_settings": RedisSettings.from_dsn(redis_url),
        "redis_pool": arq_client(redis_url),
        "queue_name": QUEUE_NAME,
        # arq's 0.5 s default poll would dominate pick-up latency.
        "poll_delay": settings.worker_poll_delay,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "on_job_start": job_started,
        "on_job_end": job_ended,
        "handle_signals": False,
        # With handle_signals=True (infrabot worker): SIGTERM stops picking jobs and lets running ones finish
        # for the grace period; what is still running then is cancelled and re-run elsewhere (leases lapse).
        "job_completion_wait": int(settings.shutdown_grace_seconds),
        "max_jobs": 4,
        "keep_result": 3600,
    }
    options.update(overrides)
    worker = InfrabotWorker(**options)

    def stopping(_signal: object) -> None:
        stop.stopping = True

    # arq calls this right after cancelling the jobs still running and before they see it.
    worker.on_stop = stopping
    return worker


def _probes(redis: Redis, db: Any, jobs: MongoJobs) -> tuple[Checks, Refresh]:
    async def checks() -> dict[str, bool]:
        return {"queue": await probes.redis_ok(redis), "mongodb": await probes.mongo_ok(db)}

    async def refresh() -> None:
        await gauges.refresh_queue(redis, QUEUE_NAME)
        await gauges.refresh_jobs(jobs)

    return checks, refresh
