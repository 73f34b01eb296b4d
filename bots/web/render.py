"""The core's messages (core/markup.py) as HTML for the web page, which shows them as they come.

Every span's text is HTML-escaped here, so nothing a user typed ("<script>", "*bold*", "<@U1>") is ever
markup on the page; the page keeps the line breaks (`white-space: pre-wrap`).
"""

from __future__ import annotations

from html import escape

from core.markup import Message, Style

HTML = Style(text=escape, strong=lambda t: f"<b>{escape(t)}</b>", code=lambda t: f"<code>{escape(t)}</code>",
             mention=lambda user: escape(f"@{user}"))


def html(message: Message) -> str:
    return HTML.render(message, marker=escape)


def plain_html(text: str) -> str:
    """What a person typed, exactly as typed."""
    return escape(text)
