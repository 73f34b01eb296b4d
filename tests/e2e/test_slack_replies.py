"""Replies sent through the Slack Web API stand-in: streamed, split and never silently shortened."""

from __future__ import annotations

from pydantic import SecretStr

from bots.slack.client import SlackClients
from bots.slack.replies import MAX_STREAM_APPEND, ReplySender
from config.settings import Settings
from core.markup import Message
from core.messages import Reply, ThreadRef
from tests.slack_mock import MockSlack
from tests.slack_mock.server import BOT_TOKEN, TEAM

THREAD = ThreadRef("slack", TEAM, "C1", "1800000000.000001")


def sender(mock: MockSlack) -> ReplySender:
    settings = Settings(_env_file=None, slack_bot_token=SecretStr(BOT_TOKEN), slack_api_url=mock.url)  # type: ignore[call-arg]
    return ReplySender(SlackClients(settings))


def streamed_texts(mock: MockSlack) -> list[str]:
    texts = []
    for method in ("chat.startStream", "chat.appendStream", "chat.stopStream"):
        for call in mock.calls_to(method):
            texts += [c.get("text", "") for c in call.params.get("chunks") or []]
            texts.append(call.params.get("markdown_text", ""))
    return texts


async def test_a_long_single_paragraph_streams_whole_in_pieces_slack_accepts(mock_slack: MockSlack) -> None:
    # A full plan listing is one paragraph of many lines, longer than one append may carry.
    lines = [f"+ create gcp:storage/bucket:Bucket shop-assets-{i:04d} (us-central1, standard)"
             for i in range(400)]
    text = "The full plan:\n\n" + "\n".join(lines)
    assert len(text) > 2 * MAX_STREAM_APPEND

    await sender(mock_slack).send(THREAD, "U1", [Reply(Message.parse(text), long=True)], stream_first=True)

    assert all(len(t) <= MAX_STREAM_APPEND for t in streamed_texts(mock_slack))
    (message,) = mock_slack.thread_messages("C1", THREAD.thread)
    assert message["text"] == text
    assert not mock_slack.calls_to("chat.postMessage")
