"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from arq.worker import Worker

from core.job import Phase
from core.ports import JobStore

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], within: float = 45.0, every: float = 0.05) -> T:
    """Polls until `probe` returns something truthy; fails the test with the last value otherwise."""
    deadline = time.monotonic() + within
    value = await probe()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last value: {value!r})")
        await asyncio.sleep(every)
        value = await probe()
    return value


async def phase_reached(jobs: JobStore, job_id: str, phase: Phase, within: float = 45.0) -> None:
    """Waits until the job's durable status is in `phase`."""

    async def reached() -> bool:
        status = await jobs.get(job_id)
        return bool(status and status.phase == phase)

    await eventually(reached, within=within)


async def resolved(value: T) -> T:
    """`value` as an awaitable, for `eventually` on state that a callback fills in (`lambda: resolved(x)`)."""
    return value


def interrupt(proc: subprocess.Popen[bytes] | subprocess.Popen[str], within: float = 15) -> None:
    """Ctrl-C for a child process, then a kill if it has not stopped `within` seconds later."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def bounded(step: Awaitable[None], within: float, what: str) -> None:
    """A teardown step that may not hang the run: past `within` s it fails, printing every task's stack."""
    try:
        await asyncio.wait_for(step, within)
    except TimeoutError:
        dump = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(limit=12, file=dump)
        print(f"{what} did not finish within {within}s; tasks still running:\n{dump.getvalue()}", file=sys.stderr)
        raise AssertionError(f"{what} did not finish within {within}s (task stacks on stderr)") from None


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Runs a real arq worker in this process for the duration of the block."""
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        # close() cancels the jobs still running: one left half-done would leak into the next test (its
        # stack lock, its status). Let in-flight jobs finish first.
        in_flight = [t for t in worker.tasks.values() if not t.done()]
        if in_flight:
            await asyncio.wait(in_flight, timeout=10)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await bounded(worker.close(), 30, "the worker's shutdown")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@contextlib.asynccontextmanager
async def serving(app: Any, log_level: str = "warning") -> AsyncIterator[str]:
    """Serves an ASGI app with uvicorn on a free loopback port for the block; yields its base URL. A real server,
    where an in-process ASGI client would not do: streamed answers, event streams that never end."""
    import uvicorn

    from config.local_services import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    try:
        await eventually(started, within=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
