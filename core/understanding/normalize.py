"""Chat markup removal and text folding.

Two steps, kept apart on purpose: `strip_chat_formatting` keeps case and punctuation so an app name can
be judged exactly as the user typed it; `fold` then produces the lowercase, accent-free, tokenised text
the rule matchers work on.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections.abc import Callable

# Requests are a sentence or two, with some context at most; past this it is a pasted log, and reading it
# only costs time (every message is read in the event loop). Output is capped too: emoji become words.
MAX_INPUT_CHARS = 1000

# Reactions that mean "yes" / "no" when they are the whole answer; everywhere else they are noise.
_YES_EMOJI = ("👍", "👌", "✅", "✔", "🆗")
_NO_EMOJI = ("👎", "❌", "🛑", "✖")
_YES_SHORTCODES = frozenset({
    "+1", "thumbsup", "thumbs_up", "white_check_mark", "heavy_check_mark", "ok", "ok_hand", "shipit",
    "ship_it", "ballot_box_with_check",
})
_NO_SHORTCODES = frozenset({"-1", "thumbsdown", "thumbs_down", "x", "no_entry", "octagonal_sign"})

# Every pattern here is linear-time: character classes that cannot overlap what follows them, no nested
# or adjacent ambiguous repeats, and pairing (emphasis, strike-through, fences) done by scanners, not by
# lazy `(.+?)` whose failed attempts rescan the rest of the text from every opening marker.
_ANGLE = re.compile(r"<([^<>]*)>")
_SLACK_LINK_BODY = re.compile(r"(?:https?|mailto|ftp)://?[^|]*\|(.*)", re.DOTALL)
_ANGLE_TOKEN_BODY = re.compile(
    r"@[!&]?[A-Za-z0-9]+(?:\|.*)?"          # Slack <@U1> <@U1|name>, Discord <@1> <@!1> <@&1>
    r"|#[A-Za-z0-9]+(?:\|.*)?"               # channels <#C1|x> <#123>
    r"|!.*"                                  # <!here>, <!subteam^S1|@team>
    r"|a?:[A-Za-z0-9_~]+:\d+"                # custom emoji <:name:1> <a:name:1>
    r"|/[^:]+:\d+"                           # slash-command mentions </deploy:1>
    r"|t:\d+(?::[A-Za-z])?"                  # Discord timestamps <t:1:R>
    r"|(?:https?|mailto|ftp):.*",            # bare links <https://x>
    re.DOTALL,
)
_PLAIN_URL = re.compile(r"\bhttps?://\S+")
_PLAIN_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9][\w.-]*")
_SHORTCODE = re.compile(r"(?<![\w:]):([a-z0-9_+\-]+):(?![\w:])", re.IGNORECASE)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_QUOTE_LINE = re.compile(r"^[ \t]*>+[ \t]?", re.MULTILINE)
_BOT_NAME = re.compile(r"\binfrabot\b[,:]?", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n+")

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": " - ", "\u2014": " - ", "\u2212": "-", "\u2010": "-", "\u2011": "-",
})


_SPECIAL = re.compile(r"[^\x20-\x7e\n\t]")


def _symbol(match: re.Match[str]) -> str:
    ch = match.group(0)
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Cc", "Cs", "Co", "Cn"):
        return ""  # zero-width joiners, BOMs, direction marks: glue, not content
    if cat in ("So", "Sk") or cat.startswith("Z") or (cat == "Mn" and 0xFE00 <= ord(ch) <= 0xFE0F):
        return " "
    return ch


def _drop_symbols(text: str) -> str:
    """Remove emoji, zero-width and control characters; other whitespace becomes a plain space."""
    return _SPECIAL.sub(_symbol, text)


def _shortcode(match: re.Match[str]) -> str:
    name = match.group(1).lower()
    if name not in ("+1", "-1") and not any("a" <= ch <= "z" for ch in name):
        return match.group(0)  # ":123:" is not an emoji
    if name in _YES_SHORTCODES:
        return " yes "
    if name in _NO_SHORTCODES:
        return " no "
    return " "


def _angle(match: re.Match[str]) -> str:
    body = match.group(1)
    link = _SLACK_LINK_BODY.fullmatch(body)
    if link:
        return f" {link.group(1)} "
    return " " if _ANGLE_TOKEN_BODY.fullmatch(body) else match.group(0)


def _each_pair(text: str, mark: str, replace: Callable[[str], str], gap: int = 0) -> str:
    """Replaces every `mark`…`mark` span (its content at least `gap` long) by `replace(content)`, in one
    left-to-right pass: no regex, so no backtracking however many unpaired marks a message holds."""
    out: list[str] = []
    at = 0
    while True:
        start = text.find(mark, at)
        end = text.find(mark, start + len(mark) + gap) if start >= 0 else -1
        if end < 0:
            out.append(text[at:])
            return "".join(out)
        out.append(text[at:start] + replace(text[start + len(mark):end]))
        at = end + len(mark)


def _code_body(body: str) -> str:
    first, newline, rest = body.partition("\n")
    if newline and all(ch.isalnum() or ch in "_+-" for ch in first):
        body = rest
    return f" {body} "


def _unfence(text: str) -> str:
    """```code``` keeps its content (minus a language tag line), like ||spoilers||."""
    return _each_pair(text, "```", _code_body)


def _unspoil(text: str) -> str:
    return _each_pair(text, "||", lambda body: body, gap=1)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _pairs(line: str, markers: tuple[str, ...], edge: str, same_closer: bool) -> list[tuple[int, int, int, int]]:
    """(open start, content start, content end, close end) for markup such as *x*, __x__ or ~~x~~.

    An opener is not preceded by a word character or `edge` and is followed by a non-space; a closer
    follows a non-space and is not followed by a word character or `edge`. Each opener takes the nearest
    closer (with `same_closer`, the same marker). Only marker characters are visited, and closers are
    found by bisection, so a line full of unmatched markers costs O(n log n), not a rescan per marker.
    """
    n = len(line)
    spots = [i for i, ch in enumerate(line) if ch in edge]
    closers: dict[str, list[int]] = {m: [] for m in markers}
    for j in spots:
        if j == 0 or line[j - 1].isspace():
            continue
        for m in markers:
            after = j + len(m)
            if line.startswith(m, j) and (after >= n or not (_is_word(line[after]) or line[after] in edge)):
                closers[m].append(j)
    found: list[tuple[int, int, int, int]] = []
    resume = 0
    for i in spots:
        if i < resume or (i > 0 and (_is_word(line[i - 1]) or line[i - 1] in edge)):
            continue
        hit = None
        for m in markers:
            body = i + len(m)
            if not line.startswith(m, i) or body >= n or line[body].isspace():
                continue
            for closer in (m,) if same_closer else markers:
                ends = closers[closer]
                k = bisect.bisect_left(ends, body + 1)
                if k < len(ends) and (hit is None or ends[k] < hit[2]):
                    hit = (i, body, ends[k], ends[k] + len(closer))
            if hit:
                break
        if hit is not None:
            found.append(hit)
            resume = hit[3]
    return found


def _rewrite(text: str, markers: tuple[str, ...], edge: str, same_closer: bool, keep: bool) -> str:
    lines = []
    for line in text.split("\n"):
        if not any(m in line for m in markers):
            lines.append(line)
            continue
        out, at = [], 0
        for start, body, end, stop in _pairs(line, markers, edge, same_closer):
            out.append(line[at:start])
            out.append(line[body:end] if keep else " ")
            at = stop
        out.append(line[at:])
        lines.append("".join(out))
    return "\n".join(lines)


def strip_chat_formatting(text: str) -> str:
    """Slack/Discord/markdown markup removed; case, punctuation and the user's words kept."""
    text = text[:MAX_INPUT_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    text = _unfence(text)
    text = _ANGLE.sub(_angle, text)
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
    text = _rewrite(text, ("~~", "~"), "~", same_closer=False, keep=False)
    text = _unspoil(text)
    for _ in range(2):  # nested emphasis such as *_x_*
        before, text = text, _rewrite(text, ("**", "__", "*", "_"), "*_", same_closer=True, keep=True)
        if text == before:
            break
    text = _QUOTE_LINE.sub("", text)
    text = text.translate(_QUOTES)
    text = _PLAIN_MENTION.sub(" ", text)
    text = _BOT_NAME.sub(" ", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", text).strip()[:MAX_INPUT_CHARS]


def ascii_fold(text: str) -> str:
    """Accents removed (São Paulo -> Sao Paulo); characters with no ASCII form are dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode(
        "ascii", "ignore").decode()


_PUBSUB = re.compile(r"\bpub ?[/\- ] ?sub\b")
_KEEP = re.compile(r"[^a-z0-9\-_,.;:!?\s]")
_CLAUSE_PUNCT = re.compile(r" ?([,.;:!?]) ?")
_INNER_PERIOD = re.compile(r"(?<=[a-z0-9])\.(?=[a-z0-9])")
_LOOSE_HYPHEN = re.compile(r"(?<![a-z0-9])-|-(?![a-z0-9])")


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces; clause punctuation kept as its own token."""
    text = ascii_fold(text).lower()
    text = text.replace("'", "").replace("`", "")  # what's -> whats, don't -> dont
    text = _PUBSUB.sub("pubsub", " ".join(text.split()))
    text = text.replace("+", " and ").replace("&", " and ").replace("=", " ")
    text = _KEEP.sub(" ", text)
    text = _LOOSE_HYPHEN.sub(" ", text)
    # Collapse first: a pattern starting with \s* over a long run of spaces is quadratic.
    text = " ".join(text.split())
    # Periods inside words (e.g. "node.js") stay; clause punctuation becomes a separate token.
    text = _INNER_PERIOD.sub("\x00", text)
    text = _CLAUSE_PUNCT.sub(r" \1 ", text).replace("\x00", ".")
    return " ".join(text[:MAX_INPUT_CHARS].split())
