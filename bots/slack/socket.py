"""Slack over Socket Mode (SLACK_APP_TOKEN): no public URL; `infrabot slack` picks it in bots/serve.py."""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bots.runtime import Runtime
from bots.slack.app import build_adapter

log = logging.getLogger("infrabot.slack")


async def run_socket_mode(runtime: Runtime, stop: asyncio.Event | None = None) -> None:
    settings = runtime.settings
    if settings.slack_app_token is None:
        raise RuntimeError("SLACK_APP_TOKEN is needed for Socket Mode")
    adapter = build_adapter(runtime, socket_mode=True)
    handler = AsyncSocketModeHandler(adapter.app, settings.slack_app_token.get_secret_value())
    runtime.start_relay()
    await handler.connect_async()
    log.info("slack: connected in Socket Mode")
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await handler.close_async()
        await adapter.sink.close()
