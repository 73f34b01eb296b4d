"""The app manifest asks for exactly what the Slack adapter uses."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bots.slack.app import COMMAND
from bots.slack.http import PATH

MANIFEST = Path(__file__).resolve().parents[2] / "bots" / "slack" / "manifest.yaml"


def load() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_scopes_events_and_command_match_the_adapter() -> None:
    manifest = load()
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read", "channels:history", "groups:history", "im:history", "chat:write", "commands",
        "usergroups:read",
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


# The bot scope each Web API method needs (Slack's method reference); auth.test needs none.
METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_stream": "chat:write",
    "chat_startStream": "chat:write",
    "chat_appendStream": "chat:write",
    "chat_stopStream": "chat:write",
    "chat_delete": "chat:write",
    "usergroups_list": "usergroups:read",
    "usergroups_users_list": "usergroups:read",
}
# Event subscription -> scope, for the kinds of conversation the message listener serves.
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
}


def test_the_scopes_are_exactly_those_the_code_needs() -> None:
    """Read off the adapter's source, so a new Web API call or listener without its scope fails here."""
    source = "\n".join(p.read_text() for p in (MANIFEST.parent).glob("*.py"))
    called = set(re.findall(r"client\.((?:chat|conversations|users|usergroups|reactions|files|views)_\w+)\(", source))
    unknown = called - METHOD_SCOPES.keys()
    assert not unknown, f"add the scope these methods need to METHOD_SCOPES and the manifest: {unknown}"
    listened = set(re.findall(r'@app\.event\("(\w+)"\)', source))
    assert listened == {"app_mention", "message"}
    events = set(load()["settings"]["event_subscriptions"]["bot_events"])
    assert {e.split(".")[0] for e in events} == listened
    needed = {METHOD_SCOPES[m] for m in called} | {EVENT_SCOPES[e] for e in events}
    if re.search(r"@app\.command\(", source):
        needed.add("commands")
    assert set(load()["oauth_config"]["scopes"]["bot"]) == needed
