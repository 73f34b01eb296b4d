"""A job's heartbeat outlives one failed renewal, so a running job is never handed to a second worker."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from bots.runtime import Runtime
from infra.redis_keys import JOB_LEASE_PREFIX
from jobs.worker.recovery import JobLeases


async def test_the_lease_is_renewed_after_a_failed_renewal(runtime: Runtime) -> None:
    leases = JobLeases(runtime.redis, ttl_seconds=0.3)
    real_renew = leases.leases._renew
    failures = 0

    async def flaky_renew(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RedisConnectionError("connection reset")
        return await real_renew(*args, **kwargs)

    ctx = {"job_id": "job-flaky"}
    await leases.started(ctx)
    leases.leases._renew = flaky_renew  # type: ignore[assignment]
    try:
        await asyncio.sleep(0.9)  # several renewal periods, longer than the lease itself
        assert failures == 1
        assert await runtime.redis.exists(JOB_LEASE_PREFIX + "job-flaky")
    finally:
        await leases.ended(ctx)
    assert not await runtime.redis.exists(JOB_LEASE_PREFIX + "job-flaky")
