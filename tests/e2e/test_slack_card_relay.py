"""SLACK_CARDS=relay, as `infrabot run` starts Slack: the process that answers leaves the status cards to
`infrabot relay`, a process of its own on the same Redis and MongoDB. Here the two are two runtimes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.runtime import Runtime, build_runtime
from bots.slack.app import cards_only
from config.local_services import LocalServices
from config.settings import Settings
from core.cardsink import CardUndeliverable
from core.messages import ThreadRef
from core.status_card import StatusCard
from infra.redis_keys import relay_list_key
from tests.e2e.test_slack_http import REQUEST, card_of, card_text, has_buttons, replies_in, request_in
from tests.slack_mock import MockSlack
from tests.slack_mock.fixtures import slack_client_fixture  # noqa: F401
from tests.slack_mock.harness import SlackClient, slack_settings
from tests.slack_mock.server import TEAM
from tests.support import bounded, eventually, resolved


@pytest.fixture(name="settings")
def relayed_settings(settings: Settings, mock_slack: MockSlack) -> Settings:
    return slack_settings(settings, mock_slack).model_copy(update={"slack_cards": "relay"})


@pytest.fixture
async def relay(settings: Settings, services: LocalServices) -> AsyncIterator[Runtime]:
    """`infrabot relay`, not started yet: the test serves its cards when it wants them shown."""
    rt = await build_runtime(settings, services.redis_url, services.mongodb_url)
    yield rt
    await bounded(rt.close(), 30, "the relay's shutdown")


@pytest.fixture
async def second_relay(settings: Settings, services: LocalServices) -> AsyncIterator[Runtime]:
    rt = await build_runtime(settings, services.redis_url, services.mongodb_url)
    yield rt
    await bounded(rt.close(), 30, "the second relay's shutdown")


def cards(mock: MockSlack, thread: str) -> list[dict[str, Any]]:
    return [m for m in mock.thread_messages("C1", thread) if m.get("blocks")]


async def test_the_answering_process_leaves_the_cards_to_the_relay_process(
    slack: SlackClient, runtime: Runtime, relay: Runtime, mock_slack: MockSlack
) -> None:
    thread, response = await slack.mention(REQUEST)
    assert response.status_code == 200
    await eventually(lambda: resolved(replies_in(mock_slack, "C1", thread)))
    request = await request_in(runtime, "C1", thread)
    assert "slack" not in runtime.relay.sinks, "the web process relays only its own web chat's cards"

    # The plan is ready and listed for Slack's relays; the web process's relay, awake all along, shows nothing.
    async def planned() -> bool:
        job = await runtime.jobs.get(request.latest_job or "")
        return job is not None and str(job.phase) == "awaiting_approval"

    await eventually(planned, within=60)
    await eventually(lambda: runtime.redis.zscore(relay_list_key("slack"), request.latest_job or ""))
    await asyncio.sleep(2.5)  # past the web relay's poll
    assert cards(mock_slack, thread) == []

    relay.serve(await cards_only(relay))
    card = await card_of(relay, mock_slack, request.id, "waiting for approval")
    assert card["thread_ts"] == thread and has_buttons(card) == {"infrabot_approve", "infrabot_cancel"}

    # The rest of the conversation goes on as ever: a click on the card is answered by the web process, and
    # the card that follows it is the relay's edit of the same message.
    assert (await slack.click("approve", card, user="U1")).status_code == 200
    done = await card_of(relay, mock_slack, request.id, "Done")
    assert done["ts"] == card["ts"] and not has_buttons(done)
    assert len(cards(mock_slack, thread)) == 1
    assert len([c for c in mock_slack.calls_to("chat.postMessage") if c.params.get("blocks")]) == 1
    assert (await runtime.requests.get(request.id)).status == "applied"


def _card(request_id: str) -> StatusCard:
    return StatusCard(request_id=request_id, job_id=f"plan-{request_id}-1", phase="awaiting_approval",
                      title="Planning shop-staging", engine="offline", simulated=True, version=3, job_started=1.0)


async def test_the_relay_serves_only_the_workspace_its_token_belongs_to(relay: Runtime, mock_slack: MockSlack) -> None:
    """It hears no event to learn SLACK_BOT_TOKEN's workspace from, as the answering process does, so it asks
    Slack at start: a card for any other workspace is given up, never posted with that workspace's token."""
    adapter = await cards_only(relay)
    try:
        assert adapter.sink is not None
        with pytest.raises(CardUndeliverable):
            await adapter.sink.show(ThreadRef("slack", "T0THER", "C1", "1800000001.000001"), _card("r-other"))
        assert not mock_slack.calls_to("chat.postMessage", ok_only=False)
        await adapter.sink.show(ThreadRef("slack", TEAM, "C1", "1800000002.000001"), _card("r-ours"))
        (post,) = mock_slack.calls_to("chat.postMessage")
        assert post.params["channel"] == "C1" and post.params.get("blocks")
    finally:
        for close in adapter.closers:
            await close()


async def test_two_card_relays_show_each_card_once(
    slack: SlackClient, runtime: Runtime, relay: Runtime, second_relay: Runtime, mock_slack: MockSlack
) -> None:
    """Two `infrabot relay` processes on one Redis and one MongoDB (a rolling deploy, or a spare): each change
    is claimed by one of them, and the card's lock and version keep a request to one card that only moves on."""
    relay.serve(await cards_only(relay))
    second_relay.serve(await cards_only(second_relay))
    threads = []
    for n in range(3):
        thread, response = await slack.mention(f"create a bucket for my app shop{n} in staging")
        assert response.status_code == 200
        threads.append(thread)
    for n, thread in enumerate(threads):
        request = await request_in(runtime, "C1", thread)
        card = await card_of(relay, mock_slack, request.id, "waiting for approval")
        assert (await slack.click("approve", card, user="U1")).status_code == 200
        done = await card_of(relay, mock_slack, request.id, "Done")
        assert done["ts"] == card["ts"], n
    await asyncio.sleep(1.0)  # anything either relay still had to show has gone out by now
    for thread in threads:
        (only,) = cards(mock_slack, thread)
        assert "Done" in card_text(only)
    assert len([c for c in mock_slack.calls_to("chat.postMessage") if c.params.get("blocks")]) == 3
