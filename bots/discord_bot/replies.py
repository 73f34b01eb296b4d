"""Delivers the core's replies: chunked under 2,000 characters, buttons on the last chunk."""

from __future__ import annotations

from typing import Any

import discord

from bots.discord_bot.buttons import buttons_view
from bots.discord_bot.render import MESSAGE_LIMIT, discord_markdown
from core.messages import Reply
from core.textfit import split_text

# Replies and cards quote what people typed: no message the bot sends or edits may ping anyone, so a typed
# "@everyone" or "<@&role>" stays text. The core's own mentions still show as names, just silently.
SAFE_MENTIONS = discord.AllowedMentions.none()


def _parts(reply: Reply) -> list[tuple[str, discord.ui.View | None]]:
    chunks = split_text(discord_markdown(reply.body), MESSAGE_LIMIT)
    view = buttons_view(reply.buttons)
    if not chunks:
        return [("\u200b", view)] if view else []
    return [(chunk, view if i == len(chunks) - 1 else None) for i, chunk in enumerate(chunks)]


async def send_replies(channel: discord.abc.Messageable, replies: list[Reply]) -> list[discord.Message]:
    """Posts into a thread or DM. A message can't be ephemeral, so ephemeral replies post normally."""
    sent: list[discord.Message] = []
    for reply in replies:
        for text, view in _parts(reply):
            kwargs: dict[str, Any] = {"allowed_mentions": SAFE_MENTIONS}
            if view is not None:
                kwargs["view"] = view
            sent.append(await channel.send(text, **kwargs))
    return sent


async def send_followups(interaction: discord.Interaction[Any], replies: list[Reply]) -> None:
    """After a defer: public replies as follow-ups, ephemeral ones only to the person who acted."""
    for reply in replies:
        for text, view in _parts(reply):
            kwargs: dict[str, Any] = {"ephemeral": reply.ephemeral, "allowed_mentions": SAFE_MENTIONS}
            if view is not None:
                kwargs["view"] = view
            await interaction.followup.send(text, **kwargs)
