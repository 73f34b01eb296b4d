"""Fitting text into a chat platform's size limits, the same way on every platform.

Each adapter passes its own limits (Slack's section, Discord's field or message); the way a text is cut
and lines are packed is decided here, once.
"""

from __future__ import annotations

ELLIPSIS = "…"
_FENCE = "```"
_FENCE_CLOSE = "\n```"


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


def split_text(text: str, limit: int) -> list[str]:
    """Splits on line boundaries; only a single line longer than the limit is cut mid-line.

    A code fence open at a cut is closed there and reopened in the next chunk, so each message
    renders on its own.
    """
    if not text.strip():
        return []
    if len(text) <= limit:
        return [text]
    body_limit = limit - len(_FENCE_CLOSE)
    piece = body_limit - len(_FENCE) - 1
    lines = [line[i : i + piece] for line in text.split("\n") for i in range(0, max(len(line), 1), piece)]
    chunks: list[str] = []
    current: list[str] = []
    size = -1
    in_fence = False
    for line in lines:
        if current and size + len(line) + 1 > body_limit:
            chunks.append("\n".join(current) + (_FENCE_CLOSE if in_fence else ""))
            current = [_FENCE] if in_fence else []
            size = len(_FENCE) if in_fence else -1
        current.append(line)
        size += len(line) + 1
        if line.lstrip().startswith(_FENCE):
            in_fence = not in_fence
    if current:
        chunks.append("\n".join(current))
    return [chunk for chunk in chunks if chunk.strip()]
