"""Turns core replies and status cards into text and embeds that fit Discord's limits."""

from __future__ import annotations

import hashlib
import re

import discord

from core.job import Phase, as_phase, phase_label
from core.markup import Message, Style
from core.markup import line as text_line
from core.status_card import StatusCard, format_elapsed
from core.textfit import clip, pack_lines

MESSAGE_LIMIT = 2000
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_TOTAL = 6000

# Discord's markdown reads these anywhere in a line, and these only at its start (quotes, headings, lists).
_INLINE_MARKUP = re.compile(r"([\\*_~|`])")
_LINE_START_MARKUP = re.compile(r"^(\s*)([>#-])")

# Discord's look for each phase; the words are core's (core/job.py:PHASE_LABELS).
PHASE_STYLE: dict[Phase, tuple[str, discord.Colour]] = {
    Phase.QUEUED: ("⏳", discord.Colour.light_grey()),
    Phase.RUNNING: ("🔄", discord.Colour.blurple()),
    Phase.AWAITING_APPROVAL: ("📝", discord.Colour.gold()),
    Phase.APPLYING: ("🚧", discord.Colour.blurple()),
    Phase.SUCCEEDED: ("✅", discord.Colour.green()),
    Phase.FAILED: ("❌", discord.Colour.red()),
    Phase.CANCELLED: ("🚫", discord.Colour.dark_grey()),
}


def phase_style(phase: str) -> tuple[str, discord.Colour]:
    """The phase's field text (emoji and label) and the embed's colour."""
    known = as_phase(phase)
    if known is None:
        return phase_label(phase), discord.Colour.default()
    emoji, colour = PHASE_STYLE[known]
    return f"{emoji} {phase_label(phase)}", colour


def _mention(user: str) -> str:
    return f"<@{user}>" if user.isdigit() else escape(f"@{user}")


def card_footer(request_id: str) -> str:
    """Marks the request's card so a crashed post can be found again. A one-way tag, never the request id
    itself: that id is the handle of every action on the request, not for the channel to read."""
    return "card " + hashlib.sha256(request_id.encode()).hexdigest()[:12]


def escape(text: str) -> str:
    """Text shown as typed: every character Discord's markdown would read is backslash-escaped."""
    return _INLINE_MARKUP.sub(r"\\\1", text)


MARKDOWN = Style(text=escape, strong=lambda t: f"**{escape(t)}**", code=lambda t: f"`{t}`" if t else "",
                 mention=_mention)


def discord_markdown(message: Message) -> str:
    """The core's message for Discord. Mentions are written out, and every send and edit goes out with no
    allowed mentions (replies.SAFE_MENTIONS), so even a mention pings nobody; a typed `@everyone` or `<@…>`
    is shown as text."""
    lines = []
    for marker, inline in message.lines():
        text = MARKDOWN.inline(inline)
        lines.append(marker + (text if marker else _LINE_START_MARKUP.sub(r"\1\\\2", text)))
    return "\n".join(lines)


def _plain_text(text: str) -> str:
    return discord_markdown(Message((text_line(text),)))


def _fields_from_lines(name: str, lines: list[str]) -> list[tuple[str, str]]:
    """Packs lines into as few fields as the 1,024-character value limit allows."""
    packed = pack_lines(lines, EMBED_FIELD_VALUE)
    return [(name if i == 0 else f"{name} (cont.)", value) for i, value in enumerate(packed)]


def card_embed(card: StatusCard) -> discord.Embed:
    """One embed per request: phase, progress n of m, elapsed, engine; trimmed to Discord's limits."""
    label, colour = phase_style(card.phase)
    embed = discord.Embed(
        title=clip(_plain_text(card.title) or "infrabot request", EMBED_TITLE),
        colour=colour,
        description=clip(discord_markdown(card.body), EMBED_DESCRIPTION) or None,
    )
    progress = f"{card.done} of {card.total}" if card.total else "–"
    fields: list[tuple[str, str, bool]] = [
        ("Phase", label, True),
        ("Progress", progress, True),
        ("Elapsed", format_elapsed(card.elapsed_seconds), True),
        ("Engine", clip(card.engine_label, EMBED_FIELD_VALUE), False),
    ]
    if card.error:
        fields.append(("Error", clip(_plain_text(card.error), EMBED_FIELD_VALUE), False))
    fields += [(n, v, False) for n, v in _fields_from_lines("Resources", card.resources)]
    outputs = [f"{k}: `{v}`" for k, v in card.outputs.items()]
    fields += [(n, v, False) for n, v in _fields_from_lines("Outputs", outputs)]

    footer = clip(card_footer(card.request_id), EMBED_FOOTER)
    budget = EMBED_TOTAL - len(footer) - len(embed.title or "") - len(embed.description or "")
    room_for_note = 40
    kept = 0
    for name, value, inline in fields:
        if kept == EMBED_FIELDS - 1 or len(name) + len(value) > budget - room_for_note:
            hidden = len(fields) - kept
            embed.add_field(name="…", value=f"{hidden} more section(s) not shown", inline=False)
            break
        embed.add_field(name=clip(name, EMBED_FIELD_NAME), value=value or "–", inline=inline)
        budget -= len(name) + len(value)
        kept += 1
    embed.set_footer(text=footer)
    return embed


def embed_fits(embed: discord.Embed) -> bool:
    return (
        len(embed) <= EMBED_TOTAL
        and len(embed.fields) <= EMBED_FIELDS
        and len(embed.description or "") <= EMBED_DESCRIPTION
        and len(embed.title or "") <= EMBED_TITLE
        and all(len(f.value or "") <= EMBED_FIELD_VALUE for f in embed.fields)
    )
