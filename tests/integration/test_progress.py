"""Coalesced job progress: a burst of steps costs one write, and nothing lands after the job's final state."""

from __future__ import annotations

import asyncio

from jobs.worker.progress import CoalescedProgress


class Writes:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: list[int] = []

    async def __call__(self, done: int, total: int, message: str) -> None:
        await asyncio.sleep(self.delay)
        self.seen.append(done)


async def test_a_burst_of_steps_is_one_write_now_and_one_for_the_newest_later() -> None:
    writes = Writes()
    progress = CoalescedProgress(writes, interval=1.0)
    for step in range(1, 31):
        await progress(step, 30, f"step {step}")
    assert writes.seen == [1]
    await asyncio.sleep(1.3)
    assert writes.seen == [1, 30], "the newest held step is written when the window ends"


async def test_steps_spread_out_are_each_written() -> None:
    writes = Writes()
    progress = CoalescedProgress(writes, interval=0.05)
    for step in range(1, 4):
        await progress(step, 3, "")
        await asyncio.sleep(0.08)
    assert writes.seen == [1, 2, 3]


async def test_close_writes_the_held_step_and_nothing_follows_it() -> None:
    writes = Writes(delay=0.02)
    progress = CoalescedProgress(writes, interval=10)
    await progress(1, 5, "")
    await progress(4, 5, "")
    await progress.aclose()
    writes.seen.append(-1)  # the job's final state
    await asyncio.sleep(0.05)
    assert writes.seen == [1, 4, -1]


async def test_close_while_a_held_step_is_being_written_waits_for_it() -> None:
    writes = Writes(delay=0.1)
    progress = CoalescedProgress(writes, interval=0.01)
    await progress(1, 5, "")
    await progress(2, 5, "")
    await asyncio.sleep(0.03)  # the timer has fired and is writing step 2
    await progress.aclose()
    writes.seen.append(-1)
    assert writes.seen == [1, 2, -1]
