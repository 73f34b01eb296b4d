"""A local HTTP server that answers like Slack's Web API and records every call."""

from tests.slack_mock.server import Call, MockSlack

__all__ = ["Call", "MockSlack"]
