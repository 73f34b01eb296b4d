"""Makes MongoDB's open jobs true again in Redis: the queue may be lost, the jobs may not.

Redis holds the queue, the leases and arq's bookkeeping; MongoDB holds the jobs. When Redis restarts
empty (a failover, a Memorystore Basic restart, FLUSHALL) or arq gives up on a job without calling it
(its last try was used up), MongoDB still shows the job queued or running and nothing would ever move
it. One worker at a time (a leader lease in Redis) looks at every open job each pass:

- a live job lease: a worker has it; nothing to do;
- past its deadline: failed with a message, whatever else is true;
- arq still has the job (queued or deferred): nothing to do;
- arq has a result but the job never wrote its end: arq gave up on it; failed with arq's reason, except
  when that reason is that the job's data was gone ("job expired"): Redis lost it, so it is queued again;
- none of these on two passes at least a lease apart (a worker renews its lease within a third of
  that, also after Redis came back empty): queued again under its own id, so a job that reappeared
  meanwhile makes the enqueue a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job
from arq.worker import JobExecutionFailed

from infra.lease import Grant, RedisLease
from infra.redis_keys import JOB_LEASE_PREFIX, LEADER_NAME, LEADER_PREFIX, QUEUE_NAME
from jobs.stores.mongo import MongoJobs
from jobs.stores.queue import ArqQueue
from jobs.worker import tasks

log = logging.getLogger("infrabot.reconciler")


class Reconciler:
    def __init__(
        self, deps: tasks.Deps, jobs: MongoJobs, redis: ArqRedis, *, every_seconds: float, deadline_seconds: float
    ) -> None:
        self.deps = deps
        self.jobs = jobs
        self.redis = redis
        self.queue = ArqQueue(redis)
        self.every = every_seconds
        self.deadline = timedelta(seconds=deadline_seconds)
        self.token = f"reconciler|{uuid.uuid4().hex}"
        self.leader = RedisLease(redis, LEADER_PREFIX)
        self._grant: Grant | None = None
        self._suspects: set[str] = set()

    async def lead(self) -> bool:
        """Holds (or takes) the leader lease for a little over two passes."""
        if self._grant is not None and await self.leader.renew(self._grant):
            return True
        self._grant = await self.leader.acquire(LEADER_NAME, "reconciler", self.every * 2.5, token=self.token)
        return self._grant is not None

    async def reconcile(self) -> dict[str, list[str]]:
        """One pass; returns what it did, by action."""
        done: dict[str, list[str]] = {"requeued": [], "failed": [], "suspect": []}
        now = datetime.now(UTC)
        suspects: set[str] = set()
        for status in await self.jobs.open_jobs():
            job_id = status.job_id
            if await self.redis.exists(JOB_LEASE_PREFIX + job_id):
                continue
            if status.created_at and now - status.created_at > self.deadline:
                hours = self.deadline.total_seconds() / 3600
                if await tasks.give_up(self.deps, job_id, f"stopped waiting: it did not finish within "
                                       f"{hours:g} hours of being queued"):
                    done["failed"].append(job_id)
                continue
            if await self.redis.exists(job_key_prefix + job_id):
                continue
            if await self.redis.exists(result_key_prefix + job_id):
                outcome = await self._gave_up(job_id)
                if outcome == "lost" and await self.queue.enqueue(status.kind, job_id):
                    log.warning("job %s was dropped by arq after Redis lost its data; queued it again", job_id)
                    done["requeued"].append(job_id)
                elif outcome == "failed":
                    done["failed"].append(job_id)
                continue
            if job_id not in self._suspects:
                suspects.add(job_id)
                done["suspect"].append(job_id)
                continue
            if await self.queue.enqueue(status.kind, job_id):
                log.warning("job %s was %s in MongoDB but unknown to the queue; queued it again", job_id,
                            status.phase)
                done["requeued"].append(job_id)
        self._suspects = suspects
        return done

    async def _gave_up(self, job_id: str) -> str | None:
        """What arq's result for an open job means: "failed" (the job is now failed with arq's reason),
        "lost" (arq never ran it: queue it again) or None (nothing to do this pass)."""
        info = await Job(job_id, self.redis, _queue_name=QUEUE_NAME).result_info()
        if info is None:
            return None
        if info.success:
            # The task returned without writing an end (it should not); run it again to converge.
            await self.redis.delete(result_key_prefix + job_id)
            return None
        if isinstance(info.result, JobExecutionFailed) and str(info.result) == "job expired":
            # A task that asks to be retried after Redis lost its keyspace (a failover, FLUSHALL) has arq put
            # its bare id back in the queue, without the job's data; the next worker to take it finds no data
            # and drops it as "expired" without calling the task. Nothing ran: that is no reason to fail it.
            await self.redis.delete(result_key_prefix + job_id)
            return "lost"
        reason = f"stopped after {info.job_try} tries ({info.result})"
        return "failed" if await tasks.give_up(self.deps, job_id, reason) else None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                if await self.lead():
                    await self.reconcile()
                else:
                    self._suspects.clear()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("reconciler pass failed; trying again next pass", exc_info=True)
