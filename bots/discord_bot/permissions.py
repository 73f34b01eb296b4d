"""What the bot asks Discord for: gateway intents, channel permissions and the invite link."""

from __future__ import annotations

import discord

# Exactly what the bot uses: read the channel, answer in it and in threads, open a thread on a
# request, show the status card as an embed, and look back in a thread for its own card.
BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    read_message_history=True,
)

SCOPES: tuple[str, ...] = ("bot", "applications.commands")


def make_intents(message_content: bool = False) -> discord.Intents:
    """Unprivileged by default: mentions, DMs and slash commands carry their text anyway.

    With `message_content` (privileged; enable it in the developer portal too) the bot also reads
    follow-up messages in its threads that do not mention it.
    """
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = message_content
    return intents


def invite_url(client_id: int | str) -> str:
    return discord.utils.oauth_url(client_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)
