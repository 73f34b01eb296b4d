"""Slack over HTTP: events, the /infra command and button clicks all arrive at `POST /slack/events`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

from bots.runtime import Runtime
from bots.slack.app import SlackAdapter, build_adapter

log = logging.getLogger("infrabot.slack")

PATH = "/slack/events"


def mount(app: FastAPI, runtime: Runtime) -> SlackAdapter | None:
    """Adds the endpoint; Bolt verifies the signature and the timestamp (401 otherwise) before anything.

    Returns the adapter, whose sink the host hands to the runtime; None when Slack is served elsewhere."""
    if runtime.settings.slack_app_token is not None:
        # In Socket Mode Slack sends nothing over HTTP, and `infrabot slack` owns the cards: a second
        # adapter here would only relay the same cards from two processes.
        log.info("slack: SLACK_APP_TOKEN is set, so Slack is served over Socket Mode by `infrabot slack`")
        return None
    adapter = build_adapter(runtime)
    handler = AsyncSlackRequestHandler(adapter.app)
    app.state.slack = adapter

    @app.post(PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    return adapter
