"""`infrabot slack`: Socket Mode when SLACK_APP_TOKEN is set (no public URL), otherwise the HTTP endpoint."""

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


async def run_http(runtime: Runtime) -> None:
    import uvicorn

    from bots.web.app import create_app

    settings = runtime.settings
    # Given a runtime, the web app leaves the relay to its owner; the Slack endpoint is mounted at start-up.
    runtime.start_relay()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host=settings.host, port=settings.port))
    log.info("slack: receiving events at http://%s:%d/slack/events", settings.host, settings.port)
    await server.serve()


async def run_slack(runtime: Runtime) -> None:
    if runtime.settings.slack_bot_token is None and runtime.settings.slack_bot_tokens is None:
        raise RuntimeError("SLACK_BOT_TOKEN or SLACK_BOT_TOKENS is not set; see the Slack section of the README")
    if runtime.settings.slack_app_token is not None:
        await run_socket_mode(runtime)
    else:
        await run_http(runtime)
