"""Chat markup removal and text folding.

Two steps, kept apart on purpose: `strip_chat_formatting` keeps case and punctuation so an app name can
be judged exactly as the user typed it; `fold` then produces the lowercase, accent-free, tokenised text
the rule matchers work on.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Reactions that mean "yes" / "no" when they are the whole answer; everywhere else they are noise.
_YES_EMOJI = ("👍", "👌", "✅", "✔", "🆗")
_NO_EMOJI = ("👎", "❌", "🛑", "✖")
_YES_SHORTCODES = frozenset({
    "+1", "thumbsup", "thumbs_up", "white_check_mark", "heavy_check_mark", "ok", "ok_hand", "shipit",
    "ship_it", "ballot_box_with_check",
})
_NO_SHORTCODES = frozenset({"-1", "thumbsdown", "thumbs_down", "x", "no_entry", "octagonal_sign"})

_FENCE = re.compile(r"```(?:[A-Za-z0-9_+-]*\n)?(.*?)```", re.DOTALL)
_SLACK_LINK = re.compile(r"<((?:https?|mailto|ftp)://?[^>|]*)\|([^>]*)>")
_ANGLE_TOKEN = re.compile(
    r"<(?:@[!&]?[A-Za-z0-9]+(?:\|[^>]*)?"          # Slack <@U1> <@U1|name>, Discord <@1> <@!1> <@&1>
    r"|#[A-Za-z0-9]+(?:\|[^>]*)?"                   # channels <#C1|x> <#123>
    r"|![^>]*"                                       # <!here>, <!subteam^S1|@team>
    r"|a?:[A-Za-z0-9_~]+:\d+"                        # custom emoji <:name:1> <a:name:1>
    r"|/[^>:]+:\d+"                                  # slash-command mentions </deploy:1>
    r"|t:\d+(?::[A-Za-z])?"                          # Discord timestamps <t:1:R>
    r"|(?:https?|mailto|ftp):[^>]*)>"                # bare links <https://x>
)
_PLAIN_URL = re.compile(r"\bhttps?://\S+")
_PLAIN_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9][\w.-]*")
_SHORTCODE = re.compile(r"(?<![\w:]):([a-z0-9_+\-]*[a-z][a-z0-9_+\-]*|[+-]1):(?![\w:])", re.IGNORECASE)
_STRIKE = re.compile(r"(?<![\w~])~~?(?=\S)(.+?)(?<=\S)~~?(?![\w~])")
_SPOILER = re.compile(r"\|\|(.+?)\|\|", re.DOTALL)
_EMPHASIS = re.compile(r"(?<![\w*_])(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1(?![\w*_])")
_INLINE_CODE = re.compile(r"`([^`]*)`")
_QUOTE_LINE = re.compile(r"^\s*>+\s?", re.MULTILINE)
_BOT_NAME = re.compile(r"\binfrabot\b[,:]?", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]+")

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": " - ", "\u2014": " - ", "\u2212": "-", "\u2010": "-", "\u2011": "-",
})


def _drop_symbols(text: str) -> str:
    """Remove emoji, zero-width and control characters; other whitespace becomes a plain space."""
    out: list[str] = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Cc", "Cs", "Co", "Cn"):
            continue  # zero-width joiners, BOMs, direction marks: glue, not content
        if cat in ("So", "Sk") or (cat == "Mn" and 0xFE00 <= ord(ch) <= 0xFE0F):
            out.append(" ")
            continue
        if cat.startswith("Z"):
            out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def _shortcode(match: re.Match[str]) -> str:
    name = match.group(1).lower()
    if name in _YES_SHORTCODES:
        return " yes "
    if name in _NO_SHORTCODES:
        return " no "
    return " "


def strip_chat_formatting(text: str) -> str:
    """Slack/Discord/markdown markup removed; case, punctuation and the user's words kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _FENCE.sub(lambda m: f" {m.group(1)} ", text)
    text = _SLACK_LINK.sub(lambda m: f" {m.group(2)} ", text)
    text = _ANGLE_TOKEN.sub(" ", text)
    text = html.unescape(text)  # Slack escapes &, < and > in message text
    text = _PLAIN_URL.sub(" ", text)
    text = _SHORTCODE.sub(_shortcode, text)
    for ch in _YES_EMOJI:
        text = text.replace(ch, " yes ")
    for ch in _NO_EMOJI:
        text = text.replace(ch, " no ")
    text = _drop_symbols(text)
    text = _INLINE_CODE.sub(lambda m: f" {m.group(1)} ", text)
    # Struck-through words are ones the user took back ("a ~mysql~ postgres db"), so they go entirely.
    text = _STRIKE.sub(" ", text)
    text = _SPOILER.sub(lambda m: m.group(1), text)
    for _ in range(2):  # nested emphasis such as *_x_*
        text = _EMPHASIS.sub(lambda m: m.group(2), text)
    text = _QUOTE_LINE.sub("", text)
    text = text.translate(_QUOTES)
    text = _PLAIN_MENTION.sub(" ", text)
    text = _BOT_NAME.sub(" ", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n+", "\n", text).strip()


def ascii_fold(text: str) -> str:
    """Accents removed (São Paulo -> Sao Paulo); characters with no ASCII form are dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode(
        "ascii", "ignore").decode()


_PUBSUB = re.compile(r"\bpub\s*[/\- ]\s*sub\b")
_KEEP = re.compile(r"[^a-z0-9\-_,.;:!?\s]")
_CLAUSE_PUNCT = re.compile(r" ?([,.;:!?]) ?")
_LOOSE_HYPHEN = re.compile(r"(?<![a-z0-9])-|-(?![a-z0-9])")


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces; clause punctuation kept as its own token."""
    text = ascii_fold(text).lower()
    text = text.replace("'", "").replace("`", "")  # what's -> whats, don't -> dont
    text = _PUBSUB.sub("pubsub", text)
    text = text.replace("+", " and ").replace("&", " and ").replace("=", " ")
    text = _KEEP.sub(" ", text)
    text = _LOOSE_HYPHEN.sub(" ", text)
    # Collapse first: a pattern starting with \s* over a long run of spaces is quadratic.
    text = " ".join(text.split())
    # Periods inside words (e.g. "node.js") stay; clause punctuation becomes a separate token.
    text = re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", "\x00", text)
    text = _CLAUSE_PUNCT.sub(r" \1 ", text).replace("\x00", ".")
    return " ".join(text.split())
