"""What each chat process serves, and where its adapters are handed to the runtime: the web chat with
Slack's HTTP endpoint beside it (`infrabot web`), Slack over Socket Mode or HTTP (`infrabot slack`),
Discord (`infrabot discord`), and Slack's status cards alone (`infrabot relay`).

It sits above the adapters so that none imports another and none changes the runtime: each adapter returns
its sink (core/ports.py:StatusSink), and this module hands it over with `Runtime.serve`, which also starts
the relay, once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI

from bots.runtime import AdapterSink, Runtime
from bots.web.app import create_app as create_web_app

log = logging.getLogger("infrabot.slack")
discord_log = logging.getLogger("infrabot.discord")


def mount_slack(app: FastAPI, runtime: Runtime) -> AdapterSink | None:
    """`POST /slack/events`, when Slack is configured for HTTP (a signing secret)."""
    if runtime.settings.slack_enabled and runtime.settings.slack_signing_secret:
        # Imported here: a web-only deployment never loads slack-bolt.
        from bots.slack.http import mount

        adapter = mount(app, runtime)
        return adapter.handoff() if adapter else None
    return None


def create_app(runtime: Runtime | None = None, *, start: Any = None) -> FastAPI:
    """The web chat with Slack's endpoint beside it; `runtime` is given by tests and `run_http` (whose owner
    starts the relay), `start` by `infrabot web` (the app owns that runtime, so it starts the relay too)."""

    def host(app: FastAPI, rt: Runtime) -> None:
        adapters = [app.state.web, *filter(None, [mount_slack(app, rt)])]
        if runtime is None:
            rt.serve(*adapters)
        else:
            for adapter in adapters:
                rt.attach(adapter)

    return create_web_app(runtime, start=start, mounts=[host])


async def run_http(runtime: Runtime) -> None:
    import uvicorn

    settings = runtime.settings
    app = create_app(runtime)  # hands the web and Slack sinks over
    runtime.serve()
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port))
    log.info("slack: receiving events at http://%s:%d/slack/events", settings.host, settings.port)
    await server.serve()


async def run_socket_mode(runtime: Runtime, stop: asyncio.Event | None = None) -> None:
    settings = runtime.settings
    if settings.slack_app_token is None:
        raise RuntimeError("SLACK_APP_TOKEN is needed for Socket Mode")
    from bots.slack.app import build_adapter
    from bots.slack.socket import connect_socket

    adapter = build_adapter(runtime, socket_mode=True)
    runtime.serve(adapter.handoff())
    await connect_socket(adapter, settings.slack_app_token.get_secret_value(), stop or asyncio.Event())


async def run_slack(runtime: Runtime) -> None:
    """`infrabot slack`: Socket Mode when SLACK_APP_TOKEN is set (no public URL), otherwise the HTTP endpoint."""
    if runtime.settings.slack_bot_token is None and runtime.settings.slack_bot_tokens is None:
        raise RuntimeError("SLACK_BOT_TOKEN or SLACK_BOT_TOKENS is not set; see the Slack section of the README")
    if runtime.settings.slack_app_token is not None:
        await run_socket_mode(runtime)
    else:
        await run_http(runtime)


async def run_card_relay(runtime: Runtime) -> None:
    """`infrabot relay`: shows Slack's status cards until cancelled, for chat processes run with SLACK_CARDS=relay."""
    from bots.slack.app import cards_only

    runtime.serve(await cards_only(runtime))
    log.info("slack: showing status cards for the chat processes (SLACK_CARDS=relay)")
    await asyncio.Event().wait()


async def run_discord(runtime: Runtime) -> None:
    """`infrabot discord`: runs the bot against Discord until cancelled."""
    token = runtime.settings.discord_token
    if token is None:
        raise SystemExit("infrabot: DISCORD_TOKEN is not set")
    from bots.discord_bot.app import InfraBot
    from bots.discord_bot.permissions import invite_url

    bot = InfraBot(runtime)
    try:
        async with bot:
            await bot.login(token.get_secret_value())
            if bot.application_id:
                discord_log.info("discord: invite the bot with %s", invite_url(bot.application_id))
            runtime.serve(bot.handoff())
            await bot.connect(reconnect=True)
    finally:
        await bot.sink.flush()
