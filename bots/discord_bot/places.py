"""Maps Discord channels, threads and members onto the core's ThreadRef and principals."""

from __future__ import annotations

from typing import Any

import discord

from core.messages import ThreadRef

PLATFORM = "discord"
DM_WORKSPACE = "dm"


def thread_ref(channel: Any, guild: discord.Guild | None) -> ThreadRef:
    """A DM is its own thread; a guild thread lives under its parent channel.

    For a plain text channel the ref names the channel itself; callers open a thread first.
    """
    if guild is None:
        return ThreadRef(PLATFORM, DM_WORKSPACE, str(channel.id), str(channel.id))
    parent_id = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    return ThreadRef(PLATFORM, str(guild.id), str(parent_id or channel.id), str(channel.id))


def opened_thread_ref(thread: discord.abc.Snowflake, parent_id: int, guild_id: int) -> ThreadRef:
    return ThreadRef(PLATFORM, str(guild_id), str(parent_id), str(thread.id))


def principals(user: discord.abc.User) -> tuple[str, ...]:
    """Role names and ids, so policies may name either ("role:Infra Admins" or "role:1234")."""
    if not isinstance(user, discord.Member):
        return ()
    roles = [r for r in user.roles if not r.is_default()]
    return tuple(r.name for r in roles) + tuple(str(r.id) for r in roles)


def destination(bot: discord.Client, thread: ThreadRef) -> discord.PartialMessageable:
    """Where to post for a ThreadRef, without needing the channel in cache (e.g. after a restart)."""
    guild_id = None if thread.workspace == DM_WORKSPACE else int(thread.workspace)
    return bot.get_partial_messageable(int(thread.thread), guild_id=guild_id)


def strip_mentions(text: str, bot_id: int) -> str:
    for token in (f"<@{bot_id}>", f"<@!{bot_id}>"):
        text = text.replace(token, " ")
    return " ".join(text.split(" ")).strip()


def thread_name(text: str) -> str:
    words = " ".join(text.split())
    name = f"infra: {words}" if words else "infra request"
    return name if len(name) <= 90 else name[:89] + "…"
