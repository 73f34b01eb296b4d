"""A job's heartbeat outlives one failed renewal, so a running job is never handed to a second worker."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from bots.runtime import Runtime
from jobs.recovery import LEASE_PREFIX, JobLeases


async def test_the_lease_is_renewed_after_a_failed_renewal(runtime: Runtime) -> None:
    leases = JobLeases(runtime.redis, ttl_seconds=0.3)
    real_set = runtime.redis.set
    failures = 0

    async def flaky_set(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures == 0 and args[0] == LEASE_PREFIX + "job-flaky" and kwargs.get("px"):
            failures += 1
            raise RedisConnectionError("connection reset")
        return await real_set(*args, **kwargs)

    ctx = {"job_id": "job-flaky"}
    await leases.started(ctx)
    runtime.redis.set = flaky_set  # type: ignore[method-assign]
    try:
        await asyncio.sleep(0.9)  # several renewal periods, longer than the lease itself
        assert failures == 1
        assert await runtime.redis.exists(LEASE_PREFIX + "job-flaky")
    finally:
        runtime.redis.set = real_set  # type: ignore[method-assign]
        await leases.ended(ctx)
    assert not await runtime.redis.exists(LEASE_PREFIX + "job-flaky")
