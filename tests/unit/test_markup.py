"""The core's structured messages (core/markup.py) and their three renderers: Slack mrkdwn, Discord
markdown, web HTML. Each renders emphasis, code and lists its own way, escapes what a user typed, and shows
buttons; a real core reply reaches Discord and the web page without Slack's `*bold*` syntax."""

from __future__ import annotations

import re

from bots.discord_bot.buttons import buttons_view
from bots.discord_bot.render import discord_markdown
from bots.discord_bot.replies import _parts
from bots.slack.render import markdown, mrkdwn
from bots.slack.replies import reply_blocks
from bots.web.app import _reply_json
from bots.web.render import html
from core import texts
from core.draft import Draft, ask_next, ask_template
from core.markup import Bullets, Code, Mention, Message, Numbered, Strong, Style, Text, bullets, line, say, spans
from core.messages import Reply
from core.status_card import plan_buttons
from tests.unit.test_conversation_on_fakes import conversation, said

TYPED = "<!channel> & <@U0> *not bold* _nor_ `code` @everyone <script>alert(1)</script>"

SAMPLE = Message.of(
    line("Planning ", Strong("shop-staging"), " in ", Code("us-central1"), "."),
    bullets(["a bucket", spans("a ", Strong("postgres"))]),
    Numbered((spans("web app"), spans("worker")), start=1),
)

# A single `*` that is not part of Discord's `**`: Slack's emphasis leaking through.
STRAY_STAR = re.compile(r"(?<!\*)(?<!\\)\*(?!\*)")


def test_the_notation_reads_back_what_it_writes() -> None:
    parsed = Message.parse(SAMPLE.markup())
    assert parsed == SAMPLE
    assert SAMPLE.markup() == ("Planning *shop-staging* in `us-central1`.\n• a bucket\n• a *postgres*\n"
                               "1. web app\n2. worker")
    assert Message.parse(texts.HELP.markup()) == texts.HELP
    assert isinstance(texts.HELP.blocks[1], Bullets)


def test_code_spans_cannot_be_ended_early() -> None:
    assert Code("a`b\nc").text == "a\u02cbb c"


def test_slack_renders_emphasis_code_and_lists() -> None:
    assert mrkdwn(SAMPLE) == ("Planning *shop-staging* in `us-central1`.\n• a bucket\n• a *postgres*\n"
                              "1. web app\n2. worker")
    assert markdown(SAMPLE).startswith("Planning **shop-staging** in `us-central1`.")


def test_slack_escapes_what_a_user_typed_and_mentions_only_the_cores_own() -> None:
    rendered = mrkdwn(Message.of(line(Text(TYPED), " by ", Mention("U1"), " and ", Mention("ana"))))
    assert "<!channel>" not in rendered and "<@U0>" not in rendered and "<script>" not in rendered
    assert rendered.startswith("&lt;!channel&gt; &amp; &lt;@U0&gt;")
    assert rendered.endswith(" by <@U1> and @ana")


def test_slack_buttons_are_an_actions_block() -> None:
    blocks = reply_blocks(Reply(SAMPLE, buttons=plan_buttons("r9", "abc")))
    actions = blocks[-1]
    assert actions["type"] == "actions"
    assert [(e["value"], e.get("style")) for e in actions["elements"]] == [("r9.abc", "primary"), ("r9", "danger")]
    assert "*shop-staging*" in blocks[0]["text"]["text"]


def test_discord_renders_emphasis_code_and_lists() -> None:
    assert discord_markdown(SAMPLE) == ("Planning **shop-staging** in `us-central1`.\n• a bucket\n• a **postgres**\n"
                                        "1. web app\n2. worker")


def test_discord_escapes_what_a_user_typed() -> None:
    rendered = discord_markdown(Message.of(line(TYPED), line("> not a quote"), line("# not a heading")))
    first, quote, heading = rendered.split("\n")
    assert r"\*not bold\*" in first and r"\_nor\_" in first and r"\`code\`" in first
    assert STRAY_STAR.search(first) is None
    assert quote == r"\> not a quote" and heading == r"\# not a heading"
    assert discord_markdown(Message.of(line(Mention("1234"), " ", Mention("ana_b")))) == r"<@1234> @ana\_b"


def test_discord_buttons_are_a_persistent_view_on_the_last_part() -> None:
    parts = _parts(Reply(SAMPLE, buttons=plan_buttons("r9", "abc")))
    view = parts[-1][1]
    assert view is not None and view.timeout is None
    assert [item.custom_id for item in view.children] == ["infrabot:approve:r9.abc", "infrabot:cancel:r9"]
    assert buttons_view([]) is None


def test_web_renders_emphasis_code_and_lists() -> None:
    assert html(SAMPLE) == ("Planning <b>shop-staging</b> in <code>us-central1</code>.\n• a bucket\n"
                            "• a <b>postgres</b>\n1. web app\n2. worker")


def test_web_escapes_what_a_user_typed() -> None:
    rendered = html(Message.of(line(Text(TYPED)), line(Strong("<b>x</b>"), Code("<i>"))))
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert "<b>not bold" not in rendered and "*not bold*" in rendered
    assert rendered.endswith("<b>&lt;b&gt;x&lt;/b&gt;</b><code>&lt;i&gt;</code>")


def test_web_buttons_travel_beside_the_html() -> None:
    body = _reply_json([Reply(SAMPLE, request_id="r9", buttons=plan_buttons("r9", "abc"))])
    assert body["replies"][0]["buttons"] == [
        {"action": "approve", "label": "Approve", "request_id": "r9.abc"},
        {"action": "cancel", "label": "Cancel", "request_id": "r9"},
    ]
    assert body["html"] == html(SAMPLE)


async def _core_reply() -> Reply:
    [reply] = await conversation().handle_message(said("create a bucket for my app shop in dev"))
    assert "*shop*" in reply.text, "the core's reply names the app with emphasis"
    return reply


async def test_a_core_reply_reaches_discord_without_slacks_syntax() -> None:
    reply = await _core_reply()
    [(text, _)] = _parts(reply)
    assert "**shop**" in text and STRAY_STAR.search(text) is None, text


async def test_a_core_reply_reaches_the_web_page_without_slacks_syntax() -> None:
    reply = await _core_reply()
    page = _reply_json([reply])["html"]
    assert "<b>shop</b>" in page and "*" not in page, page


async def test_a_core_reply_keeps_its_emphasis_on_slack() -> None:
    reply = await _core_reply()
    assert "*shop*" in mrkdwn(reply.body) and "**" not in mrkdwn(reply.body)


def test_fixed_texts_and_questions_are_structure_not_notation() -> None:
    # Built from spans, a fixed text holds no notation for any adapter to read back: its commands are code
    # and an app's name in a question is strong on every platform.
    assert Code("status") in texts.ERROR.blocks[0].spans  # type: ignore[union-attr]
    assert all(Code(c) in texts.HELP.blocks[2].spans for c in ("plan", "apply", "destroy APP-ENV"))  # type: ignore[union-attr]
    asked = (ask_next(Draft(components=[{"kind": "bucket", "count": 1}], app=None)) or ("", Message()))[1]
    assert Code("shop") in asked.blocks[0].spans  # type: ignore[union-attr]
    named = ask_template(Draft(app="shop"))
    assert Strong("shop") in named.blocks[0].spans  # type: ignore[union-attr]
    assert "**shop**" in discord_markdown(named) and "<b>shop</b>" in html(named) and "*shop*" in mrkdwn(named)
    assert "`status`" in discord_markdown(texts.ERROR) and "<code>status</code>" in html(texts.ERROR)


def test_a_prefix_joins_the_first_line() -> None:
    question = Message.of(line("What's it ", Strong("called"), "?"), bullets(["a"]))
    assert question.prefixed("Sorry. ").markup() == "Sorry. What's it *called*?\n• a"
    assert Message((bullets(["a"]),)).prefixed("Sorry.").markup() == "Sorry.\n• a"
    assert Message().prefixed("Hi").markup() == "Hi"


def test_one_style_walk_serves_every_renderer() -> None:
    shout = Style(text=str.upper, strong=lambda t: f"!{t}!", code=lambda t: f"[{t}]", mention=lambda u: f"<{u}>")
    message = Message.of(line("a ", Strong("b"), " ", Code("c"), " ", Mention("U1")), bullets(["d"]))
    assert shout.render(message) == "A !b! [c] <U1>\n• D"
    assert shout.render(message, marker=lambda m: m.replace("•", "-")) == "A !b! [c] <U1>\n- D"
    assert message.plain() == "a b c @U1\n• d"


def test_say_never_reads_notation_from_its_strings() -> None:
    # Only spans make emphasis or code: a string holding "*x*" or "`y`" stays text on every platform.
    message = say("a *b* `c`", Code("d"))
    assert message == Message((line(Text("a *b* `c`"), Code("d")),))
    assert "\\*b\\*" in discord_markdown(message) and "`d`" in discord_markdown(message)
