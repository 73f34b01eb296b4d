"""Broadcast mentions typed by a user never reach Slack live: not in the /infra echo, not in replies that
quote them, not in status cards. Only the bot's own mention of the person who acted is a real mention."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bots.runtime import Runtime
from bots.slack.render import mrkdwn, render_card
from bots.slack.text import slack_text
from core.markup import Code, say
from core.messages import MENTION_CLOSE, MENTION_OPEN, IncomingMessage, ThreadRef, mention
from core.status_card import StatusCard
from core.understanding.names import check_app_name
from tests.e2e.test_slack_workspaces import card_of, request_in
from tests.slack_mock import MockSlack
from tests.slack_mock.fixtures import slack_client_fixture, slack_settings_fixture  # noqa: F401
from tests.slack_mock.harness import SlackClient
from tests.slack_mock.server import TEAM
from tests.support import eventually

LIVE = ("<!channel>", "<!here>", "<!everyone>", "<@U999>", "<!subteam^S1>", "<https://evil.example|x>")


def sent_text(mock: MockSlack) -> str:
    """Everything the app sent to Slack's Web API, as one string."""
    return "\n".join(json.dumps(c.params, ensure_ascii=False) for c in mock.calls)


async def _value(value: Any) -> Any:
    return value


async def test_broadcasts_in_infra_text_and_app_names_are_never_posted_live(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    # Slack sends what the user typed with & < > escaped; the app reads it back as the user's own text.
    typed = "<!channel> <!here> create a bucket for my app <!channel>shop in staging cc <@U999>"
    response = await slack.command(typed.replace("<", "&lt;").replace(">", "&gt;"), user="U7")
    assert response.status_code == 200
    echo = await eventually(lambda: _value([m for m in mock_slack.messages.values() if "asked:" in m["text"]]))
    assert echo[0]["text"].startswith("<@U7> asked: &lt;!channel&gt; &lt;!here&gt; create a bucket")
    thread = echo[0]["ts"]
    request = await request_in(runtime, TEAM, "C1", thread)
    await card_of(runtime, mock_slack, request.id, "waiting for approval")

    # Quoted back by the core in other places: names, unknown words, questions.
    for text in ("rename it to <!here>", "what does <!everyone> mean?", "make the region <!channel>-1",
                 "<https://evil.example|x> <!subteam^S1> status"):
        await slack.mention(text, thread_ts=thread, user="U7")
    await slack.mention("create a bucket for my app called <!channel> in dev", user="U7", channel="C2")
    await slack.message("create a bucket for my app <!here> in dev", channel="D1", channel_type="im", user="U7")
    await eventually(lambda: _value(len(mock_slack.calls_to("chat.stopStream")) >= 6))
    await asyncio.sleep(0.5)

    everything = sent_text(mock_slack)
    for live in LIVE:
        assert live not in everything, f"{live} was sent to Slack unescaped"
    assert "&lt;!channel&gt;" in everything


async def test_the_bot_mentions_only_the_person_who_acted(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    thread, _ = await slack.mention("create a bucket for my app shop in staging", user="U1")
    request = await request_in(runtime, TEAM, "C1", thread)
    card = await card_of(runtime, mock_slack, request.id, "waiting for approval")
    await slack.click("approve", card, user="U1")
    confirmation = await eventually(lambda: _value([m for m in mock_slack.messages.values()
                                                    if "Approved by" in (m.get("text") or "")]))
    assert "Approved by <@U1>." in confirmation[0]["text"]
    assert MENTION_OPEN not in sent_text(mock_slack) and MENTION_CLOSE not in sent_text(mock_slack)


def test_slack_text_escapes_everything_but_the_cores_own_mentions() -> None:
    assert slack_text(f"{mention('U1')} & <!here> > {mention('ana')}") == "<@U1> &amp; &lt;!here&gt; &gt; @ana"
    # Marks around anything but an id are no mention: the marks go, the text is escaped like any other.
    assert slack_text(mention("<!channel>")) == "&lt;!channel&gt;"
    # A user can't type the marks: they are taken out of everything users send.
    forged = IncomingMessage(ThreadRef("slack", TEAM, "C1", "1.0"), "U7", f"hi {mention('U999')}", "e1")
    assert forged.text == "hi U999"


def test_cards_are_escaped_in_every_block() -> None:
    card = StatusCard(
        request_id="r1", job_id="j1", phase="failed", title="Plan for <!channel>-dev", engine="offline",
        simulated=True, lines=["asked by <@U999>", f"Cancelled by {mention('U1')}"], resources=["bucket <!here>"],
        outputs={"url": "<https://evil.example|click>"}, error="bad name <!everyone>",
    )
    blocks, text = render_card(card)
    rendered = json.dumps(blocks) + text
    for live in LIVE:
        assert live not in rendered, live
    assert "Cancelled by <@U1>" in rendered and "&lt;!channel&gt;" in rendered


def test_a_rejected_app_name_is_quoted_back_as_a_code_span() -> None:
    problem = check_app_name("Shop`*bold*`\n@everyone!").problem or ()
    assert mrkdwn(say(*problem)).startswith("`Shop\u02cb*bold*\u02cb @everyone!` can't be used as an app name")
    assert Code("a`b").text == "a\u02cbb"
