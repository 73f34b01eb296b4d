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
from jobs.stores.redis_state import status_wakeups

THREAD = ThreadRef("web", "w1", "c1", "t-wakeups")


@contextlib.asynccontextmanager
async def wakeups(redis_url: str) -> AsyncIterator[asyncio.Queue[str]]:
    """Job ids as the relays hear of them, on a connection of the test's own."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener, probe = Redis.from_url(redis_url), Redis.from_url(redis_url)

    async def listen() -> None:
        async for job_id in status_wakeups(listener):
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
