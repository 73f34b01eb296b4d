"""The Discord client: intents, slash-command sync, persistent buttons and the status sink."""

from __future__ import annotations

import logging
import time
from typing import Any

import discord
from discord.ext import commands

from bots.discord_bot.buttons import ActionButton
from bots.discord_bot.handlers import ChatCog
from bots.discord_bot.permissions import make_intents
from bots.discord_bot.places import DM_REFUSAL, GUILD_REFUSAL, PLATFORM, dm_workspace, principals, thread_ref
from bots.discord_bot.replies import SAFE_MENTIONS, send_followups
from bots.discord_bot.sink import DiscordStatusSink
from bots.runtime import AdapterSink, Runtime
from core.messages import ActionEvent, Reply
from core.texts import ACTION_ERROR
from jobs.stores.doc_lock import DocLocks

log = logging.getLogger("infrabot.discord")

DM_MEMBERSHIP_TTL = 300.0


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
        # The servers served (DISCORD_GUILD_IDS); any other gets one line of refusal. A DM is served when its
        # sender is a member of one of them: anyone can invite a public bot to a server of their own and DM it.
        self.guild_ids = list(settings.guild_ids) if guild_ids is None else guild_ids
        self._dm_members: dict[int, tuple[float, bool]] = {}
        # The card lock is shared with every other process relaying Discord cards against this Redis.
        self.sink = DiscordStatusSink(self, runtime.cards, interval=status_interval,
                                      lock=DocLocks(runtime.redis, lease_ms=30_000).hold)

    async def setup_hook(self) -> None:
        # Buttons on cards posted by an earlier process are matched by custom id from now on.
        self.add_dynamic_items(ActionButton)
        await self.add_cog(ChatCog(self))
        await self.sync_commands()
        if not self.guild_ids:
            log.warning("discord: DISCORD_GUILD_IDS is empty, so nothing is answered: every server and DM gets "
                        "a refusal until a server's id is listed")

    def handoff(self) -> AdapterSink:
        """The status sink for the host to hand the runtime (bots/serve.py); the bot itself never does."""
        return AdapterSink(PLATFORM, self.sink)

    def serves(self, guild: discord.abc.Snowflake) -> bool:
        return guild.id in self.guild_ids

    async def serves_dm(self, user_id: int) -> bool:
        """Whether the sender of a DM is a member of a served server (asked of Discord, cached a few minutes)."""
        cached = self._dm_members.get(user_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        member = False
        for guild_id in self.guild_ids:
            guild = self.get_guild(guild_id)
            if guild is None:
                continue
            if guild.get_member(user_id) is not None:
                member = True
                break
            try:
                # A REST lookup: the member list is a privileged intent the bot does not ask for.
                await guild.fetch_member(user_id)
            except discord.NotFound:
                continue
            except discord.HTTPException as exc:
                log.warning("discord: could not check membership of %s in server %s (%s)", user_id, guild_id,
                            exc.status)
                continue
            member = True
            break
        self._dm_members[user_id] = (time.monotonic() + DM_MEMBERSHIP_TTL, member)
        return member

    async def admits(self, guild: discord.Guild | None, user_id: int) -> bool:
        return self.serves(guild) if guild is not None else await self.serves_dm(user_id)

    async def refuse(self, guild: discord.abc.Snowflake | None, channel_id: int | None, user_id: int,
                     via: str) -> str:
        """Logs and audits a refused server or DM; returns the one line to answer with."""
        if guild is not None:
            reason, workspace, text = "server not in DISCORD_GUILD_IDS", str(guild.id), GUILD_REFUSAL
            log.warning("discord: refused a %s from server %s: it is not in DISCORD_GUILD_IDS", via, guild.id)
        else:
            reason, workspace, text = "DM from someone in no server of DISCORD_GUILD_IDS", dm_workspace(user_id), \
                DM_REFUSAL
            log.warning("discord: refused a %s in a DM from %s: not a member of any server in DISCORD_GUILD_IDS",
                        via, user_id)
        try:
            await self.runtime.audit.record(
                "refused", reason=reason, action=via, platform=PLATFORM, workspace=workspace,
                channel=str(channel_id), thread=str(channel_id), user=str(user_id),
            )
        except Exception:
            log.warning("discord: could not write the audit row for that refusal", exc_info=True)
        return text

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
        if not await self.admits(interaction.guild, interaction.user.id):
            refusal = await self.refuse(interaction.guild, interaction.channel_id, interaction.user.id, "button")
            await interaction.response.send_message(refusal, ephemeral=True, allowed_mentions=SAFE_MENTIONS)
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
            replies = [Reply(ACTION_ERROR, ephemeral=True)]
        await send_followups(interaction, replies)
