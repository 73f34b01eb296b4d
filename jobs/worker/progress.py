"""Coalesced progress: an engine may report many steps a second, and each one written is a MongoDB write
under a document lock, a wake-up and (later) a card edit. At most one write per job per `interval` goes
out; a step that arrives inside the window is held and written when the window ends, unless a newer one
replaces it first. `aclose()` writes a held step at once and waits for any write under way, so nothing
held can land after the job's final state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("infrabot.jobs")

Write = Callable[[int, int, str], Awaitable[object]]


class CoalescedProgress:
    def __init__(self, write: Write, interval: float = 0.25) -> None:
        self._write = write
        self.interval = interval
        self._last = float("-inf")
        self._held: tuple[int, int, str] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._sleeping = False
        self._writing: asyncio.Lock = asyncio.Lock()

    async def __call__(self, done: int, total: int, message: str) -> None:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            self._held = (done, total, message)
            if self._timer is None or self._timer.done():
                self._timer = asyncio.create_task(self._later(wait))
            return
        self._held = None
        await self._send(done, total, message)

    async def _later(self, delay: float) -> None:
        self._sleeping = True
        try:
            await asyncio.sleep(delay)
        finally:
            self._sleeping = False
        held, self._held = self._held, None
        if held is not None:
            try:
                await self._send(*held)
            except Exception:
                # Only a step is lost: the next one, or the job's final state, replaces it.
                log.warning("a held progress step could not be written", exc_info=True)

    async def _send(self, done: int, total: int, message: str) -> None:
        async with self._writing:
            self._last = time.monotonic()
            await self._write(done, total, message)

    async def aclose(self) -> None:
        """Writes a held step now and waits for one under way: the caller's next write is the job's last."""
        timer = self._timer
        if timer is not None and not timer.done():
            if self._sleeping:
                timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await timer
        held, self._held = self._held, None
        if held is not None:
            await self._send(*held)
