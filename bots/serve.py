"""What `infrabot web` and `infrabot slack` serve: the web chat, and Slack over HTTP or Socket Mode.

It sits above the adapters so that neither imports the other: the web app knows nothing of Slack, and
Slack's endpoint is added to it here.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from bots.runtime import Runtime
from bots.web.app import create_app as create_web_app

log = logging.getLogger("infrabot.slack")


def mount_slack(app: FastAPI, runtime: Runtime) -> None:
    """`POST /slack/events`, when Slack is configured for HTTP (a signing secret)."""
    if runtime.settings.slack_enabled and runtime.settings.slack_signing_secret:
        # Imported here: a web-only deployment never loads slack-bolt.
        from bots.slack.http import mount

        mount(app, runtime)


def create_app(runtime: Runtime | None = None, *, start: Any = None) -> FastAPI:
    """The web chat with Slack's endpoint beside it; `runtime` is given by tests, `start` by `infrabot web`."""
    return create_web_app(runtime, start=start, mounts=[mount_slack])


async def run_http(runtime: Runtime) -> None:
    import uvicorn

    settings = runtime.settings
    # Given a runtime, the web app leaves the relay to its owner; the Slack endpoint is mounted at start-up.
    runtime.start_relay()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host=settings.host, port=settings.port))
    log.info("slack: receiving events at http://%s:%d/slack/events", settings.host, settings.port)
    await server.serve()


async def run_slack(runtime: Runtime) -> None:
    """`infrabot slack`: Socket Mode when SLACK_APP_TOKEN is set (no public URL), otherwise the HTTP endpoint."""
    if runtime.settings.slack_bot_token is None and runtime.settings.slack_bot_tokens is None:
        raise RuntimeError("SLACK_BOT_TOKEN or SLACK_BOT_TOKENS is not set; see the Slack section of the README")
    if runtime.settings.slack_app_token is not None:
        from bots.slack.socket import run_socket_mode

        await run_socket_mode(runtime)
    else:
        await run_http(runtime)
