"""Block Kit rendering and Slack text handling, checked against Slack's documented limits."""

from __future__ import annotations

import json

from bots.slack.handlers import mentions, plain_text
from bots.slack.render import MAX_BLOCKS, MAX_SECTION_CHARS, markdown, render_card
from bots.slack.replies import MAX_MESSAGE_CHARS, reply_blocks
from core.markup import Message, say
from core.messages import Reply
from core.status_card import StatusCard, format_elapsed, plan_buttons
from core.textfit import split_text


def card(**changes: object) -> StatusCard:
    base = StatusCard(
        request_id="r1", job_id="plan-r1-1", phase="awaiting_approval", title="Plan ready for shop-staging",
        engine="offline", simulated=True, done=3, total=3, elapsed_seconds=75.4,
        lines=["Plan: 3 to create"], resources=["+ create gcp:storage/bucket:Bucket shop-assets"],
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def texts_of(blocks: list[dict]) -> list[str]:
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                found.append(element["text"])
    return found


def test_plan_card_has_phase_progress_elapsed_engine_and_buttons() -> None:
    blocks, text = render_card(card(buttons=plan_buttons("r1")))
    body = "\n".join(texts_of(blocks))
    assert "Plan ready, waiting for approval" in body
    assert "3 of 3 resources" in body
    assert "1m 15s" in body
    assert "offline engine (simulated, no cloud changes)" in body
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1
    ids = {e["action_id"]: e for e in actions[0]["elements"]}
    assert set(ids) == {"infrabot_approve", "infrabot_cancel"}
    assert ids["infrabot_approve"]["value"] == "r1" and ids["infrabot_approve"]["style"] == "primary"
    assert ids["infrabot_cancel"]["style"] == "danger"
    assert text.startswith("Plan ready for shop-staging")


def test_done_card_has_outputs_and_no_buttons() -> None:
    blocks, text = render_card(card(phase="succeeded", outputs={"bucket": "gs://shop-assets"}))
    assert not [b for b in blocks if b["type"] == "actions"]
    assert any("gs://shop-assets" in t for t in texts_of(blocks))
    assert "Done" in text


def test_failure_says_what_failed() -> None:
    blocks, text = render_card(card(phase="failed", error="quota exceeded for Cloud SQL"))
    assert any("quota exceeded for Cloud SQL" in t for t in texts_of(blocks))
    assert "quota exceeded" in text


def test_long_resource_list_is_truncated_with_a_pointer_to_the_full_plan() -> None:
    resources = [f"+ create gcp:storage/bucket:Bucket b{i}" for i in range(300)]
    blocks, _ = render_card(card(resources=resources, buttons=plan_buttons("r1")))
    body = "\n".join(texts_of(blocks))
    assert "… and 280 more (say `plan` for the full list)" in body
    assert "b19" in body and "b20\n" not in body
    assert blocks[-1]["type"] == "actions"


def test_limits_hold_for_huge_cards() -> None:
    huge = card(
        lines=[f"line {i} " + "x" * 400 for i in range(600)] + ["y" * 9000],
        resources=["r" * 5000 for _ in range(100)],
        outputs={f"out{i}": "v" * 300 for i in range(200)},
        error="e" * 10_000,
        title="t" * 5000,
        buttons=plan_buttons("r1"),
    )
    blocks, text = render_card(huge)
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(t) <= MAX_SECTION_CHARS for t in texts_of(blocks))
    assert blocks[-1]["type"] == "actions", "buttons must survive truncation"
    assert 0 < len(text) <= 3000
    assert len(json.dumps(blocks)) < 200_000


def test_elapsed_formatting() -> None:
    assert format_elapsed(0.2) == "0s"
    assert format_elapsed(59) == "59s"
    assert format_elapsed(61) == "1m 01s"
    assert format_elapsed(3 * 3600 + 120) == "3h 02m"


def test_plain_text_strips_only_the_bot_mention_and_unwraps_links() -> None:
    raw = "<@UBOT> create a bucket for &lt;shop&gt; see <https://example.com|docs> cc <@UOTHER>"
    assert plain_text(raw, "UBOT") == "create a bucket for <shop> see docs cc <@UOTHER>"
    assert mentions(raw, "UBOT") and mentions(raw, "UOTHER") and not mentions(raw, "UNOPE")
    assert not mentions(raw, None)


def test_stream_markdown_keeps_bold_bold() -> None:
    assert markdown(Message.parse("planning *shop* in `staging`")) == "planning **shop** in `staging`"
    assert markdown(Message.parse("2 * 3 * 4")) == "2 * 3 * 4"


def test_long_reply_text_is_split_under_slacks_cut_off() -> None:
    parts = split_text("\n".join("z" * 1000 for _ in range(100)), MAX_MESSAGE_CHARS)
    assert len(parts) == 3 and all(len(p) <= 39_000 for p in parts)
    assert sum(p.count("z") for p in parts) == 100_000


def test_reply_with_buttons_renders_an_actions_block() -> None:
    blocks = reply_blocks(Reply(say("Destroy needs approval"), buttons=plan_buttons("r9")))
    assert blocks[-1]["elements"][0]["value"] == "r9"
