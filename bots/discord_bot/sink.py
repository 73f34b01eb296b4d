"""The Discord status card: one embed message per request, posted once and then edited in place.

The shared CardSink loop does the rest (one card across processes, never backwards, coalescing, giving
up); this module only says how to post, edit, find a card a crashed process posted, and read errors.
"""

from __future__ import annotations

import logging
from typing import Any, Unpack

import discord

from bots.discord_bot.buttons import buttons_view
from bots.discord_bot.places import PLATFORM, destination, guild_id_of
from bots.discord_bot.render import card_embed, card_footer
from bots.discord_bot.replies import SAFE_MENTIONS
from core.cardsink import CardSink, Failure, SinkOptions
from core.messages import ThreadRef
from core.ports import CardRefStore
from core.status_card import StatusCard

log = logging.getLogger("infrabot.discord.sink")

HISTORY_SCAN = 50


class DiscordStatusSink(CardSink):
    platform = PLATFORM

    def __init__(self, bot: discord.Client, cards: CardRefStore, **options: Unpack[SinkOptions]) -> None:
        super().__init__(cards, **options)
        self.bot = bot

    @property
    def min_interval(self) -> float:
        return self.interval

    @min_interval.setter
    def min_interval(self, value: float) -> None:
        self.interval = value

    async def post(self, thread: ThreadRef, card: StatusCard) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"embed": card_embed(card), "allowed_mentions": SAFE_MENTIONS}
        view = buttons_view(card.buttons)
        if view is not None:
            kwargs["view"] = view
        message = await destination(self.bot, thread).send(**kwargs)
        return {"channel": str(message.channel.id), "message": str(message.id)}

    async def edit(self, thread: ThreadRef, ref: dict[str, Any], card: StatusCard) -> None:
        channel = self.bot.get_partial_messageable(int(ref["channel"]), guild_id=guild_id_of(thread))
        await channel.get_partial_message(int(ref["message"])).edit(
            embed=card_embed(card), view=buttons_view(card.buttons), allowed_mentions=SAFE_MENTIONS
        )

    def classify(self, exc: Exception) -> Failure:
        if isinstance(exc, discord.NotFound):
            # On an edit the message is gone; on a post the thread is, which the base treats as final.
            return Failure.REPOST
        if isinstance(exc, discord.Forbidden | discord.LoginFailure):
            return Failure.DEAD
        return Failure.RETRY

    async def find_posted(self, thread: ThreadRef, request_id: str) -> dict[str, Any] | None:
        """Adopts a card posted just before a crash that never got its ref stored, instead of a second."""
        me = self.bot.user
        footer = card_footer(request_id)
        try:
            async for message in destination(self.bot, thread).history(limit=HISTORY_SCAN):
                if me and message.author.id == me.id and any(e.footer.text == footer for e in message.embeds):
                    return {"channel": str(message.channel.id), "message": str(message.id)}
        except discord.HTTPException:
            log.warning("could not read recent messages in %s", thread.key())
        return None
