"""Builds correctly signed Slack requests (events, /infra, button clicks) and sends them to the app."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from bots.runtime import Runtime
from bots.slack.http import mount
from config.settings import Settings
from tests.slack_mock.server import BOT_TOKEN, BOT_USER, SIGNING_SECRET, TEAM, MockSlack
from tests.support import bounded

_ts = itertools.count(1)


def slack_settings(settings: Settings, mock_slack: MockSlack, **tokens: str) -> Settings:
    """Slack over HTTP against the stand-in: one SLACK_BOT_TOKEN, unless other token settings are given."""
    update: dict[str, Any] = {name: SecretStr(value) for name, value in tokens.items()}
    if not tokens:
        update["slack_bot_token"] = SecretStr(BOT_TOKEN)
    return settings.model_copy(update={
        **update, "slack_signing_secret": SecretStr(SIGNING_SECRET), "slack_api_url": mock_slack.url})


@contextlib.asynccontextmanager
async def slack_http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """`/slack/events` mounted and handed to the runtime as `infrabot web` does, with the status relay running."""
    app = FastAPI()
    adapter = mount(app, runtime)
    assert adapter is not None
    runtime.serve(adapter.handoff())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://slack.test") as client:
        yield client
    if adapter.sink is not None:  # SLACK_CARDS=relay leaves the cards to `infrabot relay`
        await bounded(adapter.sink.close(), 30, "the Slack sink's shutdown")


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def event_body(event: dict[str, Any], team: str = TEAM, bot_user: str = BOT_USER, event_id: str | None = None) -> str:
    """An Events API `event_callback` envelope, as Slack posts it."""
    return json.dumps({
        "token": "legacy-unused",
        "team_id": team,
        "api_app_id": "AINFRA",
        "event": {"event_ts": event.get("ts"), **event},
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": bot_user, "is_bot": True}],
    })


def new_ts() -> str:
    """A Slack-like message ts, unique within the test run."""
    n = next(_ts)
    return f"{1800000000 + n}.{uuid.uuid4().int % 1_000_000:06d}"


class SlackClient:
    """What Slack itself would send to `POST /slack/events`."""

    def __init__(self, http: httpx.AsyncClient, mock: MockSlack, team: str = TEAM, bot_user: str = BOT_USER) -> None:
        self.http = http
        self.mock = mock
        self.team = team
        self.bot_user = bot_user  # the app's bot user in this workspace; it differs per workspace

    async def send(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = int(time.time()) if timestamp is None else timestamp
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(body, ts, secret),
            **(headers or {}),
        }
        return await self.http.post("/slack/events", content=body.encode(), headers=all_headers)

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> str:
        return event_body(event, self.team, self.bot_user, event_id)

    async def event(self, event: dict[str, Any], event_id: str | None = None, **kw: Any) -> httpx.Response:
        return await self.send(self.event_body(event, event_id), "application/json", **kw)

    async def mention(self, text: str, *, user: str = "U1", channel: str = "C1", ts: str | None = None,
                      thread_ts: str | None = None, event_id: str | None = None) -> tuple[str, httpx.Response]:
        ts = ts or new_ts()
        event = {"type": "app_mention", "user": user, "text": f"<@{self.bot_user}> {text}", "ts": ts,
                 "channel": channel, "team": self.team}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return ts, await self.event(event, event_id)

    async def message(self, text: str, *, user: str = "U1", channel: str = "C1", thread_ts: str | None = None,
                      channel_type: str = "channel", **extra: Any) -> tuple[str, httpx.Response]:
        ts = new_ts()
        event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
                 "channel_type": channel_type, "team": self.team, **extra}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return ts, await self.event(event)

    def command_body(self, text: str, *, user: str = "U1", channel: str = "C1") -> str:
        return urlencode({
            "token": "legacy-unused", "team_id": self.team, "team_domain": "example", "channel_id": channel,
            "channel_name": "infra", "user_id": user, "user_name": user.lower(), "command": "/infra",
            "text": text, "api_app_id": "AINFRA", "is_enterprise_install": "false",
            "response_url": f"{self.mock.url}response/{uuid.uuid4().hex}",
            "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:8]}",
        })

    async def command(self, text: str, **kw: Any) -> httpx.Response:
        return await self.send(self.command_body(text, **kw), "application/x-www-form-urlencoded")

    async def click(self, action: str, card: dict[str, Any], *, user: str = "U1") -> httpx.Response:
        return await self.send(self.click_body(action, card, user=user), "application/x-www-form-urlencoded")

    def click_body(self, action: str, card: dict[str, Any], *, user: str = "U1") -> str:
        """Presses the card's own button, so the value sent is whatever the app put there."""
        (button,) = [e for b in card.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]
                     if e["action_id"] == f"infrabot_{action}"]
        payload = {
            "type": "block_actions",
            "team": {"id": self.team, "domain": "example"},
            "user": {"id": user, "username": user.lower(), "team_id": self.team},
            "api_app_id": "AINFRA",
            "token": "legacy-unused",
            "container": {"type": "message", "message_ts": card["ts"], "channel_id": card["channel"],
                          "is_ephemeral": False, "thread_ts": card.get("thread_ts")},
            "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:8]}",
            "channel": {"id": card["channel"], "name": "infra"},
            "message": {"type": "message", "ts": card["ts"], "thread_ts": card.get("thread_ts"),
                        "text": card.get("text", ""), "blocks": card.get("blocks") or [], "user": self.bot_user,
                        "bot_id": "BBOT"},
            "response_url": f"{self.mock.url}response/{uuid.uuid4().hex}",
            "actions": [{**button, "block_id": "infrabot_actions", "action_ts": f"{time.time():.6f}"}],
        }
        return urlencode({"payload": json.dumps(payload)})
