"""arq adapter for the JobQueue port."""

from __future__ import annotations

from arq.connections import ArqRedis

from infra.redis_keys import QUEUE_NAME


class ArqQueue:
    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    async def enqueue(self, task: str, job_id: str) -> bool:
        """The job id doubles as arq's: a second enqueue of the same id is a no-op and returns False."""
        job = await self.redis.enqueue_job(task, job_id, _job_id=job_id, _queue_name=QUEUE_NAME)
        return job is not None
