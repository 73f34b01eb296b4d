"""Maps Discord channels, threads and members onto the core's ThreadRef and principals."""

from __future__ import annotations

from typing import Any

import discord

from core.messages import ThreadRef

PLATFORM = "discord"
GUILD_REFUSAL = ("infrabot is not set up for this server: ask whoever runs it to add this server's id to "
                 "DISCORD_GUILD_IDS.")
DM_REFUSAL = ("infrabot only answers members of the servers it is set up for; ask in one of those servers, or "
              "ask whoever runs it.")
# Every DM is its own tenant, named after the person: DMs share no guild, so nothing else separates them.
DM_WORKSPACE_PREFIX = "dm-"


def dm_workspace(user_id: int | str) -> str:
    return f"{DM_WORKSPACE_PREFIX}{user_id}"


def is_dm(workspace: str) -> bool:
    # "dm" alone is how DMs were named before each got its own workspace; their cards still need a home.
    return workspace == "dm" or workspace.startswith(DM_WORKSPACE_PREFIX)


def thread_ref(channel: Any, guild: discord.Guild | None, user_id: int | str) -> ThreadRef:
    """A DM is its own thread, in the workspace of the person DMing; a guild thread lives under its parent.

    For a plain text channel the ref names the channel itself; callers open a thread first.
    """
    if guild is None:
        return ThreadRef(PLATFORM, dm_workspace(user_id), str(channel.id), str(channel.id))
    parent_id = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    return ThreadRef(PLATFORM, str(guild.id), str(parent_id or channel.id), str(channel.id))


def opened_thread_ref(thread: discord.abc.Snowflake, parent_id: int, guild_id: int) -> ThreadRef:
    return ThreadRef(PLATFORM, str(guild_id), str(parent_id), str(thread.id))


def principals(user: discord.abc.User, guild: discord.Guild | None) -> tuple[str, ...]:
    """The member's roles in `guild` as GUILD/ROLE ids (never names: anyone can name a role anything)."""
    if guild is None or not isinstance(user, discord.Member) or user.guild.id != guild.id:
        return ()
    return tuple(f"{guild.id}/{r.id}" for r in user.roles if not r.is_default())


def guild_id_of(thread: ThreadRef) -> int | None:
    return None if is_dm(thread.workspace) else int(thread.workspace)


def destination(bot: discord.Client, thread: ThreadRef) -> discord.PartialMessageable:
    """Where to post for a ThreadRef, without needing the channel in cache (e.g. after a restart)."""
    return bot.get_partial_messageable(int(thread.thread), guild_id=guild_id_of(thread))


def strip_mentions(text: str, bot_id: int) -> str:
    for token in (f"<@{bot_id}>", f"<@!{bot_id}>"):
        text = text.replace(token, " ")
    return " ".join(text.split(" ")).strip()


def thread_name(text: str) -> str:
    words = " ".join(text.split())
    name = f"infra: {words}" if words else "infra request"
    return name if len(name) <= 90 else name[:89] + "…"
