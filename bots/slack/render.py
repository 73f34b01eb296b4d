"""Renders the core's messages (core/markup.py) as Slack mrkdwn, and its StatusCard as Block Kit, within
Slack's message limits. Every span's text is escaped (bots/slack/text.py:escape), so what a user typed never
becomes a live `<!channel>`, mention or link; only the core's own mentions are rendered as mentions."""

from __future__ import annotations

import dataclasses
from typing import Any

from bots.slack.text import escape, slack_mention, slack_text
from core.job import Phase, as_phase, phase_label
from core.markup import Message, Style
from core.messages import Button
from core.status_card import StatusCard, format_elapsed, resource_list
from core.textfit import clip, pack_lines

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_TEXT_CHARS = 3000  # the notification fallback; Slack cuts plain text far later, but it is only a preview
MAX_RESOURCES_SHOWN = 20
MAX_OUTPUT_SECTIONS = 5
ACTION_PREFIX = "infrabot_"

# Slack's look for each phase; the words are core's (core/job.py:PHASE_LABELS).
PHASE_EMOJI: dict[Phase, str] = {
    Phase.QUEUED: ":hourglass_flowing_sand:",
    Phase.RUNNING: ":gear:",
    Phase.AWAITING_APPROVAL: ":raised_hand:",
    Phase.APPLYING: ":building_construction:",
    Phase.SUCCEEDED: ":white_check_mark:",
    Phase.FAILED: ":x:",
    Phase.CANCELLED: ":no_entry_sign:",
}


MRKDWN = Style(text=escape, strong=lambda t: f"*{escape(t)}*", code=lambda t: f"`{escape(t)}`",
               mention=slack_mention)
# Streams take standard markdown, where mrkdwn's *bold* would read as italics.
MARKDOWN = dataclasses.replace(MRKDWN, strong=lambda t: f"**{escape(t)}**")


def mrkdwn_lines(message: Message) -> list[str]:
    return MRKDWN.lines(message)


def mrkdwn(message: Message) -> str:
    return MRKDWN.render(message)


def markdown(message: Message) -> str:
    return MARKDOWN.render(message)


def phase_emoji(phase: str) -> str:
    known = as_phase(phase)
    return PHASE_EMOJI[known] if known else ":grey_question:"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_CHARS)}}


def action_id(action: str) -> str:
    return f"{ACTION_PREFIX}{action}"


def buttons_block(buttons: list[Button]) -> dict[str, Any]:
    elements = []
    for button in buttons[:25]:
        element: dict[str, Any] = {
            "type": "button",
            "action_id": action_id(button.action),
            "text": {"type": "plain_text", "text": button.label[:75], "emoji": True},
            "value": button.request_id,
        }
        if button.style in ("primary", "danger"):
            element["style"] = button.style
        elements.append(element)
    block_id = f"infrabot_actions:{buttons[0].request_id}"[:255]
    return {"type": "actions", "block_id": block_id, "elements": elements}


def phase_line(card: StatusCard) -> str:
    parts = [f"{phase_emoji(card.phase)} *{phase_label(card.phase)}*"]
    if card.total:
        parts.append(f"{card.done} of {card.total} resources")
    parts.append(format_elapsed(card.elapsed_seconds))
    return " · ".join(parts)


def fallback_text(card: StatusCard) -> str:
    """What notifications and screen readers show; kept short and meaningful on its own."""
    text = f"{card.title}: {phase_label(card.phase)}"
    if card.total:
        text += f" ({card.done} of {card.total})"
    if card.error:
        text += f" - {card.error}"
    return clip(text, MAX_TEXT_CHARS)


def escaped(card: StatusCard) -> StatusCard:
    """The card's texts as Slack text: titles and outputs carry app names and what people typed."""
    return dataclasses.replace(
        card, title=slack_text(card.title), outputs={slack_text(k): slack_text(v) for k, v in card.outputs.items()},
        error=slack_text(card.error) if card.error else card.error,
    )


def render_card(card: StatusCard) -> tuple[list[dict[str, Any]], str]:
    """Returns (blocks, text). Fixed blocks come first so truncation only ever trims the resource list."""
    # The lines and resources as Slack text, each span escaped.
    lines = mrkdwn_lines(card.body)
    listed = mrkdwn_lines(Message(tuple(resource_list(card.resources, MAX_RESOURCES_SHOWN))))
    card = escaped(card)
    head: list[dict[str, Any]] = [
        # Names the job and version shown, for support and for the benchmark's status-to-card timing.
        {**section(f"*{card.title}*\n{phase_line(card)}"), "block_id": f"card:{card.job_id}:{card.version}"[:255]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(card.engine_label, 2000)}]},
    ]
    tail: list[dict[str, Any]] = []
    if card.error:
        tail.append(section(f":warning: *What went wrong:* {card.error}"))
    if card.outputs:
        outputs = ["*Outputs*"] + [f"• {k}: `{v}`" for k, v in card.outputs.items()]
        tail.extend(section(t) for t in pack_lines(outputs, MAX_SECTION_CHARS)[:MAX_OUTPUT_SECTIONS])
    if card.buttons:
        tail.append(buttons_block(card.buttons))

    # Packing no lines gives no sections.
    body = [section(t) for t in pack_lines(lines, MAX_SECTION_CHARS)]
    resources = [section(t) for t in pack_lines(listed, MAX_SECTION_CHARS)]
    room = MAX_BLOCKS - len(head) - len(tail)
    middle = (body + resources)[:room]
    if len(body) + len(resources) > room:
        middle[-1] = section("… more detail than fits here (say `plan` for the full list)")
    blocks = (head + middle + tail)[:MAX_BLOCKS]
    return blocks, fallback_text(card)
