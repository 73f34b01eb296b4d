"""Discord's size limits and the bot's requested permissions, checked without a server."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import discord

from bots.discord_bot.buttons import ActionButton, custom_id
from bots.discord_bot.permissions import BOT_PERMISSIONS, invite_url, make_intents
from bots.discord_bot.render import (
    EMBED_DESCRIPTION,
    EMBED_FIELDS,
    EMBED_TOTAL,
    MESSAGE_LIMIT,
    card_embed,
    card_footer,
    discord_markdown,
    embed_fits,
)
from core.markup import Message, line
from core.status_card import StatusCard
from core.textfit import split_text


def _card(**overrides: object) -> StatusCard:
    base: dict[str, object] = {
        "request_id": "r0123456789ab",
        "job_id": "plan-r0123456789ab-1",
        "phase": "awaiting_approval",
        "title": "Plan ready for shop-staging: waiting for approval",
        "engine": "offline",
        "simulated": True,
        "done": 3,
        "total": 5,
        "elapsed_seconds": 65,
    }
    base.update(overrides)
    return StatusCard(**base)  # type: ignore[arg-type]


def test_short_text_is_one_message_and_blank_is_none() -> None:
    assert split_text("hello\nworld", MESSAGE_LIMIT) == ["hello\nworld"]
    assert split_text("  \n ", MESSAGE_LIMIT) == []


def test_long_text_splits_on_line_boundaries_under_the_limit() -> None:
    lines = [f"line {i:04d} " + "x" * (i % 90) for i in range(400)]
    text = "\n".join(lines)
    chunks = split_text(text, MESSAGE_LIMIT)
    assert len(chunks) > 1
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    # Every line survives whole and in order: no line was cut across two messages.
    assert [line for c in chunks for line in c.split("\n")] == lines


def test_a_single_overlong_line_is_cut_hard() -> None:
    text = "a" * 5000
    chunks = split_text(text, MESSAGE_LIMIT)
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert "".join(chunks) == text


def test_code_fence_is_closed_and_reopened_across_chunks() -> None:
    body = "\n".join("y" * 80 for _ in range(60))
    chunks = split_text(f"Plan:\n```\n{body}\n```\nend", MESSAGE_LIMIT)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert chunk.count("```") % 2 == 0, chunk[:40]
        assert len(chunk) <= MESSAGE_LIMIT


def test_the_cores_strong_is_discord_bold_and_typed_asterisks_stay_text() -> None:
    assert discord_markdown(Message.parse("planning for *shop* in staging")) == "planning for **shop** in staging"
    assert discord_markdown(Message.of(line("* a bullet and 2*3*4"))) == r"\* a bullet and 2\*3\*4"
    assert discord_markdown(Message.of(line("already **bold**"))) == r"already \*\*bold\*\*"


def test_card_embed_shows_phase_progress_elapsed_and_engine() -> None:
    embed = card_embed(_card())
    fields = {f.name: f.value for f in embed.fields}
    assert "waiting for approval" in fields["Phase"]
    assert fields["Progress"] == "3 of 5"
    assert fields["Elapsed"] == "1m 05s"
    assert "simulated" in fields["Engine"]
    assert "r0123456789ab" not in str(embed.to_dict()), "the request id is never shown"
    assert embed.footer.text == card_footer("r0123456789ab"), "a one-way tag finds the card again"


def test_huge_card_stays_within_every_embed_limit() -> None:
    card = _card(
        title="T" * 1000,
        lines=["L" * 300 for _ in range(40)],
        resources=[f"+ gcp:storage/bucket:Bucket shop-{i}-" + "n" * 60 for i in range(400)],
        outputs={f"out{i}": "v" * 200 for i in range(50)},
        error="E" * 5000,
    )
    embed = card_embed(card)
    assert embed_fits(embed)
    assert len(embed) <= EMBED_TOTAL
    assert len(embed.fields) <= EMBED_FIELDS
    assert len(embed.description or "") <= EMBED_DESCRIPTION
    assert "not shown" in embed.fields[-1].value


def test_resources_fill_fields_when_they_fit() -> None:
    resources = [f"+ bucket-{i}" for i in range(30)]
    embed = card_embed(_card(resources=resources))
    shown = "\n".join(f.value for f in embed.fields if f.name.startswith("Resources"))
    assert shown.split("\n") == resources


def test_invite_asks_for_exactly_the_documented_permissions() -> None:
    url = invite_url(1234)
    query = parse_qs(urlparse(url).query)
    assert query["client_id"] == ["1234"]
    assert set(query["scope"][0].split()) == {"bot", "applications.commands"}
    granted = discord.Permissions(int(query["permissions"][0]))
    # discord.py iterates View Channel under its older name, read_messages.
    names = {name for name, on in granted if on}
    assert names == {
        "read_messages", "send_messages", "send_messages_in_threads", "create_public_threads",
        "embed_links", "read_message_history",
    }
    assert granted.value == BOT_PERMISSIONS.value == 309237730304
    assert not granted.administrator


def test_default_intents_are_unprivileged() -> None:
    default = make_intents()
    assert not default.message_content and not default.members and not default.presences
    assert default.guilds and default.guild_messages and default.dm_messages
    assert make_intents(message_content=True).message_content


def test_button_custom_id_round_trips_through_the_template() -> None:
    cid = custom_id("approve", "r0123456789ab")
    match = ActionButton.__discord_ui_compiled_template__.fullmatch(cid)
    assert match is not None
    assert (match["action"], match["request_id"]) == ("approve", "r0123456789ab")
    button = ActionButton("cancel", "r0123456789ab", "Cancel", "danger")
    assert button.custom_id == "infrabot:cancel:r0123456789ab"
    assert button.item.style is discord.ButtonStyle.danger
