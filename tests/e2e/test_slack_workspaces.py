"""One deployment serving several Slack workspaces: each is answered with its own bot token, only that one,
and a workspace with no token is refused without a word posted to it."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bots.runtime import Runtime
from bots.slack.authorize import REFUSAL, make_authorize
from bots.slack.client import SlackClients, UnknownTeam
from bots.slack.sink import SlackStatusSink
from config.credentials import CLOUD_CREDENTIAL_VARS
from config.local_services import REPO_ROOT
from config.settings import Settings, SettingsError, load_settings
from core.cardsink import CardUndeliverable
from core.messages import ThreadRef
from core.request import Request
from core.status_card import StatusCard
from tests.slack_mock import MockSlack
from tests.slack_mock.harness import SlackClient, slack_http, slack_settings
from tests.slack_mock.server import BOT_TOKEN, BOT_USER, TEAM
from tests.support import eventually, resolved

SECOND_TEAM, SECOND_TOKEN, SECOND_BOT = "T0002", "xoxb-second-workspace", "UBOT2"
STRANGER_TEAM = "T0666"
REQUEST = "create a postgres database and a bucket for my app shop in staging"
INFRABOT = str(REPO_ROOT / ".venv" / "bin" / "infrabot")


def two_workspaces(mock: MockSlack) -> str:
    mock.add_workspace(SECOND_TOKEN, SECOND_TEAM, SECOND_BOT, "BBOT2")
    return f"{TEAM}={BOT_TOKEN}, {SECOND_TEAM}={SECOND_TOKEN}"


def plain_settings(mock: MockSlack, **values: Any) -> Settings:
    return Settings(_env_file=None, slack_api_url=mock.url, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(settings: Settings, mock_slack: MockSlack) -> Settings:
    # SLACK_BOT_TOKENS alone: no SLACK_BOT_TOKEN to fall back on, so any other team is a stranger.
    return slack_settings(settings, mock_slack, slack_bot_tokens=two_workspaces(mock_slack))


@pytest.fixture
async def http(runtime: Runtime, worker: object) -> AsyncIterator[httpx.AsyncClient]:
    async with slack_http(runtime) as client:
        yield client


async def request_in(runtime: Runtime, team: str, channel: str, thread: str) -> Request:
    async def probe() -> Request | None:
        doc = await runtime.db.requests.find_one({"thread_key": f"slack:{team}:{channel}:{thread}"})
        return Request.from_doc(doc) if doc else None

    return await eventually(probe)


async def card_of(runtime: Runtime, mock: MockSlack, request_id: str, words: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        ref = await runtime.cards.get(request_id, "slack")
        message = mock.messages.get((ref["channel"], ref["ts"])) if ref else None
        return dict(message) if message and words in (message.get("text") or "") else None

    return await eventually(probe, within=30)


def calls_in(mock: MockSlack, channel: str) -> list[Any]:
    return [c for c in mock.calls if c.params.get("channel") == channel]


async def test_two_workspaces_are_each_answered_with_their_own_token_only(
    http: httpx.AsyncClient, runtime: Runtime, mock_slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = SlackClient(http, mock_slack)
    second = SlackClient(http, mock_slack, team=SECOND_TEAM, bot_user=SECOND_BOT)

    thread_a, response_a = await first.mention(REQUEST, channel="CA")
    # Approving in prod needs someone other than the requester, which gives an ephemeral refusal to check too.
    thread_b, response_b = await second.mention("create a bucket for my app shop in prod", channel="CB")
    assert response_a.status_code == response_b.status_code == 200
    request_a = await request_in(runtime, TEAM, "CA", thread_a)
    request_b = await request_in(runtime, SECOND_TEAM, "CB", thread_b)
    await card_of(runtime, mock_slack, request_a.id, "waiting for approval")
    card_b = await card_of(runtime, mock_slack, request_b.id, "waiting for approval")

    await second.click("approve", card_b, user="U1")
    refusal = await eventually(lambda: resolved(mock_slack.ephemeral))
    assert refusal[0]["channel"] == "CB"
    await second.click("approve", card_b, user="U2")
    await card_of(runtime, mock_slack, request_b.id, "Done")
    await second.command("create a bucket for my app blog in staging", channel="CB2")
    opener = await eventually(lambda: resolved([m for m in mock_slack.messages.values() if m["channel"] == "CB2"]))
    await request_in(runtime, SECOND_TEAM, "CB2", opener[0]["ts"])
    await eventually(lambda: resolved([c for c in calls_in(mock_slack, "CB2") if c.method == "chat.stopStream"]))

    for channel, token in (("CA", BOT_TOKEN), ("CB", SECOND_TOKEN), ("CB2", SECOND_TOKEN)):
        calls = calls_in(mock_slack, channel)
        methods = {c.method for c in calls}
        assert {"chat.postMessage", "chat.startStream"} <= methods, (channel, methods)
        assert {c.token for c in calls} == {token}, channel
    assert {"chat.postEphemeral", "chat.update"} <= {c.method for c in calls_in(mock_slack, "CB")}
    # Every call was accepted: none went out with a token Slack did not know.
    assert all(c.status == 200 for c in mock_slack.calls)
    assert {c.token for c in mock_slack.calls_to("auth.test")} == {BOT_TOKEN, SECOND_TOKEN}

    # Tokens stay out of the logs and out of MongoDB.
    for token in (BOT_TOKEN, SECOND_TOKEN):
        assert token not in caplog.text
    for name in await runtime.db.list_collection_names():
        async for doc in runtime.db[name].find({}):
            assert BOT_TOKEN not in str(doc) and SECOND_TOKEN not in str(doc), name


async def test_the_bot_mention_of_each_workspace_is_stripped(
    http: httpx.AsyncClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    second = SlackClient(http, mock_slack, team=SECOND_TEAM, bot_user=SECOND_BOT)
    thread, _ = await second.mention("help", channel="CB")
    # "help" alone only reads as a help request once `<@UBOT2>` is recognised as this workspace's bot. The
    # reply stream opens empty before the answer fills it: only a finished reply is read.
    reply = await eventually(lambda: resolved([m for m in mock_slack.thread_messages("CB", thread)
                                             if m["ts"] != thread and not m.get("streaming")]))
    assert "postgres" in reply[0]["text"]
    assert SECOND_BOT not in reply[0]["text"]


async def test_a_workspace_without_a_token_is_refused_without_a_reply(
    http: httpx.AsyncClient, runtime: Runtime, mock_slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stranger = SlackClient(http, mock_slack, team=STRANGER_TEAM, bot_user="UBOT6")
    _, response = await stranger.mention(REQUEST, channel="CX")
    assert response.status_code == 200, "refused, not an error Slack would retry"
    _, message = await stranger.message("status", channel="DX", channel_type="im")
    assert message.status_code == 200
    command = await stranger.command(REQUEST, channel="CX")
    assert command.status_code == 200
    # The person who typed /infra is told privately, through the command's response_url (no token needed).
    answer = await eventually(lambda: resolved(mock_slack.responses))
    assert answer[0]["text"] == REFUSAL

    await asyncio.sleep(0.5)
    assert [c.method for c in mock_slack.calls] == [], "nothing at all was sent to Slack's Web API"
    assert await runtime.db.requests.count_documents({}) == 0
    refused = [r for r in caplog.records if r.name == "infrabot.slack" and STRANGER_TEAM in r.getMessage()]
    assert len(refused) == 3 and all(r.levelno == logging.WARNING for r in refused)
    assert "SLACK_BOT_TOKENS" in refused[0].getMessage()


async def test_listed_teams_get_their_token_and_the_single_token_serves_the_rest(mock_slack: MockSlack) -> None:
    clients = SlackClients(plain_settings(
        mock_slack, slack_bot_token=SecretStr(BOT_TOKEN), slack_bot_tokens=SecretStr(two_workspaces(mock_slack))))
    assert clients.client(SECOND_TEAM).token == SECOND_TOKEN
    assert clients.client(TEAM).token == BOT_TOKEN
    assert clients.client("T0999").token == BOT_TOKEN and clients.client(None).token == BOT_TOKEN
    # A small cache: one client per workspace and kind of call, reused.
    assert clients.client(SECOND_TEAM) is clients.client(SECOND_TEAM)
    assert clients.client(SECOND_TEAM) is not clients.client(SECOND_TEAM, retry_server_errors=True)
    assert clients.client("T0998") is clients.client("T0999"), "teams on the single token share its client"
    # Once auth.test has named the single token's workspace, no other unlisted team gets it.
    clients.learn_single_team(TEAM)
    assert clients.client(TEAM).token == BOT_TOKEN and clients.client(SECOND_TEAM).token == SECOND_TOKEN
    with pytest.raises(UnknownTeam):
        clients.client("T0999")
    # Every client keeps the retry handlers; only the one for edits retries a 500.
    for retry_500 in (False, True):
        kinds = {type(h).__name__ for h in clients.client(SECOND_TEAM, retry_server_errors=retry_500).retry_handlers}
        assert {"AsyncRateLimitErrorRetryHandler", "AsyncConnectionErrorRetryHandler"} <= kinds
        assert ("AsyncServerErrorRetryHandler" in kinds) is retry_500


def test_without_a_single_token_an_unlisted_team_has_no_client(mock_slack: MockSlack) -> None:
    clients = SlackClients(plain_settings(mock_slack, slack_bot_tokens=SecretStr(two_workspaces(mock_slack))))
    with pytest.raises(UnknownTeam) as caught:
        clients.client(STRANGER_TEAM)
    assert STRANGER_TEAM in str(caught.value) and "xoxb" not in str(caught.value)
    with pytest.raises(RuntimeError, match="SLACK_BOT_TOKEN"):
        SlackClients(plain_settings(mock_slack))


async def test_authorize_gives_each_team_its_token_and_bot_user_asking_slack_once(
    mock_slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    clients = SlackClients(plain_settings(mock_slack, slack_bot_tokens=SecretStr(two_workspaces(mock_slack))))
    authorize = make_authorize(clients)
    for _ in range(3):
        first = await authorize(enterprise_id=None, team_id=TEAM)
        second = await authorize(enterprise_id=None, team_id=SECOND_TEAM)
        assert first is not None and second is not None
        assert (first.bot_token, first.bot_user_id) == (BOT_TOKEN, BOT_USER)
        assert (second.bot_token, second.bot_user_id, second.team_id) == (SECOND_TOKEN, SECOND_BOT, SECOND_TEAM)
    assert len(mock_slack.calls_to("auth.test")) == 2

    with caplog.at_level(logging.WARNING, logger="infrabot.slack"):
        assert await authorize(enterprise_id=None, team_id=STRANGER_TEAM) is None
    assert STRANGER_TEAM in caplog.text


async def test_a_token_listed_under_the_wrong_team_is_refused(
    mock_slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    mock_slack.add_workspace(SECOND_TOKEN, SECOND_TEAM, SECOND_BOT, "BBOT2")
    # Swapped: T0001's events would be answered in T0002 with this setting.
    swapped = f"{TEAM}={SECOND_TOKEN},{SECOND_TEAM}={BOT_TOKEN}"
    authorize = make_authorize(SlackClients(plain_settings(mock_slack, slack_bot_tokens=SecretStr(swapped))))
    with caplog.at_level(logging.ERROR, logger="infrabot.slack"):
        assert await authorize(enterprise_id=None, team_id=TEAM) is None
    assert f"under {TEAM} that belongs to workspace {SECOND_TEAM}" in caplog.text
    assert SECOND_TOKEN not in caplog.text and BOT_TOKEN not in caplog.text


async def test_a_revoked_token_is_refused_and_logged(mock_slack: MockSlack, caplog: pytest.LogCaptureFixture) -> None:
    revoked = "xoxb-revoked-token"  # never installed in the stand-in, so Slack answers invalid_auth
    authorize = make_authorize(SlackClients(plain_settings(
        mock_slack, slack_bot_tokens=SecretStr(f"{SECOND_TEAM}={revoked}"))))
    with caplog.at_level(logging.ERROR, logger="infrabot.slack"):
        assert await authorize(enterprise_id=None, team_id=SECOND_TEAM) is None
    assert "invalid_auth" in caplog.text and revoked not in caplog.text


async def test_status_cards_go_out_with_their_workspace_token(
    runtime: Runtime, mock_slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    clients = SlackClients(plain_settings(mock_slack, slack_bot_tokens=SecretStr(two_workspaces(mock_slack))))
    sink = SlackStatusSink(clients, runtime.cards, interval=0)
    for team, channel in ((TEAM, "CA"), (SECOND_TEAM, "CB")):
        thread = ThreadRef("slack", team, channel, "1800000000.000001")
        for version, phase in enumerate(("queued", "running", "succeeded"), start=1):
            await sink.show(thread, StatusCard(request_id=f"r-{team}", job_id="j1", phase=phase, title="Planning",
                                               engine="offline", simulated=True, version=version))
    assert {c.token for c in calls_in(mock_slack, "CA")} == {BOT_TOKEN}
    assert {c.token for c in calls_in(mock_slack, "CB")} == {SECOND_TOKEN}
    assert [c.method for c in calls_in(mock_slack, "CB")] == ["chat.postMessage", "chat.update", "chat.update"]

    # A card whose workspace has lost its token can never be shown: the relay dead-letters it, never retries.
    orphan = ThreadRef("slack", STRANGER_TEAM, "CX", "1800000000.000002")
    with pytest.raises(CardUndeliverable, match="no Slack bot token is configured for workspace T0666"):
        await sink.show(orphan, StatusCard(request_id="r-x", job_id="j1", phase="running", title="Planning",
                                           engine="offline", simulated=True, version=1))
    assert not calls_in(mock_slack, "CX")


def test_slack_bot_tokens_parse_and_enable_slack() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, slack_bot_tokens=" T0123=xoxb-1-a , E0456 = xoxb-2-b,", slack_app_token="xapp-1")
    assert settings.slack_team_tokens == {"T0123": "xoxb-1-a", "E0456": "xoxb-2-b"}
    assert settings.slack_enabled and settings.slack_bot_token is None
    assert "xoxb" not in repr(settings)
    blank = Settings(_env_file=None, slack_bot_tokens="  ", slack_app_token="xapp-1")  # type: ignore[call-arg]
    assert blank.slack_bot_tokens is None and not blank.slack_enabled


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("xoxb-secret-111", "entry 1 of 1 is not TEAM_ID=xoxb-..."),
        ("T0123=xoxb-secret-111,T0456", "entry 2 of 2 is not TEAM_ID=xoxb-..."),
        ("T0123:xoxb-secret-111", "entry 1 of 1"),
        ("t0123=xoxb-secret-111", "entry 1 of 1"),
        ("T0123=xoxp-secret-111", "entry 1 of 1"),
        ("T0123=xoxb-secret 111", "entry 1 of 1"),
        ("T0123=xoxb-secret-111,T0123=xoxb-secret-222", "team T0123 is listed twice"),
        (",,", "has no TEAM_ID=xoxb-... entries"),
    ],
)
def test_a_malformed_slack_bot_tokens_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, value: str, words: str
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKENS", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith("infrabot: invalid setting SLACK_BOT_TOKENS: ") and words in line, line
    assert "secret" not in line


def test_the_cli_refuses_to_start_on_a_malformed_slack_bot_tokens(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in CLOUD_CREDENTIAL_VARS and not k.startswith("SLACK_")}
    env |= {"SLACK_BOT_TOKENS": "T0123=xoxb-secret-111;T0456=xoxb-secret-222", "DATA_DIR": str(tmp_path / "d")}
    done = subprocess.run([INFRABOT, "slack"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "infrabot: invalid setting SLACK_BOT_TOKENS: entry 1 of 1 is not TEAM_ID=xoxb-... "
        "(team ids look like T0123ABCD; entries are separated by commas)"]
