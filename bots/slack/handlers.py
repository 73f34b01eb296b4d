"""Turns Slack events, slash commands and button clicks into calls on the platform-neutral core."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from bots.slack.client import SlackClients
from bots.slack.places import DM_THREAD, thread_ref
from bots.slack.render import ACTION_PREFIX, mrkdwn
from bots.slack.replies import ReplySender
from bots.slack.text import escape
from core import texts
from core.markup import Code, Message, Strong, line, say
from core.messages import ActionEvent, IncomingMessage, Reply, ThreadRef
from core.ports import ChatCore, EventGate

log = logging.getLogger(__name__)

COMMAND_HELP = mrkdwn(Message((
    line(Strong("/infra"), " posts your request in this channel and I answer in its thread."),
    line("Example: ", Code(f"/infra {texts.EXAMPLE}")),
    line("You can also mention me (", Code("@infrabot ..."), ") or send me a direct message."),
    line(),
)) + texts.HELP)
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
# Message subtypes that are a person writing; everything else (edits, joins, bots) is not for the core.
_USER_SUBTYPES = {None, "file_share", "thread_broadcast"}


class KnownThreads(Protocol):
    async def known(self, thread: ThreadRef) -> bool: ...


class Roles(Protocol):
    async def roles_of(self, team: str, user: str) -> tuple[str, ...]: ...


class StreamBook(Protocol):
    """Where opened reply streams are noted until filled (bots/slack/open_streams.py)."""

    async def opened(self, thread: ThreadRef, ts: str) -> None: ...
    async def filled(self, thread: ThreadRef, ts: str) -> None: ...


class NoRoles:
    async def roles_of(self, team: str, user: str) -> tuple[str, ...]:
        return ()


def plain_text(text: str, bot_user: str | None) -> str:
    """Slack's wire format to what the user typed: drop the bot's mention, unwrap links, unescape."""
    if bot_user:
        text = re.sub(rf"<@{re.escape(bot_user)}(?:\|[^>]*)?>", " ", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return html.unescape(" ".join(text.split()))


def mentions(text: str, user: str | None) -> bool:
    return bool(user) and any(m == user for m in _MENTION.findall(text or ""))


class SlackHandlers:
    def __init__(
        self,
        core: ChatCore,
        threads: KnownThreads,
        clients: SlackClients,
        sender: ReplySender,
        gate: EventGate,
        roles: Roles | None = None,
        streams: StreamBook | None = None,
    ) -> None:
        self.core = core
        self.streams = streams
        self.roles = roles or NoRoles()
        self.threads = threads
        self.clients = clients
        self.sender = sender
        self.gate = gate

    async def on_mention(self, body: dict[str, Any], bot_user: str | None) -> None:
        event = body["event"]
        if _from_bot(event, bot_user):
            return
        thread = thread_ref(_team(body), event["channel"], event.get("thread_ts") or event["ts"])
        await self._converse(thread, event, plain_text(event.get("text", ""), bot_user))

    async def on_message(self, body: dict[str, Any], bot_user: str | None) -> None:
        event = body["event"]
        subtype = event.get("subtype")
        if subtype not in _USER_SUBTYPES or _from_bot(event, bot_user):
            log.info("slack: ignoring message subtype=%s bot=%s in %s", subtype, event.get("bot_id"),
                     event.get("channel"))
            return
        team, channel = _team(body), event["channel"]
        if event.get("channel_type") == "im":
            thread = thread_ref(team, channel, event.get("thread_ts") or DM_THREAD)
        elif event.get("thread_ts"):
            if mentions(event.get("text", ""), bot_user):
                return  # the app_mention event for this same message carries it
            thread = thread_ref(team, channel, event["thread_ts"])
            if not await self.threads.known(thread):
                return
        else:
            return
        await self._converse(thread, event, plain_text(event.get("text", ""), bot_user))

    async def on_command(self, body: dict[str, Any]) -> Reply | None:
        """Runs after the ack. Returns an ephemeral reply when the request can't go in the channel."""
        text = " ".join((body.get("text") or "").split())
        team, channel, user = body["team_id"], body["channel_id"], body["user_id"]
        shown = html.unescape(text)
        # The channel post comes before the core sees the command, so a repeat must be stopped here.
        try:
            fresh = await self.gate.claim(f"slack:{team}:post:{body['trigger_id']}")
        except Exception:
            # Slack always gets an answer: without the gate, say so rather than post nothing.
            log.exception("slack: event gate unavailable for /infra %s", body["trigger_id"])
            return Reply(texts.NOT_SAVED, ephemeral=True)
        if not fresh:
            log.info("slack: duplicate /infra %s dropped", body["trigger_id"])
            return None
        try:
            posted = await self.clients.client(team).chat_postMessage(
                # Escaped: `/infra <!channel> …` must not become a live @channel in the bot's own post.
                channel=channel, text=f"<@{user}> asked: {escape(shown[:3000])}", unfurl_links=False
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.info("slack: /infra could not post in %s: %s", channel, error)
            if error in ("not_in_channel", "channel_not_found"):
                return Reply(say("I'm not in this channel yet: invite me with ", Code("/invite @infrabot"),
                                 ", or mention me or DM me instead."), ephemeral=True)
            raise
        thread = thread_ref(team, posted["channel"], posted["ts"])
        message = IncomingMessage(thread=thread, user=user, text=plain_text(text, None),
                                  event_id=f"cmd:{body['trigger_id']}", roles=await self.roles.roles_of(team, user))
        await self._dispatch(message)
        return None

    async def on_action(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body["user"]["id"]
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        thread = pressed_in(team, body)
        event = ActionEvent(
            thread=thread,
            user=user,
            # The button's value only names what to act on; where it was pressed comes from Slack, above.
            request_id=action.get("value", ""),
            action=action["action_id"].removeprefix(ACTION_PREFIX),
            event_id=f"act:{action.get('action_ts', '')}:{user}",
            roles=await self.roles.roles_of(team, user),
        )
        replies = await self.core.handle_action(event)
        await self.sender.send(thread, user, replies)

    async def _converse(self, thread: ThreadRef, event: dict[str, Any], text: str) -> None:
        # The message's own channel+ts: Slack's retries and the app_mention/message pair that one message
        # can produce all share it, while their event ids differ.
        message = IncomingMessage(thread=thread, user=event["user"], text=text,
                                  event_id=f"msg:{event['channel']}:{event['ts']}",
                                  roles=await self.roles.roles_of(thread.workspace, event["user"]))
        await self._dispatch(message)

    async def _dispatch(self, message: IncomingMessage) -> None:
        thread, user = message.thread, message.user
        opening: asyncio.Task[str | None] | None = None

        def received() -> None:
            # The core calls this once the words are stored: the reply stream opens while the turn runs.
            nonlocal opening
            if self.sender.can_stream(thread):
                opening = asyncio.ensure_future(self._open(thread, user))

        try:
            replies = await self.core.handle_message(message, received)
        except Exception:
            # The core answers its own failures; this is the adapter's last word on an opened stream.
            opened = await opening if opening else None
            if opened:
                await self.sender.fill(thread, opened, Reply(texts.ERROR))
                await self._filled(thread, opened)
            raise
        opened = await opening if opening else None
        await self.sender.send(thread, user, replies, stream_first=True, opened=opened)
        if opened:
            await self._filled(thread, opened)

    async def _open(self, thread: ThreadRef, user: str) -> str | None:
        ts = await self.sender.open_stream(thread, user)
        if ts and self.streams is not None:
            try:
                await self.streams.opened(thread, ts)
            except Exception:
                log.warning("slack: could not note the open reply stream in %s", thread.key(), exc_info=True)
        return ts

    async def _filled(self, thread: ThreadRef, ts: str) -> None:
        if self.streams is None:
            return
        try:
            await self.streams.filled(thread, ts)
        except Exception:
            log.warning("slack: could not strike the filled reply stream in %s", thread.key(), exc_info=True)


def pressed_in(team: str, body: dict[str, Any]) -> ThreadRef:
    """The thread a button was pressed in, as Slack reports it: the message's container and its thread."""
    container = body.get("container") or {}
    card = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    thread = container.get("thread_ts") or card.get("thread_ts")
    if not thread:
        # A card at the top of a DM lives in the DM's own thread; elsewhere a top-level card is its own thread.
        thread = DM_THREAD if channel.startswith("D") else container.get("message_ts") or card.get("ts", "")
    return thread_ref(team, channel, thread)


def _team(body: dict[str, Any]) -> str:
    event = body.get("event") or {}
    return body.get("team_id") or event.get("team") or ""


def _from_bot(event: dict[str, Any], bot_user: str | None) -> bool:
    return bool(event.get("bot_id")) or (bot_user is not None and event.get("user") == bot_user) or (
        "user" not in event
    )
