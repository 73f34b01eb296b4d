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

    def can_stream(self, thread: ThreadRef) -> bool:
        return self.streaming and bool(thread_ts(thread))

    async def open_stream(self, thread: ThreadRef, user: str) -> str | None:
        """Starts an empty streamed reply at once, so Slack shows the answer is on its way while the turn
        runs; `send` fills it. None when Slack refuses, and then `send` posts as usual."""
        try:
            response = await self.clients.client(thread.workspace).chat_startStream(
                channel=thread.channel, thread_ts=thread.thread,
                recipient_team_id=thread.workspace, recipient_user_id=user,
            )
        except (SlackApiError, SlackRequestError) as exc:
            log.info("slack: could not open a reply stream (%s); the answer will be posted", _error(exc))
            if _error(exc) == "unknown_method":
                self.streaming = False
            return None
        return str(response["ts"])

    async def send(
        self, thread: ThreadRef, user: str, replies: list[Reply], *, stream_first: bool = False,
        opened: str | None = None,
    ) -> None:
        """Every reply is rendered (and escaped) here, once: replies quote what people typed.

        `opened` is the ts of a stream `open_stream` started for this turn: its first public reply goes there.
        """
        for i, reply in enumerate(replies):
            if reply.ephemeral:
                await self.ephemeral(thread, user, mrkdwn(reply.body))
            elif opened:
                await self.fill(thread, opened, reply)
                opened = None
            elif i == 0 and stream_first and self.streaming and not reply.buttons and thread_ts(thread):
                await self.stream(thread, user, reply.body)
            else:
                await self.post(thread, reply)
        if opened:
            await self.drop(thread, opened)

    async def fill(self, thread: ThreadRef, ts: str, reply: Reply) -> None:
        """The reply goes into the open stream; if Slack refuses, the stream's message is edited to it."""
        client = self.clients.client(thread.workspace)
        *pieces, last = stream_pieces(markdown(reply.body))
        try:
            for piece in pieces:
                await client.chat_appendStream(channel=thread.channel, ts=ts, markdown_text=piece)
            # The last piece rides on the stop: a short answer costs one call.
            await client.chat_stopStream(
                channel=thread.channel, ts=ts, markdown_text=last,
                blocks=[buttons_block(reply.buttons)] if reply.buttons else None,
            )
        except (SlackApiError, SlackRequestError) as exc:
            log.info("slack: could not fill the reply stream (%s); editing its message", _error(exc))
            try:
                await client.chat_update(
                    channel=thread.channel, ts=ts, text=mrkdwn(reply.body)[:MAX_MESSAGE_CHARS],
                    blocks=reply_blocks(reply) if reply.buttons else None,
                )
            except (SlackApiError, SlackRequestError):
                log.warning("slack: could not edit the reply stream's message either; posting the answer")
                await self.post(thread, reply)

    async def drop(self, thread: ThreadRef, ts: str) -> None:
        """The turn's only answers were private: the stream opened for it goes, rather than stay empty."""
        client = self.clients.client(thread.workspace)
        try:
            await client.chat_stopStream(channel=thread.channel, ts=ts)
            await client.chat_delete(channel=thread.channel, ts=ts)
        except (SlackApiError, SlackRequestError) as exc:
            log.warning("slack: could not remove an empty reply stream: %s", _error(exc))

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
