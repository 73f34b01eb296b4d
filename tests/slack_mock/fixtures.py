"""The Slack-over-HTTP fixtures a test module takes by importing them: that module's settings point at the
stand-in, and `slack` sends signed requests to the app with a worker running."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bots.runtime import Runtime
from config.settings import Settings
from tests.slack_mock.harness import SlackClient, slack_http, slack_settings
from tests.slack_mock.server import MockSlack


@pytest.fixture(name="settings")
def slack_settings_fixture(settings: Settings, mock_slack: MockSlack) -> Settings:
    return slack_settings(settings, mock_slack)


@pytest.fixture(name="slack")
async def slack_client_fixture(runtime: Runtime, mock_slack: MockSlack, worker: object) -> AsyncIterator[SlackClient]:
    async with slack_http(runtime) as http:
        yield SlackClient(http, mock_slack)
