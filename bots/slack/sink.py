"""StatusSink for Slack: posts a request's card once in its thread, then edits that message in place.

Progress can change many times a second while `chat.update` is a Tier 3 method (about 50 a minute), so
intermediate states are coalesced: at most one update per card per `interval`, always the newest one.
Settled states (awaiting approval, done, failed, cancelled) and the first post are sent before `show`
returns, and any failure raises so the relay keeps the version pending and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError

from bots.slack.cards import render_card
from bots.slack.client import SlackClients, UnknownTeam
from bots.slack.threads import PLATFORM, thread_ts
from core.cards import StatusCard
from core.messages import ThreadRef
from core.ports import CardRefStore
from core.status import TERMINAL

log = logging.getLogger(__name__)

FINAL = frozenset({"succeeded", "failed", "cancelled"})
# The card can never be shown there again (bot removed, channel archived or deleted): retrying would only
# keep the relay busy with it forever, so the state is dropped with a warning.
UNREACHABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "restricted_action",
                         "team_access_not_granted", "access_denied"})
# The card message itself is gone or frozen: a fresh card in the same thread carries on.
REPOST = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
CardLock = Callable[[str], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def _no_lock(_: str) -> AsyncIterator[None]:
    yield


@dataclass
class _CardState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    job_id: str = ""
    sent_version: int = -1
    sent_at: float = 0.0
    pending: tuple[ThreadRef, StatusCard] | None = None
    flusher: asyncio.Task[None] | None = None


class SlackStatusSink:
    def __init__(
        self,
        clients: SlackClients,
        refs: CardRefStore,
        interval: float = 1.2,
        first_post_lock: CardLock = _no_lock,
    ) -> None:
        # Each card goes out with the token of its thread's workspace; only edits retry on a 500.
        self.clients = clients
        self.refs = refs
        self.interval = interval
        # Held across "no card yet? then post it" so two processes relaying Slack can't both post one.
        self.first_post_lock = first_post_lock
        self._cards: dict[str, _CardState] = {}

    async def show(self, thread: ThreadRef, card: StatusCard) -> None:
        await self._show(thread, card)
        state = self._cards.get(card.request_id)
        if card.phase in FINAL and state and not state.pending and not state.lock.locked():
            # A finished card needs no more coalescing; forgetting it keeps memory flat over months.
            del self._cards[card.request_id]

    async def _show(self, thread: ThreadRef, card: StatusCard) -> None:
        state = self._cards.setdefault(card.request_id, _CardState())
        async with state.lock:
            if self._stale(state, card):
                return
            ref = await self.refs.get(card.request_id, PLATFORM)
            if ref is None:
                async with self.first_post_lock(f"slack-card:{card.request_id}"):
                    ref = await self.refs.get(card.request_id, PLATFORM)
                    if ref is None:
                        await self._post(thread, card, state)
                        return
            wait = state.sent_at + self.interval - time.monotonic()
            if wait <= 0:
                await self._update(thread, ref, card, state)
                return
            if card.phase in TERMINAL:
                await asyncio.sleep(wait)
                await self._update(thread, ref, card, state)
                return
            state.pending = (thread, card)
            if state.flusher is None or state.flusher.done():
                state.flusher = asyncio.create_task(self._flush_later(card.request_id, wait))

    async def close(self) -> None:
        """Sends what is still waiting in the coalescing window, so shutting down loses nothing shown."""
        for request_id, state in list(self._cards.items()):
            if state.flusher and not state.flusher.done():
                state.flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state.flusher
            if state.pending:
                with contextlib.suppress(Exception):
                    await self._flush(request_id)

    @staticmethod
    def _stale(state: _CardState, card: StatusCard) -> bool:
        # Versions count per job; a request's card moves from its plan job to its apply job.
        if card.job_id != state.job_id:
            return False
        return card.version <= state.sent_version

    async def _flush_later(self, request_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self._flush(request_id)
        except Exception:
            # Only an intermediate state is lost here; the next change or the settled state replaces it.
            log.warning("slack: coalesced card update for %s failed", request_id, exc_info=True)

    async def _flush(self, request_id: str) -> None:
        state = self._cards.get(request_id)
        if state is None:
            return
        async with state.lock:
            pending, state.pending = state.pending, None
            if pending is None or self._stale(state, pending[1]):
                return
            ref = await self.refs.get(request_id, PLATFORM)
            if ref is not None:
                await self._update(pending[0], ref, pending[1], state)

    async def _post(self, thread: ThreadRef, card: StatusCard, state: _CardState) -> None:
        blocks, text = render_card(card)
        try:
            client = self.clients.client(thread.workspace)
            response = await client.chat_postMessage(
                channel=thread.channel, thread_ts=thread_ts(thread), text=text, blocks=blocks, unfurl_links=False
            )
        except UnknownTeam as exc:
            self._unserved(card, state, exc)
            return
        except SlackApiError as exc:
            if _error(exc) not in UNREACHABLE:
                raise
            log.warning("slack: card for %s can't be posted in %s (%s); giving up on this state",
                        card.request_id, thread.channel, _error(exc))
            self._sent(state, card)
            return
        await self.refs.put(card.request_id, PLATFORM, {"channel": response["channel"], "ts": response["ts"]})
        self._sent(state, card)

    async def _update(self, thread: ThreadRef, ref: dict[str, Any], card: StatusCard, state: _CardState) -> None:
        blocks, text = render_card(card)
        try:
            client = self.clients.client(thread.workspace, retry_server_errors=True)
            await client.chat_update(channel=ref["channel"], ts=ref["ts"], text=text, blocks=blocks)
        except UnknownTeam as exc:
            self._unserved(card, state, exc)
            return
        except SlackApiError as exc:
            if _error(exc) in REPOST:
                log.warning("slack: card for %s is gone (%s); posting a new one", card.request_id, _error(exc))
                await self._post(thread, card, state)
                return
            if _error(exc) not in UNREACHABLE:
                raise
            log.warning("slack: card for %s can't be updated (%s); giving up on this state",
                        card.request_id, _error(exc))
        self._sent(state, card)

    def _unserved(self, card: StatusCard, state: _CardState, exc: UnknownTeam) -> None:
        # Its workspace's token was taken out of the settings: no retry can reach it until it is back.
        log.warning("slack: card for %s can't be shown (%s); giving up on this state", card.request_id, exc)
        self._sent(state, card)

    @staticmethod
    def _sent(state: _CardState, card: StatusCard) -> None:
        state.job_id, state.sent_version, state.sent_at = card.job_id, card.version, time.monotonic()
        pending = state.pending
        if pending and pending[1].job_id == card.job_id and pending[1].version <= card.version:
            state.pending = None


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", ""))
