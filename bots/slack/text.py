"""Text for Slack: everything escaped (`& < >`), so nothing a user typed can become a live `<!channel>`,
`<!here>`, `<@U…>` or link; only the core's own mentions (core.messages.mention) become real mentions."""

from __future__ import annotations

import re

from core.messages import render_text

_USER_ID = re.compile(r"[UW][A-Z0-9]+")


def escape(text: str) -> str:
    """Slack's own rule: these three characters are control characters in message text; nothing else is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_mention(user: str) -> str:
    return f"<@{user}>" if _USER_ID.fullmatch(user) else escape(f"@{user}")


def slack_text(text: str) -> str:
    return render_text(text, escape, slack_mention)
