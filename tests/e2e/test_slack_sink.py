"""The Slack status sink: one card per request, coalesced progress, and no lost final state."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr

from bots.runtime import Runtime
from bots.slack.client import SlackClients
from bots.slack.sink import CardLock, SlackStatusSink
from config.settings import Settings
from core.cardsink import CardUndeliverable
from core.messages import ThreadRef
from core.ports import CardRefStore
from core.status_card import StatusCard
from jobs.stores.doc_lock import DocLocks
from tests.slack_mock import MockSlack
from tests.slack_mock.server import BOT_TOKEN, TEAM

THREAD = ThreadRef("slack", TEAM, "C1", "1800000000.000001")


@pytest.fixture
def refs(runtime: Runtime) -> CardRefStore:
    return runtime.cards


def make_sink(
    mock: MockSlack, refs: CardRefStore, interval: float = 0.4, lock: CardLock | None = None, burst: int = 1
) -> SlackStatusSink:
    """Without a burst, unless a test asks for one: most tests here are about the window itself."""
    settings = Settings(_env_file=None, slack_bot_token=SecretStr(BOT_TOKEN), slack_api_url=mock.url)  # type: ignore[call-arg]
    extra = {"lock": lock} if lock else {}
    return SlackStatusSink(SlackClients(settings), refs, interval=interval, burst=burst, **extra)


def two_processes(mock: MockSlack, runtime: Runtime) -> list[SlackStatusSink]:
    """The sinks of two chat processes sharing one card store and one set of Redis card locks."""
    locks = DocLocks(runtime.redis)
    return [make_sink(mock, runtime.cards, interval=0, lock=locks.hold) for _ in range(2)]


async def card_posted(mock: MockSlack, refs: CardRefStore) -> SlackStatusSink:
    """A sink that edits at once, with the request's first card already posted."""
    sink = make_sink(mock, refs, interval=0)
    await sink.show(THREAD, card(1, "queued"))
    return sink


JOB_STARTED = {"plan-r1-1": 1000.0, "apply-r1-h": 2000.0, "plan-r2-1": 1000.0}


def card(version: int, phase: str = "running", done: int = 0, job: str = "plan-r1-1", **kw: Any) -> StatusCard:
    return StatusCard(request_id="r1", job_id=job, phase=phase, title="Planning shop-staging",
                      engine="offline", simulated=True, done=done, total=50, version=version,
                      job_started=JOB_STARTED[job], **kw)


def shown(mock: MockSlack) -> str:
    (message,) = [m for m in mock.messages.values() if m.get("blocks")]
    return str(message["text"])


async def test_first_show_posts_once_and_later_shows_edit_in_place(
    mock_slack: MockSlack, refs: CardRefStore
) -> None:
    sink = await card_posted(mock_slack, refs)
    await sink.show(THREAD, card(2, done=10))
    await sink.show(THREAD, card(2, done=10))  # the relay may repeat a version after a restart
    await sink.show(THREAD, card(3, "awaiting_approval", done=50))
    assert len(mock_slack.calls_to("chat.postMessage")) == 1
    assert len(mock_slack.calls_to("chat.update")) == 2
    ref = await refs.get("r1", "slack")
    assert ref is not None and (ref["channel"], ref["ts"]) in mock_slack.messages
    assert mock_slack.messages[(ref["channel"], ref["ts"])]["thread_ts"] == THREAD.thread
    assert "50 of 50" in shown(mock_slack)


async def test_a_restarted_sink_edits_the_stored_card_instead_of_posting_again(
    mock_slack: MockSlack, refs: CardRefStore
) -> None:
    await make_sink(mock_slack, refs, interval=0).show(THREAD, card(1, "queued"))
    await make_sink(mock_slack, refs, interval=0).show(THREAD, card(2, "awaiting_approval"))
    assert len(mock_slack.calls_to("chat.postMessage")) == 1
    assert "waiting for approval" in shown(mock_slack)


async def test_frequent_progress_is_coalesced_but_the_latest_and_final_states_arrive(
    mock_slack: MockSlack, refs: CardRefStore
) -> None:
    sink = make_sink(mock_slack, refs, interval=0.4)
    await sink.show(THREAD, card(1, "queued"))
    for v in range(2, 32):
        await sink.show(THREAD, card(v, done=v))
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.6)
    assert "31 of 50" in shown(mock_slack), "the newest progress is flushed after the window"
    updates_during_burst = len(mock_slack.calls_to("chat.update"))
    assert 1 <= updates_during_burst <= 3

    await sink.show(THREAD, card(32, "awaiting_approval", done=50))
    assert "waiting for approval" in shown(mock_slack), "a settled state is sent before show returns"
    await asyncio.sleep(0.6)
    assert "waiting for approval" in shown(mock_slack), "no older pending state may overwrite it"
    times = [c.at for c in mock_slack.calls_to("chat.update")][:-1]  # the settled state goes out at once
    assert all(b - a >= 0.35 for a, b in itertools.pairwise(times))
    await sink.close()


async def test_a_cards_first_changes_go_out_at_once_and_then_keep_to_the_interval(
    mock_slack: MockSlack, refs: CardRefStore
) -> None:
    sink = make_sink(mock_slack, refs, interval=0.5, burst=3)
    await sink.show(THREAD, card(1, "queued"))
    await sink.show(THREAD, card(2, done=2))
    await sink.show(THREAD, card(3, done=3))
    assert "(3 of 50)" in shown(mock_slack), "the burst's three changes are shown before show returns"
    assert len(mock_slack.calls_to("chat.update")) == 2

    for v in range(4, 11):
        await sink.show(THREAD, card(v, done=v))
    assert len(mock_slack.calls_to("chat.update")) == 2, "past the burst, changes are held"
    await asyncio.sleep(0.7)
    assert "(10 of 50)" in shown(mock_slack), "the newest held change goes out when its window ends"
    await sink.show(THREAD, card(11, done=11))
    await asyncio.sleep(0.7)
    assert "(11 of 50)" in shown(mock_slack)
    times = [c.at for c in mock_slack.calls_to("chat.update")]
    assert len(times) == 4
    assert all(b - a >= 0.45 for a, b in itertools.pairwise(times[1:])), "after the burst, one edit per interval"

    await asyncio.sleep(1.6)  # idle long enough to fill the bucket again
    before = len(mock_slack.calls_to("chat.update"))
    await sink.show(THREAD, card(20, done=20))
    await sink.show(THREAD, card(21, done=21))
    assert len(mock_slack.calls_to("chat.update")) == before + 2, "an idle card gets its burst back"
    await sink.close()


async def test_a_new_job_on_the_same_card_is_not_mistaken_for_an_old_version(
    mock_slack: MockSlack, refs: CardRefStore
) -> None:
    sink = make_sink(mock_slack, refs, interval=0)
    await sink.show(THREAD, card(5, "awaiting_approval"))
    await sink.show(THREAD, card(1, "queued", job="apply-r1-h"))
    await sink.show(THREAD, card(4, "succeeded", job="apply-r1-h", outputs={"bucket": "gs://b"}))
    assert "Done" in shown(mock_slack)


async def test_update_failures_raise_so_the_relay_retries(mock_slack: MockSlack, refs: CardRefStore) -> None:
    sink = await card_posted(mock_slack, refs)
    mock_slack.fail("chat.update", 500, times=3)  # one more than the server-error retries
    with pytest.raises(Exception, match="internal_error"):
        await sink.show(THREAD, card(2, "awaiting_approval"))
    await sink.show(THREAD, card(2, "awaiting_approval"))  # the relay's next pass
    assert "waiting for approval" in shown(mock_slack)


async def test_rate_limited_update_waits_for_retry_after(mock_slack: MockSlack, refs: CardRefStore) -> None:
    sink = await card_posted(mock_slack, refs)
    mock_slack.fail("chat.update", 429, times=1, retry_after=1)
    await sink.show(THREAD, card(2, "succeeded", job="plan-r1-1"))
    calls = mock_slack.calls_to("chat.update", ok_only=False)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert "Done" in shown(mock_slack)


async def test_two_processes_relaying_the_same_new_card_post_it_once(
    mock_slack: MockSlack, runtime: Runtime
) -> None:
    sinks = two_processes(mock_slack, runtime)
    await asyncio.gather(*(s.show(THREAD, card(1, "queued")) for s in sinks))
    assert len(mock_slack.calls_to("chat.postMessage")) == 1
    await sinks[1].show(THREAD, card(2, "awaiting_approval"))
    assert "waiting for approval" in shown(mock_slack)


async def test_a_deleted_card_is_posted_again_in_its_thread(mock_slack: MockSlack, refs: CardRefStore) -> None:
    sink = make_sink(mock_slack, refs, interval=0)
    await sink.show(THREAD, card(1, "awaiting_approval"))
    old = await refs.get("r1", "slack")
    assert old is not None
    del mock_slack.messages[(old["channel"], old["ts"])]  # someone deleted the card

    await sink.show(THREAD, card(2, "cancelled"))

    new = await refs.get("r1", "slack")
    assert new is not None and new["ts"] != old["ts"]
    assert mock_slack.messages[(new["channel"], new["ts"])]["thread_ts"] == THREAD.thread
    assert "Cancelled" in shown(mock_slack)


async def test_a_channel_the_bot_left_is_undeliverable_not_retried(
    mock_slack: MockSlack, refs: CardRefStore
) -> None:
    sink = await card_posted(mock_slack, refs)
    mock_slack.not_in_channels.add(THREAD.channel)  # the bot was removed, or the channel archived

    # CardUndeliverable tells the relay to dead-letter the job instead of retrying it for ever.
    with pytest.raises(CardUndeliverable, match="not_in_channel"):
        await sink.show(THREAD, card(2, "succeeded"))
    assert len(mock_slack.calls_to("chat.update", ok_only=False)) == 1

    other = ThreadRef("slack", TEAM, "CGONE", "1800000000.000002")
    mock_slack.not_in_channels.add("CGONE")
    with pytest.raises(CardUndeliverable):
        await sink.show(other, replace(card(1, "awaiting_approval", job="plan-r2-1"), request_id="r2"))
    assert await refs.get("r2", "slack") is None


async def test_a_slower_process_never_moves_a_card_backwards(mock_slack: MockSlack, runtime: Runtime) -> None:
    fast, slow = two_processes(mock_slack, runtime)
    await fast.show(THREAD, card(1, "queued"))
    await fast.show(THREAD, card(3, "awaiting_approval", done=50))
    # The other process read version 2 before the first one showed 3; it must leave the card alone.
    await slow.show(THREAD, card(2, done=20))
    assert len(mock_slack.calls_to("chat.update")) == 1
    assert "waiting for approval" in shown(mock_slack)
    # Nor may it show the plan job once the apply job owns the card.
    await fast.show(THREAD, card(1, "queued", job="apply-r1-h"))
    await slow.show(THREAD, card(4, "awaiting_approval", done=50))
    assert ": Queued" in shown(mock_slack)


async def test_settled_states_racing_from_two_processes_end_on_the_newest(
    mock_slack: MockSlack, runtime: Runtime
) -> None:
    sinks = two_processes(mock_slack, runtime)
    mock_slack.delays["chat.update"] = 0.05
    await sinks[0].show(THREAD, card(1, "queued"))
    versions = list(range(2, 12))
    await asyncio.gather(*(
        sinks[v % 2].show(THREAD, card(v, "failed" if v == 11 else "awaiting_approval", done=v)) for v in versions
    ))
    assert len(mock_slack.calls_to("chat.postMessage")) == 1
    done_counts = [int(c.params["text"].split("(")[1].split(" of")[0]) for c in mock_slack.calls_to("chat.update")]
    assert done_counts == sorted(done_counts), f"a card moved backwards: {done_counts}"
    assert "(11 of 50)" in shown(mock_slack)


async def test_per_card_bookkeeping_is_dropped_when_final_or_idle(mock_slack: MockSlack, refs: CardRefStore) -> None:
    sink = make_sink(mock_slack, refs, interval=0)
    sink.idle_seconds = 2.0
    await sink.show(THREAD, card(1, "succeeded"))
    assert sink.tracked() == 0, "a final card needs no bookkeeping"
    for n in range(5):
        thread = ThreadRef("slack", TEAM, "C1", f"1800000000.00010{n}")
        await sink.show(thread, replace(card(1, "queued"), request_id=f"idle{n}"))
    assert sink.tracked() == 5
    await asyncio.sleep(2.2)
    await sink.show(THREAD, replace(card(1, "queued"), request_id="fresh"))
    assert sink.tracked() == 1, "cards idle for longer than idle_seconds are forgotten"


async def test_progress_arriving_during_a_coalesced_edit_goes_out_in_the_next_window(
    mock_slack: MockSlack, refs: CardRefStore
) -> None:
    sink = make_sink(mock_slack, refs, interval=0.2)
    await sink.show(THREAD, card(1, "queued"))
    mock_slack.delays["chat.update"] = 0.3
    await sink.show(THREAD, card(2, done=2))  # held for the window, then written slowly
    await asyncio.sleep(0.35)
    await sink.show(THREAD, card(3, done=3))  # arrives while version 2 is being written
    await asyncio.sleep(1.2)
    assert "(3 of 50)" in shown(mock_slack), "no later change is needed to send the held state"
