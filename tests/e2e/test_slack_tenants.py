"""Slack tenants and roles, tried as an outsider would: another workspace reaching the single-token
deployment, user groups as roles, and where a button press says it happened."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from bots.runtime import Runtime
from bots.slack.authorize import REFUSAL
from bots.slack.client import SlackClients
from bots.slack.handlers import pressed_in
from bots.slack.usergroups import UserGroupRoles
from config.settings import Settings
from core.messages import ThreadRef
from core.policy import Policy, Roles
from tests.e2e.test_slack_workspaces import card_of, request_in
from tests.slack_mock import MockSlack
from tests.slack_mock.harness import SlackClient, slack_http, slack_settings
from tests.slack_mock.server import BOT_TOKEN, TEAM
from tests.support import eventually, resolved

STAGING = "create a bucket for my app shop in staging"


@pytest.fixture
def settings(settings: Settings, mock_slack: MockSlack) -> Settings:
    # The single-workspace set-up: one SLACK_BOT_TOKEN, whose workspace only Slack's auth.test can name.
    return slack_settings(settings, mock_slack)


@pytest.fixture
async def http(runtime: Runtime, worker: object) -> AsyncIterator[httpx.AsyncClient]:
    async with slack_http(runtime) as client:
        yield client


async def test_another_workspace_reaching_the_single_token_deployment_gets_nothing_acted_on(
    http: httpx.AsyncClient, runtime: Runtime, mock_slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    home = SlackClient(http, mock_slack)
    # The same app installed in a foreign workspace sends its events here, signed with the same secret.
    stranger = SlackClient(http, mock_slack, team="T0666", bot_user="UBOT6")

    # Before the token's own workspace was ever seen: auth.test alone decides.
    _, first = await stranger.mention(STAGING, channel="CX", user="UX")
    assert first.status_code == 200
    await home.mention("help", channel="C1")
    await stranger.message("status", channel="DX", channel_type="im", user="UX")
    command = await stranger.command(STAGING, channel="CX", user="UX")
    assert command.status_code == 200
    answer = await eventually(lambda: resolved(mock_slack.responses))
    assert answer[0]["text"] == REFUSAL

    await asyncio.sleep(0.5)
    stranger_calls = [c for c in mock_slack.calls if c.params.get("channel") in ("CX", "DX")]
    assert stranger_calls == [], "nothing was posted to the foreign workspace"
    assert {c.method for c in mock_slack.calls} <= {"auth.test", "chat.postMessage", "chat.startStream",
                                                    "chat.appendStream", "chat.stopStream", "usergroups.list"}
    assert len(mock_slack.calls_to("auth.test")) == 1
    assert await runtime.db.requests.count_documents({}) == 0
    refused = await runtime.audit.list(event="refused", workspace="T0666")
    assert len(refused) == 3 and {r["platform"] for r in refused} == {"slack"}
    assert {r["user"] for r in refused} == {"UX"}
    assert "SLACK_BOT_TOKEN belongs to workspace T0001" in caplog.text
    assert BOT_TOKEN not in caplog.text


async def test_a_user_group_grants_approve_and_nothing_else_does(
    http: httpx.AsyncClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    mock_slack.add_usergroup(TEAM, "SADMINS", "platform-admins", ["UCAROL"])
    mock_slack.add_usergroup(TEAM, "SOLD", "former-admins", ["UBOB"], disabled=True)
    mock_slack.add_usergroup(TEAM, "SDEVS", "developers", ["UBOB", "UANA"])
    runtime.core.request_service.policy = Policy(roles=Roles({"approve": {"*": [f"role:{TEAM}/SADMINS"]}}))
    slack = SlackClient(http, mock_slack)

    thread, _ = await slack.mention(STAGING, user="UANA")
    request = await request_in(runtime, TEAM, "C1", thread)
    card = await card_of(runtime, mock_slack, request.id, "waiting for approval")

    # In a group, but not that one; and in that one's disabled twin: neither grants approve.
    await slack.click("approve", card, user="UBOB")
    refusal = await eventually(lambda: resolved(mock_slack.ephemeral))
    assert "not allowed to approve" in refusal[0]["text"] and refusal[0]["user"] == "UBOB"
    assert (await runtime.requests.get(request.id)).status == "awaiting_approval"  # type: ignore[union-attr]

    await slack.click("approve", card, user="UCAROL")
    await card_of(runtime, mock_slack, request.id, "Done")
    approved = await runtime.audit.list(event="refused", user="UBOB")
    assert approved and approved[0]["roles"] == [f"{TEAM}/SDEVS"]
    # One usergroups.list for the workspace, with members, then the cache answers.
    assert len(mock_slack.calls_to("usergroups.list")) == 1
    assert mock_slack.calls_to("usergroups.list")[0].params.get("include_users") in ("1", "true", "True")


async def test_a_user_group_member_can_approve_by_typing_in_the_thread(
    http: httpx.AsyncClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    mock_slack.add_usergroup(TEAM, "SADMINS", "platform-admins", ["UCAROL"])
    runtime.core.request_service.policy = Policy(roles=Roles({"approve": {"*": [f"role:{TEAM}/SADMINS"]}}))
    slack = SlackClient(http, mock_slack)
    thread, _ = await slack.mention(STAGING, user="UANA")
    request = await request_in(runtime, TEAM, "C1", thread)
    await card_of(runtime, mock_slack, request.id, "waiting for approval")

    await slack.mention("apply", user="UMAL", thread_ts=thread)
    await asyncio.sleep(0.3)
    assert (await runtime.requests.get(request.id)).status == "awaiting_approval"  # type: ignore[union-attr]
    await slack.mention("apply", user="UCAROL", thread_ts=thread)
    await card_of(runtime, mock_slack, request.id, "Done")


async def test_user_groups_are_cached_for_their_ttl_and_fail_closed(
    mock_slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    mock_slack.add_usergroup(TEAM, "SADMINS", "platform-admins", ["UCAROL"])
    clients = SlackClients(Settings(_env_file=None, slack_bot_token=SecretStr(BOT_TOKEN),  # type: ignore[call-arg]
                                    slack_api_url=mock_slack.url))
    now = [1000.0]
    roles = UserGroupRoles(clients, ttl=60, clock=lambda: now[0])

    assert await roles.roles_of(TEAM, "UCAROL") == (f"{TEAM}/SADMINS",)
    assert await asyncio.gather(*(roles.roles_of(TEAM, u) for u in ("UCAROL", "UANA", "UCAROL"))) == [
        (f"{TEAM}/SADMINS",), (), (f"{TEAM}/SADMINS",)]
    assert len(mock_slack.calls_to("usergroups.list")) == 1

    # Removed from the group in Slack: still cached until the TTL runs out, then gone.
    mock_slack.usergroups[TEAM][0].users.remove("UCAROL")
    now[0] += 59
    assert await roles.roles_of(TEAM, "UCAROL") == (f"{TEAM}/SADMINS",)
    now[0] += 2
    assert await roles.roles_of(TEAM, "UCAROL") == ()
    assert len(mock_slack.calls_to("usergroups.list")) == 2

    # An installation without the usergroups:read scope: nobody has a role, the reason is logged once.
    mock_slack.usergroups[TEAM][0].users.append("UCAROL")
    mock_slack.missing_scopes.add("usergroups:read")
    now[0] += 61
    with caplog.at_level(logging.INFO, logger="infrabot.slack"):
        assert await roles.roles_of(TEAM, "UCAROL") == ()
        now[0] += 31
        assert await roles.roles_of(TEAM, "UCAROL") == ()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "usergroups:read" in r.getMessage()]
    assert len(warnings) == 1 and "missing_scope" in warnings[0].getMessage()


async def test_groups_listed_without_members_are_asked_for_them(mock_slack: MockSlack) -> None:
    mock_slack.add_usergroup(TEAM, "SADMINS", "platform-admins", ["UCAROL"])
    clients = SlackClients(Settings(_env_file=None, slack_bot_token=SecretStr(BOT_TOKEN),  # type: ignore[call-arg]
                                    slack_api_url=mock_slack.url))
    client = clients.client(TEAM)
    listed = await client.usergroups_list()
    assert "users" not in listed["usergroups"][0]
    members = await client.usergroups_users_list(usergroup="SADMINS")
    assert members["users"] == ["UCAROL"]


def test_a_button_press_is_placed_where_slack_says_it_happened() -> None:
    # The value names a request from elsewhere; the thread is the one the press came from.
    body = {
        "container": {"type": "message", "channel_id": "C2", "message_ts": "1800000000.000009",
                      "thread_ts": "1800000000.000001"},
        "channel": {"id": "C2"},
        "message": {"ts": "1800000000.000009", "thread_ts": "1800000000.000001"},
        "actions": [{"value": "rFOREIGN.hash", "action_id": "infrabot_approve"}],
    }
    assert pressed_in(TEAM, body) == ThreadRef("slack", TEAM, "C2", "1800000000.000001")
    dm = {"container": {"channel_id": "D1", "message_ts": "1800000000.000002"}, "channel": {"id": "D1"}}
    assert pressed_in(TEAM, dm) == ThreadRef("slack", TEAM, "D1", "dm")
    ephemeral = {"container": {"channel_id": "C3", "message_ts": "1800000000.000004", "is_ephemeral": True,
                               "thread_ts": "1800000000.000003"}, "channel": {"id": "C3"}}
    assert pressed_in(TEAM, ephemeral) == ThreadRef("slack", TEAM, "C3", "1800000000.000003")
