"""Slack over HTTP, end to end: signed requests in, a local stand-in for Slack's Web API out, and the real
core, Redis, FerretDB and arq worker in between."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import httpx
import pytest

from bots.runtime import Runtime
from core.request import Request
from tests.slack_mock import MockSlack
from tests.slack_mock.fixtures import slack_client_fixture, slack_settings_fixture  # noqa: F401
from tests.slack_mock.harness import SlackClient, sign
from tests.slack_mock.server import TEAM
from tests.support import eventually, serving

REQUEST = "create a postgres database and a bucket for my app shop in staging"


def thread_key(channel: str, thread: str) -> str:
    return f"slack:{TEAM}:{channel}:{thread}"


async def request_in(runtime: Runtime, channel: str, thread: str) -> Request:
    async def probe() -> Request | None:
        doc = await runtime.db.requests.find_one({"thread_key": thread_key(channel, thread)})
        return Request.from_doc(doc) if doc else None

    return await eventually(probe)


async def card_of(runtime: Runtime, mock: MockSlack, request_id: str, phase_text: str) -> dict[str, Any]:
    """The request's one status card, once its text shows `phase_text`."""

    async def probe() -> dict[str, Any] | None:
        ref = await runtime.cards.get(request_id, "slack")
        message = mock.messages.get((ref["channel"], ref["ts"])) if ref else None
        # A snapshot: the mock edits its stored message in place on every chat.update.
        return copy.deepcopy(message) if message and phase_text in card_text(message) else None

    return await eventually(probe, within=60)


def card_text(message: dict[str, Any]) -> str:
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str))
    return "\n".join(parts)


def replies_in(mock: MockSlack, channel: str, thread: str) -> list[dict[str, Any]]:
    """Bot messages in the thread that are not status cards."""
    return [m for m in mock.thread_messages(channel, thread)
            if m["ts"] != thread and not m.get("blocks") and not m.get("streaming")]


def has_buttons(message: dict[str, Any]) -> set[str]:
    return {e["action_id"] for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]}


async def planned(slack: SlackClient, runtime: Runtime, text: str = REQUEST, user: str = "U1",
                  channel: str = "C1") -> tuple[str, dict[str, Any], dict[str, Any]]:
    thread, response = await slack.mention(text, user=user, channel=channel)
    assert response.status_code == 200
    request = await request_in(runtime, channel, thread)
    card = await card_of(runtime, slack.mock, request.id, "waiting for approval")
    return thread, request, card


async def test_mention_gets_an_instant_threaded_reply_then_a_plan_card(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    started = time.monotonic()
    thread, response = await slack.mention(REQUEST)
    acked = time.monotonic() - started
    assert response.status_code == 200
    assert acked < 2.0, f"Slack needs an answer within 3 s; took {acked:.2f}s"

    reply = (await eventually(lambda: _async(replies_in(mock_slack, "C1", thread))))[0]
    assert reply["thread_ts"] == thread
    assert "planning" in reply["text"].lower() and "shop" in reply["text"]
    # Streamed (chat.startStream/stopStream) because this Slack supports it.
    assert mock_slack.calls_to("chat.startStream") and mock_slack.calls_to("chat.stopStream")

    request = await request_in(runtime, "C1", thread)
    card = await card_of(runtime, mock_slack, request.id, "waiting for approval")
    assert card["thread_ts"] == thread
    assert has_buttons(card) == {"infrabot_approve", "infrabot_cancel"}
    assert "offline engine (simulated" in card_text(card)
    values = [e["value"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert all(v.startswith(request.id) for v in values)


async def test_acks_do_not_wait_for_a_slow_web_api(slack: SlackClient, mock_slack: MockSlack) -> None:
    for method in ("chat.postMessage", "chat.startStream", "chat.postEphemeral"):
        mock_slack.delays[method] = 3.5
    started = time.monotonic()
    _, mention = await slack.mention("help")
    command = await slack.command("create a bucket for my app shop in staging", channel="C8")
    assert mention.status_code == command.status_code == 200
    assert time.monotonic() - started < 2.0, "replies are posted after the ack, not before it"
    # The answers still arrive once Slack gets round to them.
    await eventually(lambda: _async(mock_slack.calls_to("chat.startStream")), within=15)
    await eventually(lambda: _async([m for m in mock_slack.messages.values() if m["channel"] == "C8"]),
                     within=15)
    # Each turn's whole answer too: the mention's stream in C1 and the command's in the thread of its C8 post.
    await eventually(lambda: _async({c.params.get("channel") for c in mock_slack.calls_to("chat.stopStream")}
                                    == {"C1", "C8"}), within=15)


async def test_reply_in_a_known_thread_continues_without_a_mention(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    thread, _, _ = await planned(slack, runtime)
    before = len(replies_in(mock_slack, "C1", thread))
    _, response = await slack.message("status", thread_ts=thread)
    assert response.status_code == 200
    replies = await eventually(lambda: _async(replies_in(mock_slack, "C1", thread)[before:]))
    assert "awaiting approval" in replies[0]["text"] and "shop-staging" in replies[0]["text"]

    # The bot stays out of threads and channel chatter it is not part of.
    other_thread = "1700009999.000001"
    await slack.message("status", thread_ts=other_thread)
    await slack.message("status")
    await asyncio.sleep(0.5)
    assert not mock_slack.thread_messages("C1", other_thread)
    assert len(replies_in(mock_slack, "C1", thread)) == before + 1
    assert await runtime.db.requests.count_documents({}) == 1


async def test_direct_message_is_answered_in_the_dm(slack: SlackClient, mock_slack: MockSlack) -> None:
    _, response = await slack.message("help", channel="D42", channel_type="im")
    assert response.status_code == 200
    posted = await eventually(lambda: _async([m for m in mock_slack.messages.values() if m["channel"] == "D42"]))
    assert posted[0]["thread_ts"] is None
    assert "postgres" in posted[0]["text"]


async def test_bot_messages_and_edits_are_ignored(slack: SlackClient, mock_slack: MockSlack) -> None:
    thread, _ = await slack.mention("help")
    await eventually(lambda: _async(replies_in(mock_slack, "C1", thread)))
    posts = len(mock_slack.calls_to("chat.postMessage")) + len(mock_slack.calls_to("chat.startStream"))
    await slack.message("status", thread_ts=thread, bot_id="BOTHER")
    await slack.message("status", thread_ts=thread, subtype="message_changed")
    await slack.message("status", thread_ts=thread, subtype="channel_join")
    await asyncio.sleep(0.5)
    assert len(mock_slack.calls_to("chat.postMessage")) + len(mock_slack.calls_to("chat.startStream")) == posts


async def test_slash_command_posts_in_the_channel_and_continues_in_its_thread(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    started = time.monotonic()
    response = await slack.command(REQUEST, user="U7", channel="C9")
    assert response.status_code == 200 and time.monotonic() - started < 2.0
    opener = await eventually(lambda: _async(
        [m for m in mock_slack.messages.values() if m["channel"] == "C9" and m["thread_ts"] is None]))
    assert opener[0]["text"] == f"<@U7> asked: {REQUEST}"
    thread = opener[0]["ts"]
    reply = (await eventually(lambda: _async(replies_in(mock_slack, "C9", thread))))[0]
    assert "planning" in reply["text"].lower()
    request = await request_in(runtime, "C9", thread)
    assert request.user == "U7"
    card = await card_of(runtime, mock_slack, request.id, "waiting for approval")
    assert card["thread_ts"] == thread


async def test_slash_command_where_the_bot_is_not_a_member_explains_privately(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    mock_slack.not_in_channels.add("CPRIVATE")
    response = await slack.command(REQUEST, channel="CPRIVATE")
    assert response.status_code == 200
    answer = await eventually(lambda: _async(mock_slack.responses))
    assert answer[0]["response_type"] == "ephemeral" and "/invite @infrabot" in answer[0]["text"]
    assert await runtime.db.requests.count_documents({}) == 0


@pytest.mark.parametrize("text", ["help", "", "   ", " HELP "])
async def test_slash_command_help_is_ephemeral(slack: SlackClient, mock_slack: MockSlack, text: str) -> None:
    response = await slack.command(text)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral" and "/infra" in body["text"]
    await asyncio.sleep(0.3)
    assert not mock_slack.calls_to("chat.postMessage")


async def test_approve_applies_and_the_card_ends_done(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    thread, request, card = await planned(slack, runtime)
    response = await slack.click("approve", card, user="U1")
    assert response.status_code == 200
    done = await card_of(runtime, mock_slack, request.id, "Done")
    assert done["ts"] == card["ts"], "the same card is edited, not a new one posted"
    assert not has_buttons(done)
    assert "simulated" in card_text(done)
    cards = [m for m in mock_slack.thread_messages("C1", thread) if m.get("blocks")]
    assert len(cards) == 1
    confirmations = [m for m in replies_in(mock_slack, "C1", thread) if "Approved by <@U1>" in m["text"]]
    assert len(confirmations) == 1
    assert (await runtime.requests.get(request.id)).status == "applied"


async def test_cancel_click_cancels_and_the_card_says_so(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    _, request, card = await planned(slack, runtime)
    await slack.click("cancel", card, user="U1")
    cancelled = await card_of(runtime, mock_slack, request.id, "Cancelled")
    assert not has_buttons(cancelled)
    assert (await runtime.requests.get(request.id)).status == "cancelled"
    assert await runtime.db.jobs.count_documents({"kind": "apply"}) == 0


async def test_unauthorised_click_is_refused_with_an_ephemeral_message(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    prod = "create a bucket for my app shop in prod"
    _, request, card = await planned(slack, runtime, text=prod, user="U1")
    await slack.click("approve", card, user="U1")
    refusal = await eventually(lambda: _async(mock_slack.ephemeral))
    assert refusal[0]["user"] == "U1" and refusal[0]["channel"] == "C1"
    assert "someone other than the requester" in refusal[0]["text"]
    assert (await runtime.requests.get(request.id)).status == "awaiting_approval"
    assert await runtime.db.jobs.count_documents({"kind": "apply"}) == 0

    await slack.click("approve", card, user="U2")
    await card_of(runtime, mock_slack, request.id, "Done")


async def test_a_retried_event_changes_nothing(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    thread = "1800000999.000100"
    event = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {REQUEST}", "ts": thread, "channel": "C1"}
    body = slack.event_body(event, event_id="Ev0RETRY")
    first = await slack.send(body, "application/json")
    retries = [
        await slack.send(body, "application/json",
                         headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"})
        for n in (1, 2, 3)
    ]
    # The same message also arrives as a plain `message` event with its own event id.
    twin = {**event, "type": "message", "channel_type": "channel", "thread_ts": thread}
    await slack.event(twin, event_id="Ev0TWIN")
    assert [r.status_code for r in [first, *retries]] == [200, 200, 200, 200]

    request = await request_in(runtime, "C1", thread)
    await card_of(runtime, mock_slack, request.id, "waiting for approval")
    await asyncio.sleep(0.5)
    assert await runtime.db.requests.count_documents({}) == 1
    assert await runtime.db.jobs.count_documents({}) == 1
    assert len(replies_in(mock_slack, "C1", thread)) == 1
    assert len([m for m in mock_slack.thread_messages("C1", thread) if m.get("blocks")]) == 1


async def test_a_repeated_click_applies_once(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    thread, request, card = await planned(slack, runtime)
    body = slack.click_body("approve", card, user="U1")
    form = "application/x-www-form-urlencoded"
    # Slack redelivering the very same click, twice at once.
    first, again = await asyncio.gather(slack.send(body, form), slack.send(body, form))
    assert first.status_code == again.status_code == 200
    await card_of(runtime, mock_slack, request.id, "Done")
    await slack.click("approve", card, user="U1")  # a second press after it finished
    await asyncio.sleep(0.5)
    assert await runtime.db.jobs.count_documents({"kind": "apply"}) == 1
    confirmations = [m for m in replies_in(mock_slack, "C1", thread) if "Approved by" in m["text"]]
    assert len(confirmations) == 1


async def test_bad_signature_and_stale_timestamp_are_refused(slack: SlackClient, mock_slack: MockSlack) -> None:
    body = slack.event_body({"type": "app_mention", "user": "U1", "text": "<@UBOT> help", "ts": "1.2",
                             "channel": "C1"})
    assert (await slack.send(body, "application/json", secret="wrong")).status_code == 401
    stale = int(time.time()) - 6 * 60
    assert (await slack.send(body, "application/json", timestamp=stale)).status_code == 401
    tampered = await slack.http.post("/slack/events", content=body.replace("help", "destroy").encode(), headers={
        "Content-Type": "application/json", "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": sign(body, int(time.time())),
    })
    assert tampered.status_code == 401
    await asyncio.sleep(0.3)
    assert not mock_slack.calls_to("chat.postMessage") and not mock_slack.calls_to("chat.startStream")


async def test_a_50kb_message_gets_a_clear_reply(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    thread, response = await slack.mention("create a bucket " + "x" * 50_000)
    assert response.status_code == 200
    reply = (await eventually(lambda: _async(replies_in(mock_slack, "C1", thread))))[0]
    assert "characters long" in reply["text"] and "50,0" in reply["text"]
    assert await runtime.db.requests.count_documents({}) == 0


async def test_rate_limits_and_server_errors_on_update_do_not_lose_the_final_status(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    _, request, card = await planned(slack, runtime)
    mock_slack.fail("chat.update", 429, times=1, retry_after=1)
    mock_slack.fail("chat.update", 500, times=4)
    await slack.click("approve", card, user="U1")
    done = await card_of(runtime, mock_slack, request.id, "Done")
    assert done["ts"] == card["ts"]
    statuses = [c.status for c in mock_slack.calls_to("chat.update", ok_only=False)]
    assert 429 in statuses and statuses.count(500) == 4
    assert (await runtime.jobs.get(f"apply-{request.id}-{(await _plan_hash(runtime, request))}")).phase \
        == "succeeded"


async def test_without_streaming_the_reply_is_a_plain_message(
    slack: SlackClient, mock_slack: MockSlack
) -> None:
    mock_slack.streaming = False
    thread, _ = await slack.mention("help")
    reply = (await eventually(lambda: _async(replies_in(mock_slack, "C1", thread))))[0]
    assert "postgres" in reply["text"]
    assert [c.params["channel"] for c in mock_slack.calls_to("chat.postMessage")] == ["C1"]
    assert len(mock_slack.calls_to("chat.startStream")) == 1  # tried once, then remembered


async def _async(value: Any) -> Any:
    return value


async def _plan_hash(runtime: Runtime, request: Request) -> str:
    fresh = await runtime.requests.get(request.id)
    return str(fresh.approved_plan_hash) if fresh else ""


async def test_the_web_app_serves_slack_on_a_real_server(
    runtime: Runtime, mock_slack: MockSlack, worker: object
) -> None:
    """`create_app` mounts the endpoint at start-up when Slack settings are present; real HTTP, real port."""
    from bots.serve import create_app

    async with serving(create_app(runtime)) as base, httpx.AsyncClient(base_url=base) as http:
        slack = SlackClient(http, mock_slack)
        body = slack.event_body({"type": "app_mention", "user": "U1", "text": "<@UBOT> help", "ts": "1.2",
                                 "channel": "C1"})
        assert (await slack.send(body, "application/json", secret="forged")).status_code == 401
        thread, response = await slack.mention("help")
        assert response.status_code == 200
        reply = (await eventually(lambda: _async(replies_in(mock_slack, "C1", thread))))[0]
        assert "postgres" in reply["text"]
