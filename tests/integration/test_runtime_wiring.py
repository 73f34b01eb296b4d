"""The relay runs once per process however many adapters (or their hosts) ask for it; adapters' own loops run
while it serves."""

from __future__ import annotations

import asyncio
import gc

from bots.runtime import AdapterSink, Runtime
from core.messages import ThreadRef
from core.status_card import StatusCard


class _Sink:
    async def show(self, thread: ThreadRef, card: StatusCard) -> None:
        return None


async def test_the_relay_starts_once_however_many_adapters_join(runtime: Runtime) -> None:
    closed: list[str] = []

    async def close() -> None:
        closed.append("web")

    runtime.serve(AdapterSink("web", _Sink(), (close,)))
    runtime.serve(AdapterSink("slack", _Sink()))
    runtime.start_relay()
    names = [task.get_name() for task in runtime.tasks]
    assert names.count("relay") == 1 and names.count("status-wakeups") == 1, names
    assert sorted(runtime.relay.sinks) == ["slack", "web"]
    await runtime.close()
    assert closed == ["web"], "an adapter's clean-up runs when the runtime closes"


async def test_an_adapters_loops_run_while_the_runtime_serves_and_stop_with_it(runtime: Runtime) -> None:
    running, stopped = asyncio.Event(), asyncio.Event()

    async def loop() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    runtime.serve(AdapterSink("slack", _Sink(), loops=(loop,)))
    await asyncio.wait_for(running.wait(), 5)
    await runtime.close()
    assert stopped.is_set()


async def test_a_chat_process_freezes_its_start_up_heap_when_it_starts_serving(runtime: Runtime) -> None:
    before = gc.get_freeze_count()
    try:
        runtime.serve(AdapterSink("web", _Sink()))
        assert gc.get_freeze_count() == before, "a runtime inside another process (these tests) leaves its heap be"
        runtime.settle_heap = True
        runtime.serve(AdapterSink("slack", _Sink()))
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
        await runtime.close()
