"""`infrabot discord`: runs the bot against Discord until stopped."""

from __future__ import annotations

import logging

from bots.discord_bot.app import InfraBot
from bots.discord_bot.permissions import invite_url
from bots.runtime import Runtime

log = logging.getLogger("infrabot.discord")


async def run_discord(runtime: Runtime) -> None:
    """Runs until cancelled."""
    token = runtime.settings.discord_token
    if token is None:
        raise SystemExit("infrabot: DISCORD_TOKEN is not set")
    bot = InfraBot(runtime)
    try:
        async with bot:
            await bot.login(token.get_secret_value())
            if bot.application_id:
                log.info("discord: invite the bot with %s", invite_url(bot.application_id))
            runtime.start_relay()
            await bot.connect(reconnect=True)
    finally:
        await bot.sink.flush()
