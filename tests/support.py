"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from arq.worker import Worker

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], within: float = 20.0, every: float = 0.05) -> T:
    """Polls until `probe` returns something truthy; fails the test with the last value otherwise."""
    deadline = time.monotonic() + within
    value = await probe()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last value: {value!r})")
        await asyncio.sleep(every)
        value = await probe()
    return value


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Runs a real arq worker in this process for the duration of the block."""
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        # arq's close() cancels jobs still running and then re-raises their CancelledError, skipping its own
        # shutdown; a job left half-done would also leak into the next test. Let in-flight jobs finish first.
        in_flight = [t for t in worker.tasks.values() if not t.done()]
        if in_flight:
            await asyncio.wait(in_flight, timeout=10)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await worker.close()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
