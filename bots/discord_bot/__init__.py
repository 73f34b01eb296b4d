"""Discord adapter: mentions, threads, DMs and /infra, with one live status card per request."""

from bots.discord_bot.app import InfraBot
from bots.discord_bot.run import run_discord

__all__ = ["InfraBot", "run_discord"]
