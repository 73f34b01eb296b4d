"""The Slack status card: chat.postMessage in the request's thread once, chat.update after that.

`chat.update` is a Tier 3 method (50+ a minute; Slack's rate-limit page says "sporadic bursts are
welcome"), so the shared CardSink loop lets a card's first few changes out at once and then coalesces
progress to one edit per card per `interval`: a request's create, change and cancel (each a job of a few
changes, on one card) within seconds of each other fit in the burst. This module only says how to post,
edit and read Slack's errors.
"""

from __future__ import annotations

from typing import Any, Unpack

from slack_sdk.errors import SlackApiError

from bots.slack.client import SlackClients, UnknownTeam
from bots.slack.places import PLATFORM, thread_ts
from bots.slack.render import render_card
from core.cardsink import CardLock, CardSink, Failure, SinkOptions
from core.messages import ThreadRef
from core.ports import CardRefStore
from core.status_card import StatusCard

__all__ = ["CardLock", "SlackStatusSink"]

# The workspace uninstalled the app or its token is gone: nothing in that workspace can be shown again.
DEAD_WORKSPACE = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                            "team_not_found", "no_permission", "missing_scope", "ekm_access_denied"})
# The card can never be shown there again (bot removed, channel archived or deleted).
UNREACHABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action",
                         "team_access_not_granted", "access_denied"})
# The card message itself is gone or frozen: a fresh card in the same thread carries on.
REPOST = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


class SlackStatusSink(CardSink):
    platform = PLATFORM

    def __init__(self, clients: SlackClients, refs: CardRefStore, **options: Unpack[SinkOptions]) -> None:
        # Each card goes out with the token of its thread's workspace; only edits retry on a 500.
        super().__init__(refs, **{"interval": 1.2, "burst": 6, **options})
        self.clients = clients

    async def post(self, thread: ThreadRef, card: StatusCard) -> dict[str, Any]:
        blocks, text = render_card(card)
        client = self.clients.client(thread.workspace)
        response = await client.chat_postMessage(
            channel=thread.channel, thread_ts=thread_ts(thread), text=text, blocks=blocks, unfurl_links=False
        )
        return {"channel": response["channel"], "ts": response["ts"]}

    async def edit(self, thread: ThreadRef, ref: dict[str, Any], card: StatusCard) -> None:
        blocks, text = render_card(card)
        client = self.clients.client(thread.workspace, retry_server_errors=True)
        await client.chat_update(channel=ref["channel"], ts=ref["ts"], text=text, blocks=blocks)

    def error_text(self, exc: Exception) -> str:
        if isinstance(exc, SlackApiError):
            return str(exc.response.get("error") or exc.response.status_code)
        return super().error_text(exc)

    def classify(self, exc: Exception) -> Failure:
        if isinstance(exc, UnknownTeam):
            return Failure.DEAD  # its token was taken out of the settings
        if isinstance(exc, SlackApiError):
            error = str(exc.response.get("error", ""))
            if error in REPOST:
                return Failure.REPOST
            if error in DEAD_WORKSPACE or error in UNREACHABLE:
                return Failure.DEAD
        return Failure.RETRY
