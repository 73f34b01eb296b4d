"""Two relaying processes, one of them slow: what the slow one writes late never moves a card backwards.

Both relays share the real Redis (work list, card locks) and FerretDB (jobs, card records), as two chat
replicas do. The slow one is held at its platform call, as a stalled process or a slow network would hold
it, while the other shows newer versions; then it is let go.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from pydantic import SecretStr

from bots.runtime import Runtime, build_runtime
from bots.slack.client import SlackClients
from bots.slack.sink import SlackStatusSink
from config.local_services import LocalServices
from config.settings import Settings
from core.job import Phase
from core.messages import ThreadRef
from core.status_card import StatusCard
from infra.lease import RedisLease
from infra.redis_keys import DOC_LOCK_PREFIX
from jobs.stores.doc_lock import DocLocks
from tests.e2e.test_relay_cards import cards_in, new_job
from tests.slack_mock import MockSlack
from tests.slack_mock.server import BOT_TOKEN, TEAM
from tests.support import eventually


class HeldSink(SlackStatusSink):
    """A Slack sink whose edits wait at the door until `go` is set; `arrived` says one is waiting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrived, self.go = asyncio.Event(), asyncio.Event()

    async def edit(self, thread: ThreadRef, ref: dict[str, Any], card: StatusCard) -> None:
        self.arrived.set()
        await self.go.wait()
        await super().edit(thread, ref, card)


def lapsing_lock(rt: Runtime) -> Callable[[str], AbstractAsyncContextManager[None]]:
    """The card lock of a process that stalls while holding it: taken like any card lock (same keys, so the
    other process waits for it), then never renewed, so it lapses 0.3 s later."""
    leases = RedisLease(rt.redis, DOC_LOCK_PREFIX)

    @asynccontextmanager
    async def hold(key: str) -> AsyncIterator[None]:
        await eventually(lambda: leases.acquire(key, "doc", 0.3), 20, every=0.01)
        yield

    return hold


def sink_for(rt: Runtime, settings: Settings, mock: MockSlack, token: str, **options: Any) -> HeldSink:
    slack = settings.model_copy(update={"slack_bot_token": SecretStr(token), "slack_api_url": mock.url,
                                        "slack_bot_tokens": SecretStr(f"{TEAM}={token}")})
    options.setdefault("lock", DocLocks(rt.redis, lease_ms=30_000).hold)
    clients = SlackClients(slack)
    rt.closers.append(clients.aclose)
    sink = HeldSink(clients, rt.cards, interval=0.0, **options)
    rt.relay.register("slack", sink)
    rt.relay.backoff_seconds = 0.05
    return sink


async def test_a_slow_relay_never_dead_letters_a_card_another_relay_moved_on(
    runtime: Runtime, settings: Settings, services: LocalServices, mock_slack: MockSlack
) -> None:
    """The slow process has a token that no longer works (a rotation under way) and stalls past its card
    lock: by the time its edit fails for good, the other process has shown a newer version, and the job
    goes on. The slow process's give-up is refused, so the card keeps following the job."""
    slow, fast = runtime, await build_runtime(settings, services.redis_url, services.mongodb_url)
    try:
        held = sink_for(slow, settings, mock_slack, "xoxb-rotated-away", lock=lapsing_lock(slow))
        sink_for(fast, settings, mock_slack, BOT_TOKEN).go.set()
        job_id, thread = await new_job(slow, 1)
        assert await fast.relay.pump() == 1  # the card is posted

        await slow.jobs.update(job_id, phase=Phase.RUNNING, done=1, total=3, message="step 1")
        slow_pass = asyncio.create_task(slow.relay.pump())
        await asyncio.wait_for(held.arrived.wait(), 20)
        await slow.jobs.update(job_id, phase=Phase.RUNNING, done=2, total=3, message="step 2")
        assert await fast.relay.pump() == 1
        held.go.set()
        assert await asyncio.wait_for(slow_pass, 20) == 0  # its edit got invalid_auth

        doc = await slow.db.jobs.find_one({"_id": job_id})
        assert doc is not None and "relay_dead" not in doc, "an old version's failure did not give the card up"
        await slow.jobs.update(job_id, phase=Phase.FAILED, error="quota exceeded")
        assert await fast.relay.pump() == 1
        (card,) = cards_in(mock_slack, thread)
        assert "quota exceeded" in card["text"]
    finally:
        await fast.close()


async def test_a_relay_that_stalled_past_its_card_lock_cannot_leave_the_card_behind(
    runtime: Runtime, settings: Settings, services: LocalServices, mock_slack: MockSlack
) -> None:
    """The slow process's card lock lapses while it is stalled before its edit (nothing renews it); the
    other process shows the final state; then the slow edit lands on Slack, behind it. The slow process's
    record write is refused, so it knows, and the final state is shown again."""
    slow, fast = runtime, await build_runtime(settings, services.redis_url, services.mongodb_url)
    try:
        held = sink_for(slow, settings, mock_slack, BOT_TOKEN, lock=lapsing_lock(slow))
        sink_for(fast, settings, mock_slack, BOT_TOKEN).go.set()
        job_id, thread = await new_job(slow, 2)
        assert await fast.relay.pump() == 1

        await slow.jobs.update(job_id, phase=Phase.RUNNING, done=1, total=3, message="step 1")
        slow_pass = asyncio.create_task(slow.relay.pump())
        await asyncio.wait_for(held.arrived.wait(), 20)
        await slow.jobs.update(job_id, phase=Phase.FAILED, error="quota exceeded")
        assert await fast.relay.pump() == 1  # waits out the slow one's lease, then shows the end
        (card,) = cards_in(mock_slack, thread)
        assert "quota exceeded" in card["text"]

        held.go.set()  # the stalled edit lands now, moving the card on Slack back to "step 1"
        await asyncio.wait_for(slow_pass, 20)

        async def final_again() -> bool:
            await fast.relay.pump()
            (card,) = cards_in(mock_slack, thread)
            return "quota exceeded" in card["text"]

        await eventually(final_again, 20)  # the final state is shown again after the stalled edit
        record = await slow.db.cards.find_one({"_id": f"slack:{job_id.split('-')[1]}"})
        job = await slow.db.jobs.find_one({"_id": job_id})
        assert record is not None and job is not None and record["version"] == job["version"]
        updates = [c.params["text"] for c in mock_slack.calls_to("chat.update")]
        assert "quota exceeded" in updates[-1] and any("quota" not in u for u in updates[-3:-1])
    finally:
        await fast.close()
