"""Two chat processes behind one Slack endpoint, on one Redis and one MongoDB: the same event delivered to
both at once (Slack's retry landing on the other process) opens one reply stream and gets one answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bots.runtime import Runtime, build_runtime
from config.local_services import LocalServices
from config.settings import Settings
from tests.e2e.test_slack_http import REQUEST, replies_in, request_in
from tests.slack_mock import MockSlack
from tests.slack_mock.fixtures import slack_client_fixture, slack_settings_fixture  # noqa: F401
from tests.slack_mock.harness import SlackClient, slack_http
from tests.support import bounded, eventually, resolved


@pytest.fixture
async def other(settings: Settings, services: LocalServices) -> AsyncIterator[Runtime]:
    rt = await build_runtime(settings, services.redis_url, services.mongodb_url)
    yield rt
    await bounded(rt.close(), 30, "the second runtime's shutdown")


async def test_one_event_at_two_processes_at_once_gets_one_stream_and_one_answer(
    slack: SlackClient, other: Runtime, runtime: Runtime, mock_slack: MockSlack
) -> None:
    thread = "1800000777.000100"
    event = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {REQUEST}", "ts": thread, "channel": "C1"}
    body = slack.event_body(event, event_id="Ev0BOTH")
    async with slack_http(other) as second_http:
        second = SlackClient(second_http, mock_slack)
        first_response, second_response = await asyncio.gather(
            slack.send(body, "application/json"),
            second.send(body, "application/json", headers={"X-Slack-Retry-Num": "1",
                                                            "X-Slack-Retry-Reason": "http_timeout"}),
        )
        assert first_response.status_code == second_response.status_code == 200
        await eventually(lambda: resolved(len(replies_in(mock_slack, "C1", thread)) == 1))
        await request_in(runtime, "C1", thread)
        await asyncio.sleep(0.5)

    assert len(mock_slack.calls_to("chat.startStream")) == 1
    assert len(replies_in(mock_slack, "C1", thread)) == 1
    assert not [m for m in mock_slack.thread_messages("C1", thread) if m.get("streaming")]
    assert await runtime.db.requests.count_documents({}) == 1
    assert await runtime.db.messages.count_documents({"role": "user"}) == 1
