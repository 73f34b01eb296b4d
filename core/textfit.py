"""Fitting text into a chat platform's size limits, the same way on every platform.

Each adapter passes its own limits (Slack's section, Discord's field or message); the way a text is cut
and lines are packed is decided here, once.
"""

from __future__ import annotations

ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """The text, or as much as fits with an ellipsis showing it was cut."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def pack_lines(lines: list[str], limit: int) -> list[str]:
    """Packs lines into as few texts as fit, never splitting a line unless it alone is too long (that one
    is clipped)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = clip(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks
