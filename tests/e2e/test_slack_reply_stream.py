"""The instant reply on Slack: once the core says the words are stored, a reply stream opens in the thread,
and the answer fills it when the turn is done. Driven through the real handlers and reply sender against the
Slack Web API stand-in; the core is held mid-turn to see what Slack shows meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from bots.slack.client import SlackClients
from bots.slack.handlers import SlackHandlers
from bots.slack.replies import ReplySender
from config.settings import Settings
from core import texts
from core.markup import Message
from core.messages import Button, IncomingMessage, Reply, ThreadRef
from tests.fakes import FakeEventGate
from tests.slack_mock import MockSlack
from tests.slack_mock.server import BOT_TOKEN, TEAM
from tests.support import eventually

ROOT = "1800000000.000001"
BOT = "UBOT"


class HeldCore:
    """Says the words are stored, then waits to be let go before answering (or failing)."""

    def __init__(self, replies: list[Reply], *, fail: bool = False, hear: bool = True) -> None:
        self.replies = replies
        self.fail = fail
        self.hear = hear
        self.go = asyncio.Event()

    async def handle_message(
        self, message: IncomingMessage, received: Callable[[], None] | None = None
    ) -> list[Reply]:
        if received is not None and self.hear:
            received()
        await self.go.wait()
        if self.fail:
            raise RuntimeError("the core's own bug")
        return self.replies

    async def handle_action(self, action: Any) -> list[Reply]:
        return []


class AnyThread:
    async def known(self, thread: ThreadRef) -> bool:
        return True


def handlers(mock: MockSlack, core: HeldCore) -> SlackHandlers:
    settings = Settings(_env_file=None, slack_bot_token=SecretStr(BOT_TOKEN), slack_api_url=mock.url)  # type: ignore[call-arg]
    clients = SlackClients(settings)
    return SlackHandlers(core, AnyThread(), clients, ReplySender(clients), FakeEventGate())


def mention(text: str = "create a bucket for shop") -> dict[str, Any]:
    return {"team_id": TEAM, "event": {"type": "app_mention", "user": "U1", "text": f"<@{BOT}> {text}", "ts": ROOT,
                                       "channel": "C1"}}


async def _true(value: bool) -> bool:
    return value


async def held(mock: MockSlack, core: HeldCore) -> asyncio.Task[None]:
    """The mention is being handled and the core is mid-turn, with the stream already open."""
    task = asyncio.create_task(handlers(mock, core).on_mention(mention(), BOT))
    await eventually(lambda: _true(bool(mock.calls_to("chat.startStream"))))
    return task


async def test_the_stream_opens_while_the_turn_runs_and_the_answer_fills_it(mock_slack: MockSlack) -> None:
    core = HeldCore([Reply(Message.parse("Got it! Planning shop now."))])
    task = await held(mock_slack, core)

    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["streaming"] and shown["text"] == "", "an empty streamed reply, not a claim of what was done"
    assert not task.done()

    core.go.set()
    await task
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert not shown["streaming"]
    assert shown["text"] == "Got it! Planning shop now."
    assert len(mock_slack.calls_to("chat.stopStream")) == 1
    assert not mock_slack.calls_to("chat.appendStream"), "a short answer rides on the stop"
    assert not mock_slack.calls_to("chat.postMessage")


async def test_a_second_reply_follows_the_stream_as_its_own_message(mock_slack: MockSlack) -> None:
    core = HeldCore([Reply(texts.EXPIRED), Reply(Message.parse("Here is where we were."))])
    task = await held(mock_slack, core)
    core.go.set()
    await task
    first, second = mock_slack.thread_messages("C1", ROOT)
    assert first["text"] and not first["streaming"]
    assert second["text"] == "Here is where we were."


async def test_buttons_arrive_with_the_end_of_the_stream(mock_slack: MockSlack) -> None:
    buttons = [Button("approve", "Destroy", "req1:abc", "danger"), Button("cancel", "Cancel", "req1")]
    core = HeldCore([Reply(Message.parse("This destroys shop. Sure?"), buttons=buttons)])
    task = await held(mock_slack, core)
    core.go.set()
    await task
    [shown] = mock_slack.thread_messages("C1", ROOT)
    [actions] = shown["blocks"]
    assert [e["value"] for e in actions["elements"]] == ["req1:abc", "req1"]


async def test_an_answer_only_the_user_may_see_leaves_no_empty_reply_behind(mock_slack: MockSlack) -> None:
    core = HeldCore([Reply(Message.parse("Only an approver can apply this."), ephemeral=True)])
    task = await held(mock_slack, core)
    core.go.set()
    await task
    assert mock_slack.thread_messages("C1", ROOT) == []
    assert len(mock_slack.calls_to("chat.delete")) == 1
    [private] = mock_slack.ephemeral
    assert private["user"] == "U1" and "approver" in private["text"]


async def test_when_slack_refuses_the_end_of_the_stream_the_message_is_edited_to_the_answer(
    mock_slack: MockSlack,
) -> None:
    mock_slack.fail("chat.stopStream", 500, times=10)
    core = HeldCore([Reply(Message.parse("Planned."))])
    task = await held(mock_slack, core)
    core.go.set()
    await task
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["text"] == "Planned."
    assert mock_slack.calls_to("chat.update")


async def test_a_core_that_fails_mid_turn_does_not_leave_the_stream_empty(mock_slack: MockSlack) -> None:
    core = HeldCore([], fail=True)
    task = await held(mock_slack, core)
    core.go.set()
    try:
        await task
    except RuntimeError:
        pass
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["text"] and not shown["streaming"]


async def test_a_message_the_core_did_not_store_opens_no_empty_stream(mock_slack: MockSlack) -> None:
    core = HeldCore([Reply(texts.NOT_SAVED)], hear=False)
    core.go.set()
    await handlers(mock_slack, core).on_mention(mention(), BOT)
    # The answer may still stream, but it starts with its own words: nothing was shown before the turn ended.
    assert all(c.params.get("markdown_text") or c.params.get("chunks")
               for c in mock_slack.calls_to("chat.startStream", ok_only=False))
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert "saved" in shown["text"].lower()


async def test_without_streaming_the_answer_is_posted_when_the_turn_is_done() -> None:
    mock = MockSlack(streaming=False).start()
    try:
        core = HeldCore([Reply(Message.parse("Planned."))])
        core.go.set()
        await handlers(mock, core).on_mention(mention(), BOT)
        [shown] = mock.thread_messages("C1", ROOT)
        assert shown["text"] == "Planned."
        assert len(mock.calls_to("chat.postMessage")) == 1
    finally:
        mock.stop()


async def test_when_slack_fails_to_open_the_stream_the_answer_is_still_posted(mock_slack: MockSlack) -> None:
    mock_slack.fail("chat.startStream", 500, times=20)
    core = HeldCore([Reply(Message.parse("Planned."))])
    core.go.set()
    await handlers(mock_slack, core).on_mention(mention(), BOT)
    [shown] = mock_slack.thread_messages("C1", ROOT)
    assert shown["text"] == "Planned."
    assert mock_slack.calls_to("chat.postMessage")
