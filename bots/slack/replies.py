"""Sends the core's replies into a Slack thread: streamed when Slack supports it, ephemeral when asked."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError, SlackRequestError

from bots.slack.client import SlackClients
from bots.slack.places import thread_ts
from bots.slack.render import MAX_BLOCKS, MAX_SECTION_CHARS, buttons_block, markdown, mrkdwn, mrkdwn_lines, section
from core.markup import Message
from core.messages import Reply, ThreadRef
from core.textfit import pack_lines, split_text

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 39_000  # Slack cuts `text` at 40,000 characters
MAX_STREAM_APPEND = 12_000  # chat.startStream / appendStream take at most this much markdown_text a call


def stream_pieces(markdown: str, limit: int = MAX_STREAM_APPEND) -> list[str]:
    """Paragraph by paragraph, a long paragraph in line-aligned parts, so a long listing loses nothing."""
    pieces: list[str] = []
    for paragraph in [p for p in markdown.split("\n\n") if p.strip()] or [" "]:
        separator = "\n\n" if pieces else ""
        for part in pack_lines(paragraph.split("\n"), limit - len("\n\n")):
            pieces.append(separator + part)
            separator = "\n"
    return pieces


def reply_blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks = [section(t) for t in pack_lines(mrkdwn_lines(reply.body), MAX_SECTION_CHARS)][: MAX_BLOCKS - 1]
    if reply.buttons:
        blocks.append(buttons_block(reply.buttons))
    return blocks


class ReplySender:
    """Every call goes out with the token of the workspace the thread belongs to."""

    def __init__(self, clients: SlackClients, *, streaming: bool = True) -> None:
        self.clients = clients
        self.streaming = streaming

    async def send(
        self, thread: ThreadRef, user: str, replies: list[Reply], *, stream_first: bool = False
    ) -> None:
        """Every reply is rendered (and escaped) here, once: replies quote what people typed."""
        for i, reply in enumerate(replies):
            if reply.ephemeral:
                await self.ephemeral(thread, user, mrkdwn(reply.body))
            elif i == 0 and stream_first and self.streaming and not reply.buttons and thread_ts(thread):
                await self.stream(thread, user, reply.body)
            else:
                await self.post(thread, reply)

    async def post(self, thread: ThreadRef, reply: Reply) -> str | None:
        ts = None
        client = self.clients.client(thread.workspace)
        text = mrkdwn(reply.body)
        if reply.buttons:
            response = await client.chat_postMessage(
                channel=thread.channel, thread_ts=thread_ts(thread), text=text[:MAX_MESSAGE_CHARS],
                blocks=reply_blocks(reply), unfurl_links=False,
            )
            return str(response["ts"])
        for part in split_text(text, MAX_MESSAGE_CHARS) or [text]:
            response = await client.chat_postMessage(
                channel=thread.channel, thread_ts=thread_ts(thread), text=part, unfurl_links=False
            )
            ts = ts or str(response["ts"])
        return ts

    async def ephemeral(self, thread: ThreadRef, user: str, text: str) -> None:
        await self.clients.client(thread.workspace).chat_postEphemeral(
            channel=thread.channel, user=user, thread_ts=thread_ts(thread), text=text[:MAX_MESSAGE_CHARS]
        )

    async def stream(self, thread: ThreadRef, user: str, body: Message) -> None:
        """Streams paragraph by paragraph; if Slack refuses, the same text goes out as one plain message.

        Once a stream has a message ts, the fallback edits that message rather than posting a second one.
        """
        client = self.clients.client(thread.workspace)
        streamer = await client.chat_stream(
            channel=thread.channel,
            thread_ts=thread.thread,
            recipient_team_id=thread.workspace,
            recipient_user_id=user,
            buffer_size=1,
        )
        try:
            # The first append starts the message with real text, so nobody sees an empty reply.
            for piece in stream_pieces(markdown(body)):
                await streamer.append(markdown_text=piece)
            await streamer.stop()
        except (SlackApiError, SlackRequestError) as exc:
            log.info("slack: streaming unavailable (%s); sending a plain message", _error(exc))
            if _error(exc) == "unknown_method":
                # This Slack (or proxy) has no streaming at all; don't pay for the failed call every time.
                self.streaming = False
            if streamer.ts:
                await client.chat_update(
                    channel=thread.channel, ts=streamer.ts, text=mrkdwn(body)[:MAX_MESSAGE_CHARS]
                )
            else:
                await self.post(thread, Reply(body))


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", exc))
    return str(exc)
