"""Socket Mode: the same app over Slack's websocket, with a local websocket standing in for Slack."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from pydantic import SecretStr

from bots.runtime import Runtime
from bots.serve import run_socket_mode
from config.settings import Settings
from tests.slack_mock import MockSlack
from tests.slack_mock.server import APP_TOKEN, BOT_TOKEN, BOT_USER, TEAM
from tests.support import eventually


class FakeSlackSocket:
    """Accepts the app's websocket, sends envelopes and collects the acks."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/link", self._link)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/link"

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self.runner:
            await self.runner.cleanup()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.acks.append(json.loads(msg.data))
        return ws

    async def send(self, envelope: dict[str, Any]) -> None:
        await self.sockets[-1].send_str(json.dumps(envelope))


@pytest.fixture
async def slack_socket(mock_slack: MockSlack) -> AsyncIterator[FakeSlackSocket]:
    fake = FakeSlackSocket()
    await fake.start()
    mock_slack.socket_url = fake.url
    yield fake
    await fake.stop()


@pytest.fixture
def settings(settings: Settings, mock_slack: MockSlack) -> Settings:
    return settings.model_copy(update={
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_app_token": SecretStr(APP_TOKEN),
        "slack_api_url": mock_slack.url,
    })


def mention_envelope(text: str, ts: str, retry: int = 0) -> dict[str, Any]:
    return {
        "envelope_id": str(uuid.uuid4()),
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
        "payload": {
            "team_id": TEAM, "api_app_id": "AINFRA", "type": "event_callback", "event_id": "EvSOCK1",
            "event_time": 1800000000,
            "event": {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER}> {text}", "ts": ts,
                      "channel": "C5", "event_ts": ts},
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        },
    }


async def test_socket_mode_answers_acks_and_ignores_redelivery(
    runtime: Runtime, worker: object, mock_slack: MockSlack, slack_socket: FakeSlackSocket
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_socket_mode(runtime, stop))
    try:
        await eventually(lambda: _value(slack_socket.sockets))
        thread = "1800000500.000001"
        first = mention_envelope("create a bucket for my app shop in staging", thread)
        await slack_socket.send(first)
        acked = await eventually(lambda: _value([a for a in slack_socket.acks
                                                 if a.get("envelope_id") == first["envelope_id"]]))
        assert acked
        await slack_socket.send(mention_envelope("create a bucket for my app shop in staging", thread, retry=1))

        async def card() -> dict[str, Any] | None:
            request = await runtime.db.requests.find_one({"thread_key": f"slack:{TEAM}:C5:{thread}"})
            ref = await runtime.cards.get(request["_id"], "slack") if request else None
            message = mock_slack.messages.get((ref["channel"], ref["ts"])) if ref else None
            return message if message and "waiting for approval" in (message.get("text") or "") else None

        shown = await eventually(card, within=30)
        assert shown["thread_ts"] == thread
        await asyncio.sleep(0.5)
        assert len(slack_socket.acks) >= 2, "the redelivered envelope is acknowledged too"
        assert await runtime.db.requests.count_documents({}) == 1
        replies = [m for m in mock_slack.thread_messages("C5", thread) if not m.get("blocks")]
        assert len(replies) == 1
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def _value(value: Any) -> Any:
    return value
