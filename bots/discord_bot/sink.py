"""The one status message per request: posted once, then edited in place, at most once a second."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import discord

from bots.discord_bot.buttons import buttons_view
from bots.discord_bot.places import PLATFORM, destination
from bots.discord_bot.render import card_embed
from core.cards import StatusCard
from core.messages import ThreadRef
from core.ports import CardRefStore

log = logging.getLogger("infrabot.discord.sink")

# Phases after which nothing changes until someone acts: shown before show() returns, so the
# relay only records them as delivered once they are really on screen.
SETTLED_PHASES = frozenset({"awaiting_approval", "succeeded", "failed", "cancelled"})
FINAL_PHASES = frozenset({"succeeded", "failed", "cancelled"})
HISTORY_SCAN = 50


@dataclass
class _Slot:
    """Per-request state: the newest card not yet shown and when the message was last written."""

    pending: tuple[ThreadRef, StatusCard] | None = None
    shown: tuple[str, int] | None = None
    shown_phase: str = ""
    last_write: float = float("-inf")
    drainer: asyncio.Task[None] | None = None
    error: BaseException | None = None


class DiscordStatusSink:
    """Implements core.chat.StatusSink for Discord.

    Edits are coalesced per message: a burst of progress updates becomes at most one edit per
    `min_interval` seconds, and the newest card always wins, so the final state is never lost.
    """

    def __init__(self, bot: discord.Client, cards: CardRefStore, *, min_interval: float = 1.0) -> None:
        self.bot = bot
        self.cards = cards
        self.min_interval = min_interval
        self._slots: dict[str, _Slot] = {}

    async def show(self, thread: ThreadRef, card: StatusCard) -> None:
        slot = self._slots.setdefault(card.request_id, _Slot())
        if _older(card, slot.shown, or_equal=True) or (
            slot.pending and _older(card, (slot.pending[1].job_id, slot.pending[1].version))
        ):
            return
        slot.pending = (thread, card)
        if slot.drainer is None or slot.drainer.done():
            slot.drainer = asyncio.create_task(self._drain(card.request_id, slot))
        if card.phase in SETTLED_PHASES:
            await asyncio.shield(slot.drainer)
            if slot.error is not None and slot.shown != (card.job_id, card.version):
                raise slot.error

    async def flush(self) -> None:
        """Waits until every pending card is on screen (used at shutdown and by tests)."""
        while tasks := [s.drainer for s in self._slots.values() if s.drainer and not s.drainer.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, request_id: str, slot: _Slot) -> None:
        while slot.pending is not None:
            wait = slot.last_write + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            thread, card = slot.pending
            slot.pending = None
            slot.last_write = time.monotonic()
            try:
                await self._write(thread, card)
            except Exception as exc:
                # Logged, not raised: a background edit has nobody to raise to. The relay retries a
                # settled card because show() re-raises for it.
                log.warning("could not show status for request %s: %s", request_id, exc)
                slot.error = exc
                continue
            slot.shown, slot.shown_phase, slot.error = (card.job_id, card.version), card.phase, None
        if slot.shown_phase in FINAL_PHASES and self._slots.get(request_id) is slot:
            # Nothing follows a final card, so its bookkeeping can go.
            del self._slots[request_id]

    async def _write(self, thread: ThreadRef, card: StatusCard) -> None:
        embed = card_embed(card)
        view = buttons_view(card.buttons)
        ref = await self.cards.get(card.request_id, PLATFORM)
        if ref is None:
            ref = await self._find_posted(thread, card.request_id)
            if ref is not None:
                await self.cards.put(card.request_id, PLATFORM, ref)
        if ref is not None:
            channel = self.bot.get_partial_messageable(int(ref["channel"]), guild_id=_guild_id(thread))
            try:
                await channel.get_partial_message(int(ref["message"])).edit(embed=embed, view=view)
                return
            except discord.NotFound:
                log.warning("status message for request %s was deleted; posting a new one", card.request_id)
        kwargs: dict[str, Any] = {"embed": embed}
        if view is not None:
            kwargs["view"] = view
        try:
            message = await destination(self.bot, thread).send(**kwargs)
        except (discord.Forbidden, discord.NotFound) as exc:
            # The thread is gone or closed to the bot: no retry can show it, and raising would keep
            # the relay retrying this card for ever.
            log.warning("status for request %s can't be shown in %s any more: %s",
                        card.request_id, thread.key(), exc)
            return
        await self.cards.put(
            card.request_id, PLATFORM, {"channel": str(message.channel.id), "message": str(message.id)}
        )

    async def _find_posted(self, thread: ThreadRef, request_id: str) -> dict[str, str] | None:
        """Adopts a card posted just before a crash that never got its ref stored, instead of a second."""
        me = self.bot.user
        footer = f"request {request_id}"
        try:
            async for message in destination(self.bot, thread).history(limit=HISTORY_SCAN):
                if me and message.author.id == me.id and any(e.footer.text == footer for e in message.embeds):
                    return {"channel": str(message.channel.id), "message": str(message.id)}
        except discord.HTTPException:
            log.warning("could not read recent messages in %s", thread.key())
        return None


def _older(card: StatusCard, ref: tuple[str, int] | None, *, or_equal: bool = False) -> bool:
    if ref is None or ref[0] != card.job_id:
        return False
    return card.version <= ref[1] if or_equal else card.version < ref[1]


def _guild_id(thread: ThreadRef) -> int | None:
    return None if thread.workspace == "dm" else int(thread.workspace)
