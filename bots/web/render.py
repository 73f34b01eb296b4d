"""The core's messages (core/markup.py) as HTML for the web page, which shows them as they come.

Every span's text is HTML-escaped here, so nothing a user typed ("<script>", "*bold*", "<@U1>") is ever
markup on the page; the page keeps the line breaks (`white-space: pre-wrap`).
"""

from __future__ import annotations

from html import escape

from core.markup import Code, Message, Span, Strong, Text


def _span(span: Span) -> str:
    if isinstance(span, Strong):
        return f"<b>{escape(span.text)}</b>"
    if isinstance(span, Code):
        return f"<code>{escape(span.text)}</code>"
    if isinstance(span, Text):
        return escape(span.text)
    return escape(f"@{span.user}")


def html(message: Message) -> str:
    return "\n".join(escape(marker) + "".join(_span(s) for s in inline) for marker, inline in message.lines())


def core_html(text: str) -> str:
    """A text the core wrote in its light notation (history, a card's lines) as HTML."""
    return html(Message.parse(text))


def plain_html(text: str) -> str:
    """What a person typed, exactly as typed."""
    return escape(text)
