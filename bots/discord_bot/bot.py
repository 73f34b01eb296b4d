"""The Discord client: intents, slash-command sync, persistent buttons and the status sink."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from bots.discord_bot.buttons import ActionButton
from bots.discord_bot.conversation import Conversation
from bots.discord_bot.permissions import make_intents
from bots.discord_bot.places import GUILD_REFUSAL, PLATFORM, principals, thread_ref
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
        # The servers served (DISCORD_GUILD_IDS); any other gets one line of refusal. DMs are always served.
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
        if not self.guild_ids:
            log.warning("discord: DISCORD_GUILD_IDS is empty, so only DMs are answered; every server gets a "
                        "refusal until its id is listed")

    def serves(self, guild: discord.abc.Snowflake) -> bool:
        return guild.id in self.guild_ids

    async def refuse_guild(self, guild: discord.abc.Snowflake, channel_id: int | None, user_id: int, via: str) -> None:
        """The log line and audit row for anything from a server not in DISCORD_GUILD_IDS."""
        log.warning("discord: refused a %s from server %s: it is not in DISCORD_GUILD_IDS", via, guild.id)
        try:
            await self.runtime.audit.record(
                "refused", reason="server not in DISCORD_GUILD_IDS", action=via, platform=PLATFORM,
                workspace=str(guild.id), channel=str(channel_id), thread=str(channel_id), user=str(user_id),
            )
        except Exception:
            log.warning("discord: could not write the audit row for that refusal", exc_info=True)

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
        if interaction.guild is not None and not self.serves(interaction.guild):
            await self.refuse_guild(interaction.guild, interaction.channel_id, interaction.user.id, "button")
            await interaction.response.send_message(GUILD_REFUSAL, ephemeral=True, allowed_mentions=SAFE_MENTIONS)
            return
        # Acknowledge first: the core may take longer than Discord's 3-second window.
        await interaction.response.defer()
        # Where the button was pressed, as Discord reports it: the custom id only names the request.
        event = ActionEvent(
            thread=thread_ref(interaction.channel, interaction.guild, interaction.user.id),
            user=str(interaction.user.id),
            request_id=request_id,
            action=action,
            event_id=str(interaction.id),
            roles=principals(interaction.user, interaction.guild),
        )
        try:
            replies = await self.runtime.core.handle_action(event)
        except Exception:
            log.exception("core failed on discord button %s", interaction.id)
            replies = [Reply(ERROR, ephemeral=True)]
        await send_followups(interaction, replies)
