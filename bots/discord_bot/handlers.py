"""Where people talk to the bot: mentions (a thread is opened), its threads, DMs and /infra."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord_bot.places import (
    opened_thread_ref,
    principals,
    strip_mentions,
    thread_name,
    thread_ref,
)
from bots.discord_bot.replies import SAFE_MENTIONS, send_followups, send_replies
from core import texts
from core.expiring import ExpiringSet
from core.messages import IncomingMessage, Reply, ThreadRef

if TYPE_CHECKING:
    from bots.discord_bot.app import InfraBot

log = logging.getLogger("infrabot.discord")

# Discord's code when a thread was already started from that message (a redelivered mention).
THREAD_ALREADY_EXISTS = 160004

CONTENT_HINT = (
    "I can only read messages here that mention me (or reply to me). Mention me, reply to one of my "
    "messages, or use `/infra`. An admin can enable the Message Content intent to let me read the "
    "whole thread."
)

NO_THREAD = (
    "I couldn't open a thread here (I need the *Create Public Threads* permission in this channel), "
    "so I'll answer in the channel. Mention me to continue."
)


class ChatCog(commands.Cog):
    def __init__(self, bot: InfraBot) -> None:
        self.bot = bot
        # Once per thread per day is enough, and the set must not grow with every thread ever seen.
        self._hinted = ExpiringSet(24 * 3600)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        me = self.bot.user
        assert me is not None
        mentioned = me in message.mentions
        text = strip_mentions(message.content, me.id)
        # A DM is always addressed to the bot; in a server only a mention is, and only that gets the one line.
        if (message.guild is None or mentioned) and not await self.bot.admits(message.guild, message.author.id):
            refusal = await self.bot.refuse(message.guild, message.channel.id, message.author.id, "message")
            await message.channel.send(refusal, allowed_mentions=SAFE_MENTIONS)
            return
        if message.guild is not None and not self.bot.serves(message.guild):
            return
        if message.guild is None:
            await self._converse(message, thread_ref(message.channel, None, message.author.id), text,
                                 message.channel)
        elif isinstance(message.channel, discord.Thread):
            ref = thread_ref(message.channel, message.guild, message.author.id)
            if not mentioned and not await self.bot.runtime.contexts.known(ref):
                return
            if not mentioned and not message.content and not self.bot.intents.message_content:
                await self._hint(message.channel)
                return
            await self._converse(message, ref, text, message.channel)
        elif mentioned:
            try:
                thread = await self._open_thread(message, text)
            except discord.HTTPException as exc:
                # Without a thread the request must still be answered: here, in the channel.
                log.warning("could not open a thread in channel %s (%s); answering in the channel",
                            message.channel.id, exc.status)
                await message.channel.send(NO_THREAD, allowed_mentions=SAFE_MENTIONS)
                await self._converse(message, thread_ref(message.channel, message.guild, message.author.id), text,
                                     message.channel)
                return
            await self._converse(message, opened_thread_ref(thread, message.channel.id, message.guild.id),
                                 text, thread)

    async def _open_thread(self, message: discord.Message, text: str) -> discord.abc.Messageable:
        if message.thread is not None:
            # A redelivered mention: its thread is already open (and the core drops the repeat).
            return message.thread
        try:
            return await message.create_thread(name=thread_name(text))
        except discord.HTTPException as exc:
            if exc.code != THREAD_ALREADY_EXISTS:
                raise
            # A thread started from a message shares the message's id.
            return self.bot.get_partial_messageable(message.id, guild_id=message.guild and message.guild.id)

    async def _converse(
        self, message: discord.Message, ref: ThreadRef, text: str, reply_to: discord.abc.Messageable
    ) -> None:
        incoming = IncomingMessage(
            thread=ref,
            user=str(message.author.id),
            text=text,
            event_id=str(message.id),
            roles=principals(message.author, message.guild),
        )
        replies = await self._ask(incoming)
        await send_replies(reply_to, replies)

    async def _ask(self, incoming: IncomingMessage) -> list[Reply]:
        try:
            return await self.bot.runtime.core.handle_message(incoming)
        except Exception:
            log.exception("core failed on discord event %s", incoming.event_id)
            return [Reply(texts.UNSURE)]

    async def _hint(self, channel: discord.Thread) -> None:
        # Once per thread per process: a hint on every message would drown the thread.
        if channel.id in self._hinted:
            return
        self._hinted.add(channel.id)
        await channel.send(CONTENT_HINT, allowed_mentions=SAFE_MENTIONS)

    @app_commands.command(name="infra", description="Ask infrabot for cloud infrastructure")
    @app_commands.describe(text=f"What you need, e.g. {texts.EXAMPLE}")
    async def infra(
        self, interaction: discord.Interaction[Any], text: app_commands.Range[str, 1, 1800]
    ) -> None:
        if not await self.bot.admits(interaction.guild, interaction.user.id):
            refusal = await self.bot.refuse(interaction.guild, interaction.channel_id, interaction.user.id, "/infra")
            await interaction.response.send_message(refusal, ephemeral=True, allowed_mentions=SAFE_MENTIONS)
            return
        # Acknowledge within Discord's 3 seconds; the real answer follows.
        await interaction.response.defer(thinking=True)
        channel = interaction.channel
        echo = f"{interaction.user.mention} asked: {text}"
        original = await interaction.edit_original_response(content=echo, allowed_mentions=SAFE_MENTIONS)
        event = IncomingMessage(
            thread=thread_ref(channel, interaction.guild, interaction.user.id),
            user=str(interaction.user.id),
            text=text,
            event_id=str(interaction.id),
            roles=principals(interaction.user, interaction.guild),
        )
        if interaction.guild is not None and not isinstance(channel, discord.Thread) and channel is not None:
            thread = await original.create_thread(name=thread_name(text))
            event = IncomingMessage(
                thread=opened_thread_ref(thread, channel.id, interaction.guild.id),
                user=event.user, text=text, event_id=event.event_id, roles=event.roles,
            )
            replies = await self._ask(event)
            await send_replies(thread, [r for r in replies if not r.ephemeral])
            await send_followups(interaction, [r for r in replies if r.ephemeral])
            return
        await send_followups(interaction, await self._ask(event))
