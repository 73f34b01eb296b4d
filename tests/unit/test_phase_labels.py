"""A job phase has one name, core's (core/job.py:PHASE_LABELS): Slack, Discord and the web show that
name and add only their own emoji or colour; the text-fitting helpers are one copy (core/textfit.py)."""

from __future__ import annotations

import discord
import pytest

from bots.discord_bot.render import PHASE_STYLE, card_embed
from bots.slack.render import PHASE_EMOJI, fallback_text, render_card
from core.job import CARD_TITLES, PHASE_LABELS, Phase, card_title, phase_label
from core.status_card import StatusCard, card_message
from core.textfit import clip, pack_lines


def _card(phase: str) -> StatusCard:
    return StatusCard(request_id="r1", job_id="plan-r1-1", phase=phase, title="shop-dev", engine="offline",
                      simulated=True, done=1, total=2, elapsed_seconds=3)


def test_every_phase_has_one_label_and_each_adapter_styles_exactly_the_phases() -> None:
    assert set(PHASE_LABELS) == set(Phase)
    assert set(PHASE_EMOJI) == set(Phase)
    assert set(PHASE_STYLE) == set(Phase)
    assert len(set(PHASE_LABELS.values())) == len(Phase), "two phases would read the same"
    assert {phase for _, phase in CARD_TITLES} <= set(Phase)


@pytest.mark.parametrize("phase", list(Phase))
def test_slack_discord_and_web_show_cores_label(phase: Phase) -> None:
    label = PHASE_LABELS[phase]
    card = _card(str(phase))
    blocks, text = render_card(card)
    assert f"{PHASE_EMOJI[phase]} *{label}*" in blocks[0]["text"]["text"]
    assert text == fallback_text(card) and text.endswith(f"{label} (1 of 2)")
    embed = card_embed(card)
    emoji, colour = PHASE_STYLE[phase]
    assert [f.value for f in embed.fields if f.name == "Phase"] == [f"{emoji} {label}"]
    assert embed.colour == colour
    assert card_message(card).markup().splitlines()[1].startswith(f"{label} · 1 of 2 resources")


def test_a_phase_this_version_does_not_know_is_still_shown_readably() -> None:
    assert phase_label("rolling_back") == "Rolling back"
    field = [f.value for f in card_embed(_card("rolling_back")).fields if f.name == "Phase"]
    assert field == ["Rolling back"] and card_embed(_card("rolling_back")).colour == discord.Colour.default()
    assert ":grey_question: *Rolling back*" in render_card(_card("rolling_back"))[0][0]["text"]["text"]
    assert card_title("plan", "rolling_back", "shop-dev") == "shop-dev: rolling back"


def test_card_titles_name_the_stack() -> None:
    assert card_title("apply", "succeeded", "shop-dev") == "Done: shop-dev is ready"
    assert card_title("plan", Phase.AWAITING_APPROVAL, "x") == "Plan ready for x: waiting for approval"
    assert card_title("destroy", "running", "x") == "x: running"


def test_clip_keeps_within_the_limit_and_marks_the_cut() -> None:
    assert clip("abc", 3) == "abc"
    assert clip("abcdef", 4) == "abc…" and len(clip("x" * 5000, 3000)) == 3000


def test_pack_lines_fills_each_text_without_splitting_a_line() -> None:
    lines = [f"line {i:02d}" for i in range(30)]  # 7 characters each
    packed = pack_lines(lines, 20)  # two lines and their newline fit, three do not
    assert all(len(p) <= 20 for p in packed)
    assert [line for p in packed for line in p.split("\n")] == lines
    assert len(packed) == 15
    assert pack_lines(["short", "y" * 50], 10) == ["short", "yyyyyyyyy…"]
    assert pack_lines([], 10) == []
