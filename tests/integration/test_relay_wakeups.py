"""A job a chat process changes wakes every relay at once, as a worker's change does.

A chat process creates plan and apply jobs and cancels them. Had it only listed the job for the relay, the
card would wait for some relay's next poll (every two seconds); the wake-up is what makes it prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from bots.runtime import Runtime
from config.local_services import LocalServices
from core.messages import IncomingMessage, ThreadRef
from infra.redis_keys import STATUS_CHANNEL
from jobs.stores.redis_state import RedisStatusSignal, status_wakeups

THREAD = ThreadRef("web", "w1", "c1", "t-wakeups")


@contextlib.asynccontextmanager
async def wakeups(redis_url: str, platforms: tuple[str, ...] = ("web",)) -> AsyncIterator[asyncio.Queue[str]]:
    """Job ids as the relays of `platforms` hear of them, on a connection of the test's own."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener, probe = Redis.from_url(redis_url), Redis.from_url(redis_url)

    async def listen() -> None:
        async for job_id in status_wakeups(listener, platforms):
            heard.put_nowait(job_id)

    task = asyncio.create_task(listen())
    try:
        # Live once a probe of our own comes back: nothing published before that could be heard.
        async def subscribed() -> None:
            while True:
                await probe.publish(STATUS_CHANNEL, "probe")
                with contextlib.suppress(TimeoutError):
                    if await asyncio.wait_for(heard.get(), timeout=0.2) == "probe":
                        return

        await asyncio.wait_for(subscribed(), timeout=10)
        yield heard
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await listener.aclose()
        await probe.aclose()


async def next_job(heard: asyncio.Queue[str]) -> str:
    """The next job id heard, past the probes that `wakeups` sent to know it was listening."""
    while (job_id := await asyncio.wait_for(heard.get(), timeout=10)) == "probe":
        pass
    return job_id


async def heard_of(heard: asyncio.Queue[str], job_id: str) -> None:
    while await asyncio.wait_for(heard.get(), timeout=10) != job_id:
        pass


async def test_a_plan_job_made_and_cancelled_in_a_turn_wakes_the_relays(
    runtime: Runtime, services: LocalServices
) -> None:
    async with wakeups(services.redis_url) as heard:
        await runtime.core.handle_message(
            IncomingMessage(thread=THREAD, user="ana", text="create a bucket for my app shop", event_id="e1"))
        request = await runtime.requests.latest_in_thread(THREAD)
        assert request is not None and request.latest_job
        job_id = request.latest_job
        await heard_of(heard, job_id)
        await runtime.core.handle_message(IncomingMessage(thread=THREAD, user="ana", text="cancel", event_id="e2"))
        await heard_of(heard, job_id)
        job = await runtime.jobs.get(job_id)
        assert job is not None and str(job.phase) == "cancelled"


async def test_only_the_relays_of_a_jobs_platform_wake_for_it(services: LocalServices) -> None:
    """`infrabot web` next to `infrabot relay` (SLACK_CARDS=relay): a Slack job's progress must not wake the web
    process, which would only read the job to find it is not its own."""
    signal_redis = Redis.from_url(services.redis_url)
    try:
        async with wakeups(services.redis_url, ("web",)) as web, wakeups(services.redis_url, ("slack",)) as slack:
            signal = RedisStatusSignal(signal_redis)
            await signal.publish("job-slack-1", "slack")
            await signal.publish("job-web-1", "web")
            await signal.publish("job-unknown-1")
            assert [await next_job(slack) for _ in range(2)] == ["job-slack-1", "job-unknown-1"]
            # The web relay hears its own job and the one of no known platform, and never the Slack one.
            assert [await next_job(web) for _ in range(2)] == ["job-web-1", "job-unknown-1"]
            await signal.publish("job-web-2", "web")
            assert await next_job(web) == "job-web-2"
    finally:
        await signal_redis.aclose()
