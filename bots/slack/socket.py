"""Slack over Socket Mode (SLACK_APP_TOKEN): no public URL; `infrabot slack` picks it in bots/serve.py."""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bots.slack.app import SlackAdapter

log = logging.getLogger("infrabot.slack")


async def connect_socket(adapter: SlackAdapter, app_token: str, stop: asyncio.Event) -> None:
    """Holds the websocket open until `stop`; the host has handed the adapter's sink to the runtime."""
    handler = AsyncSocketModeHandler(adapter.app, app_token)
    await handler.connect_async()
    log.info("slack: connected in Socket Mode")
    try:
        await stop.wait()
    finally:
        await handler.close_async()
        await adapter.sink.close()
