"""The app manifest asks for exactly what the Slack adapter uses."""

from __future__ import annotations

from pathlib import Path

import yaml

from bots.slack.app import COMMAND
from bots.slack.http import PATH

MANIFEST = Path(__file__).resolve().parent.parent / "bots" / "slack" / "manifest.yaml"


def load() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_scopes_events_and_command_match_the_adapter() -> None:
    manifest = load()
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read", "channels:history", "groups:history", "im:history", "chat:write", "commands",
    }
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention", "message.channels", "message.groups", "message.im",
    }
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [COMMAND]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


def test_every_request_url_points_at_the_one_endpoint() -> None:
    manifest = load()
    urls = [
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert all(url.startswith("https://") and url.endswith(PATH) for url in urls)
