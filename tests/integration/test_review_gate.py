"""An event is claimed briefly while it is handled and for a day once handled, so a process that dies
mid-turn does not swallow the platform's retry."""

from __future__ import annotations

import asyncio

from bots.runtime import Runtime
from core.messages import IncomingMessage, ThreadRef
from jobs.stores.redis_state import RedisEventGate

THREAD = ThreadRef("web", "local", "web", "review-gate")


async def test_a_claim_never_settled_lapses_so_the_retry_gets_through(runtime: Runtime) -> None:
    gate = RedisEventGate(runtime.redis, pending_seconds=1)
    assert await gate.claim("web:local:died")
    assert not await gate.claim("web:local:died"), "a quick re-send while the turn runs is dropped"
    await asyncio.sleep(1.3)
    assert await gate.claim("web:local:died")


async def test_a_settled_claim_drops_repeats_for_the_full_ttl(runtime: Runtime) -> None:
    gate = RedisEventGate(runtime.redis, ttl_seconds=3600, pending_seconds=1)
    assert await gate.claim("web:local:done")
    await gate.settle("web:local:done")
    await asyncio.sleep(1.3)
    assert not await gate.claim("web:local:done")


async def test_a_handled_message_is_remembered_for_a_day_and_its_repeat_dropped(runtime: Runtime) -> None:
    message = IncomingMessage(thread=THREAD, user="ana", text="help", event_id="gate-1")
    assert await runtime.core.handle_message(message)
    assert await runtime.redis.ttl(f"infrabot:event:{message.event_key()}") > 3600
    assert await runtime.core.handle_message(message) == []
