"""The Discord client: intents, slash-command sync, persistent buttons and the status sink."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from bots.discord_bot.buttons import ActionButton
from bots.discord_bot.conversation import Conversation
from bots.discord_bot.permissions import make_intents
from bots.discord_bot.places import PLATFORM, principals, thread_ref
from bots.discord_bot.replies import SAFE_MENTIONS, send_followups
from bots.discord_bot.sink import DiscordStatusSink
from bots.runtime import Runtime
from core.messages import ActionEvent, Reply
from core.texts import ERROR
from jobs.doc_lock import DocLocks

log = logging.getLogger("infrabot.discord")


class InfraBot(commands.Bot):
    def __init__(
        self,
        runtime: Runtime,
        *,
        message_content: bool | None = None,
        guild_ids: list[int] | None = None,
        status_interval: float = 1.0,
    ) -> None:
        settings = runtime.settings
        if message_content is None:
            message_content = settings.discord_message_content
        super().__init__(
            # No prefix commands: every message goes to the conversation cog instead.
            command_prefix=commands.when_mentioned,
            intents=make_intents(message_content),
            help_command=None,
            allowed_mentions=SAFE_MENTIONS,
        )
        self.runtime = runtime
        self.guild_ids = list(settings.guild_ids) if guild_ids is None else guild_ids
        # The card lock is shared with every other process relaying Discord cards against this Redis.
        self.sink = DiscordStatusSink(self, runtime.cards, min_interval=status_interval,
                                      lock=DocLocks(runtime.redis, lease_ms=30_000).hold)

    async def setup_hook(self) -> None:
        # Buttons on cards posted by an earlier process are matched by custom id from now on.
        self.add_dynamic_items(ActionButton)
        await self.add_cog(Conversation(self))
        await self.sync_commands()
        self.runtime.relay.register(PLATFORM, self.sink)

    async def sync_commands(self) -> None:
        """Guild sync shows commands at once; global sync can take up to an hour to reach clients."""
        if not self.guild_ids:
            await self.tree.sync()
            return
        for guild_id in self.guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)

    async def on_message(self, message: discord.Message, /) -> None:
        """Overrides commands.Bot's prefix-command processing; the cog handles messages."""

    async def on_button(self, interaction: discord.Interaction[Any], action: str, request_id: str) -> None:
        # Acknowledge first: the core may take longer than Discord's 3-second window.
        await interaction.response.defer()
        event = ActionEvent(
            thread=thread_ref(interaction.channel, interaction.guild),
            user=str(interaction.user.id),
            request_id=request_id,
            action=action,
            event_id=str(interaction.id),
            roles=principals(interaction.user),
        )
        try:
            replies = await self.runtime.core.handle_action(event)
        except Exception:
            log.exception("core failed on discord button %s", interaction.id)
            replies = [Reply(ERROR, ephemeral=True)]
        await send_followups(interaction, replies)
