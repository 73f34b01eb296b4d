"""A reply stream whose turn never ended (its process died mid-turn) is closed with an apology by whichever
Slack process sweeps first, once; streams that were filled are left alone. Real Redis, Slack stand-in."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from bots.runtime import Runtime
from bots.slack.client import SlackClients
from bots.slack.handlers import SlackHandlers
from bots.slack.open_streams import OpenStreams
from bots.slack.places import thread_ref
from bots.slack.replies import ReplySender
from config.settings import Settings
from core.markup import Message
from core.messages import Reply
from infra.redis_keys import SLACK_OPEN_STREAMS
from tests.e2e.test_slack_reply_stream import BOT, ROOT, AnyThread, HeldCore, mention
from tests.fakes import FakeEventGate
from tests.slack_mock import MockSlack
from tests.slack_mock.server import BOT_TOKEN, TEAM
from tests.support import eventually

THREAD = thread_ref(TEAM, "C1", ROOT)
INTERRUPTED = "Sorry, I was interrupted while answering this."


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def sender(mock: MockSlack) -> ReplySender:
    settings = Settings(_env_file=None, slack_bot_token=SecretStr(BOT_TOKEN), slack_api_url=mock.url)  # type: ignore[call-arg]
    return ReplySender(SlackClients(settings))


async def opened_stream(reply_sender: ReplySender) -> str:
    ts = await reply_sender.open_stream(THREAD, "U1")
    assert ts
    return ts


async def test_a_stream_left_open_is_closed_with_an_apology_once_it_is_stale(
    runtime: Runtime, mock_slack: MockSlack
) -> None:
    clock, reply_sender = Clock(), sender(mock_slack)
    streams = OpenStreams(runtime.redis, reply_sender, stale_after=120, clock=clock)
    ts = await opened_stream(reply_sender)
    await streams.opened(THREAD, ts)

    clock.now += 60
    assert await streams.sweep() == 0, "a turn may still be running a minute in"
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["streaming"]

    clock.now += 61
    assert await streams.sweep() == 1
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert not shown["streaming"] and shown["text"].startswith(INTERRUPTED)
    assert await runtime.redis.zcard(SLACK_OPEN_STREAMS) == 0
    assert await streams.sweep() == 0


async def test_a_filled_stream_is_never_touched(runtime: Runtime, mock_slack: MockSlack) -> None:
    clock, reply_sender = Clock(), sender(mock_slack)
    streams = OpenStreams(runtime.redis, reply_sender, stale_after=120, clock=clock)
    ts = await opened_stream(reply_sender)
    await streams.opened(THREAD, ts)
    await reply_sender.fill(THREAD, ts, Reply(Message.parse("Planned.")))
    await streams.filled(THREAD, ts)
    clock.now += 1000
    assert await streams.sweep() == 0
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["text"] == "Planned."


async def test_two_processes_sweeping_at_once_close_each_stream_once(runtime: Runtime, mock_slack: MockSlack) -> None:
    clock = Clock()
    one = OpenStreams(runtime.redis, sender(mock_slack), stale_after=120, clock=clock)
    two = OpenStreams(runtime.redis, sender(mock_slack), stale_after=120, clock=clock)
    for _ in range(6):
        await one.opened(THREAD, await opened_stream(one.sender))
    clock.now += 121
    closed = await asyncio.gather(one.sweep(), two.sweep())
    assert sum(closed) == 6
    assert len(mock_slack.calls_to("chat.stopStream")) == 6


async def test_a_turn_cut_off_after_its_stream_opened_gets_the_apology(
    runtime: Runtime, mock_slack: MockSlack
) -> None:
    # The turn is cut off mid-way, as when its process dies: nothing fills the stream or strikes it off.
    clock, reply_sender = Clock(), sender(mock_slack)
    streams = OpenStreams(runtime.redis, reply_sender, stale_after=120, clock=clock)
    handlers = SlackHandlers(HeldCore([Reply(Message.parse("never sent"))]), AnyThread(), reply_sender.clients,
                             reply_sender, FakeEventGate(), streams=streams)
    turn = asyncio.create_task(handlers.on_mention(mention(), BOT))
    await eventually(lambda: runtime.redis.zcard(SLACK_OPEN_STREAMS))
    turn.cancel()

    clock.now += 121
    # Another process's sweeper.
    assert await OpenStreams(runtime.redis, sender(mock_slack), stale_after=120, clock=clock).sweep() == 1
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["text"].startswith(INTERRUPTED)


async def test_a_turn_that_ends_strikes_its_stream_off(runtime: Runtime, mock_slack: MockSlack) -> None:
    reply_sender = sender(mock_slack)
    streams = OpenStreams(runtime.redis, reply_sender)
    core = HeldCore([Reply(Message.parse("Planned."))])
    core.go.set()
    handlers = SlackHandlers(core, AnyThread(), reply_sender.clients, reply_sender, FakeEventGate(), streams=streams)
    await handlers.on_mention(mention(), BOT)
    assert mock_slack.calls_to("chat.startStream") and mock_slack.calls_to("chat.stopStream")
    assert await runtime.redis.zcard(SLACK_OPEN_STREAMS) == 0


async def test_a_turn_still_running_when_swept_replaces_the_apology_with_its_answer(
    runtime: Runtime, mock_slack: MockSlack
) -> None:
    clock, reply_sender = Clock(), sender(mock_slack)
    streams = OpenStreams(runtime.redis, reply_sender, stale_after=120, clock=clock)
    core = HeldCore([Reply(Message.parse("Planned, at last."))])
    handlers = SlackHandlers(core, AnyThread(), reply_sender.clients, reply_sender, FakeEventGate(), streams=streams)
    turn = asyncio.create_task(handlers.on_mention(mention(), BOT))
    await eventually(lambda: runtime.redis.zcard(SLACK_OPEN_STREAMS))
    clock.now += 121
    assert await streams.sweep() == 1
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["text"].startswith(INTERRUPTED)

    core.go.set()
    await turn
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["text"] == "Planned, at last."
