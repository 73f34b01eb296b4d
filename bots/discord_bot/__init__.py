"""Discord adapter: mentions, threads, DMs and /infra, with one live status card per request.

`infrabot discord` runs it from bots/serve.py:run_discord, which hands its sink to the runtime."""

from bots.discord_bot.app import InfraBot

__all__ = ["InfraBot"]
