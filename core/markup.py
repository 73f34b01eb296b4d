"""What the core says, as structure: lines of plain text, emphasis, code and mentions, and lists of them.

The core builds a `Message` (`say`, `line`, `bullets`); each adapter renders it for its platform
(bots/slack/render.py, bots/discord_bot/render.py, bots/web/render.py) and escapes the text of every span
there, so no adapter converts another platform's syntax, and nothing a user typed turns into markup on any
platform.

`Message.markup()` is the message as one string in the core's own light notation (*strong*, `code`,
"• " items); history stores that, and the worker writes its plan and card lines in it. `Message.parse`
reads it back, called from one place only, core.messages.stored_message, for what was stored in MongoDB:
history lines and the worker's lines (a card hands adapters its lines parsed, as `StatusCard.body`), so no
adapter parses notation (tests/unit/test_notation_readers.py). Neither `say` nor `Reply` parses a
string; the fixed texts (core/texts.py), the questions (core/draft.py) and the name, region and policy
problems (core/understanding/names.py, core/understanding/clouds.py, core/policy.py) are built as spans,
and `plain` gives their words for logs and audit rows. What a user typed is quoted in a Code span, never
parsed as markup.
`Style` is the one walk over a message that every renderer parameterises with its escaping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

BULLET = "• "

# The core's own mentions of a person ("Approved by @ana") travel as a user id between these two
# private-use characters. Adapters escape every other piece of text for their platform and render only
# these as real mentions, so nothing a user typed ("<!channel>", "<@U0>", "@everyone") is ever posted live.
# The marks are stripped from everything users send, so nobody can type one.
MENTION_OPEN, MENTION_CLOSE = "\ue000", "\ue001"


def mention(user: str) -> str:
    """A deliberate mention of `user`, inside text in the core's light notation."""
    return f"{MENTION_OPEN}{user}{MENTION_CLOSE}"


def strip_marks(text: str) -> str:
    return text.replace(MENTION_OPEN, "").replace(MENTION_CLOSE, "")


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Code:
    """Shown literally on every platform. A backtick would end the span early, so it becomes a look-alike;
    a line break would break it, so it is a space."""

    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", " ".join(self.text.replace("`", "\u02cb").split()))


@dataclass(frozen=True)
class Mention:
    """The core's own mention of a person (a user id); anything a user typed stays text."""

    user: str


Span = Text | Strong | Code | Mention
Inline = tuple[Span, ...]


@dataclass(frozen=True)
class Line:
    """One line of text (a paragraph of one line, as chat replies are written); empty for a blank line."""

    spans: Inline = ()


@dataclass(frozen=True)
class Bullets:
    items: tuple[Inline, ...]


@dataclass(frozen=True)
class Numbered:
    items: tuple[Inline, ...]
    start: int = 1


Block = Line | Bullets | Numbered

Part = str | Span


def spans(*parts: Part) -> Inline:
    """Plain strings become Text; empty strings are dropped, and neighbouring texts joined, so one wording
    makes one value however its pieces were put together."""
    out: list[Span] = []
    for part in parts:
        span = Text(part) if isinstance(part, str) else part
        if span == Text(""):
            continue
        if isinstance(span, Text) and out and isinstance(out[-1], Text):
            span = Text(out.pop().text + span.text)
        out.append(span)
    return tuple(out)


def line(*parts: Part) -> Line:
    return Line(spans(*parts))


def say(*parts: Part) -> Message:
    """A one-line message: each `str` part is plain text, never read as notation; emphasis, code and
    mentions go in as spans (Strong, Code, Mention)."""
    return Message((line(*parts),))


def bullets(items: Iterable[Inline | Part]) -> Bullets:
    return Bullets(tuple(i if isinstance(i, tuple) else spans(i) for i in items))


@dataclass(frozen=True)
class Message:
    blocks: tuple[Block, ...] = ()

    @classmethod
    def of(cls, *blocks: Block) -> Message:
        return cls(blocks)

    def __add__(self, other: Message) -> Message:
        return Message(self.blocks + other.blocks)

    def prefixed(self, *parts: Part) -> Message:
        """The message with `parts` put at the start of its first line (or as a line of their own)."""
        if self.blocks and isinstance(self.blocks[0], Line):
            return Message((Line(spans(*parts) + self.blocks[0].spans), *self.blocks[1:]))
        return Message((line(*parts), *self.blocks))

    def append_to_last_line(self, *parts: Part) -> Message:
        """The message with `parts` added to the end of its last line (or as a new line)."""
        if self.blocks and isinstance(self.blocks[-1], Line):
            last = self.blocks[-1]
            return Message((*self.blocks[:-1], Line(last.spans + spans(*parts))))
        return Message((*self.blocks, line(*parts)))

    def fit(self, limit: int) -> Message:
        """At most `limit` characters (in the notation), cut at a line break where possible, so a long list
        loses whole lines, never half a word; a cut message ends in a line "…"."""
        if len(self) <= limit:
            return self
        room = limit - len("\n…")
        kept: list[tuple[str, Inline]] = []
        used = -1
        for marker, inline in self.lines():
            size = 1 + len(marker) + sum(len(_markup(s)) for s in inline)
            if used + size > room:
                if used < limit // 2:
                    # One line is most of the message: keep what fits of it rather than almost nothing.
                    kept.append((marker, _clip_spans(inline, room - used - 1 - len(marker))))
                break
            kept.append((marker, inline))
            used += size
        return Message.from_lines([*kept, ("", (Text("…"),))])

    @classmethod
    def from_lines(cls, lines: Iterable[tuple[str, Inline]]) -> Message:
        """The inverse of `lines`: markers back into bullets, numbered items and plain lines."""
        blocks: list[Block] = []
        for marker, inline in lines:
            last = blocks[-1] if blocks else None
            if marker == BULLET:
                if isinstance(last, Bullets):
                    blocks[-1] = Bullets((*last.items, inline))
                else:
                    blocks.append(Bullets((inline,)))
            elif marker:
                n = int(marker.rstrip(". "))
                if isinstance(last, Numbered) and last.start + len(last.items) == n:
                    blocks[-1] = Numbered((*last.items, inline), last.start)
                else:
                    blocks.append(Numbered((inline,), n))
            else:
                blocks.append(Line(inline))
        return cls(tuple(blocks))

    def lines(self) -> list[tuple[str, Inline]]:
        """Every line as (its list marker, its spans): the shape every text renderer walks."""
        out: list[tuple[str, Inline]] = []
        for block in self.blocks:
            if isinstance(block, Line):
                out.append(("", block.spans))
            elif isinstance(block, Bullets):
                out.extend((BULLET, item) for item in block.items)
            else:
                out.extend((f"{n}. ", item) for n, item in enumerate(block.items, start=block.start))
        return out

    def markup(self) -> str:
        return NOTATION.render(self)

    def plain(self) -> str:
        return PLAIN.render(self)

    def __len__(self) -> int:
        return len(self.markup())

    @classmethod
    def parse(cls, text: str) -> Message:
        """Reads the core's light notation: a line starting "• " is a bullet, "N. " a numbered item, *x*
        strong, `x` code, and the core's mention marks a mention."""
        lines: list[tuple[str, Inline]] = []
        for raw in text.split("\n"):
            numbered = _NUMBERED.match(raw)
            marker = BULLET if raw.startswith(BULLET) else numbered.group(0) if numbered else ""
            lines.append((marker, _parse_inline(raw[len(marker):])))
        return cls.from_lines(lines)


_NUMBERED = re.compile(r"(\d{1,3})\. ")
# `code` first (nothing inside it is markup), then *strong* as Slack reads it: at word edges, not empty.
_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|(?<![\w*])\*(?P<strong>\S(?:[^*\n]*\S)?)\*(?![\w*])"
    f"|{MENTION_OPEN}(?P<user>[A-Za-z0-9_.:-]{{1,100}}){MENTION_CLOSE}"
)


def _parse_inline(text: str) -> Inline:
    out: list[Span] = []
    pos = 0
    for found in _INLINE.finditer(text):
        if found.start() > pos:
            out.append(Text(strip_marks(text[pos:found.start()])))
        if found.group("code") is not None:
            out.append(Code(found.group("code")))
        elif found.group("strong") is not None:
            out.append(Strong(strip_marks(found.group("strong"))))
        else:
            out.append(Mention(found.group("user")))
        pos = found.end()
    if pos < len(text):
        out.append(Text(strip_marks(text[pos:])))
    return tuple(out)


@dataclass(frozen=True)
class Style:
    """How one platform writes each kind of span: the one walk over a message's lines that every renderer
    (the notation here, Slack, Discord, the web page) parameterises with its own escaping and wrapping."""

    text: Callable[[str], str]
    strong: Callable[[str], str]
    code: Callable[[str], str]
    mention: Callable[[str], str]

    def span(self, span: Span) -> str:
        if isinstance(span, Strong):
            return self.strong(span.text)
        if isinstance(span, Code):
            return self.code(span.text)
        if isinstance(span, Text):
            return self.text(span.text)
        return self.mention(span.user)

    def inline(self, inline: Inline) -> str:
        return "".join(self.span(s) for s in inline)

    def lines(self, message: Message, marker: Callable[[str], str] = str) -> list[str]:
        """Each line as the platform writes it, its list marker passed through `marker`."""
        return [marker(m) + self.inline(inline) for m, inline in message.lines()]

    def render(self, message: Message, marker: Callable[[str], str] = str) -> str:
        return "\n".join(self.lines(message, marker))


def _same(text: str) -> str:
    return text


NOTATION = Style(text=_same, strong=lambda t: f"*{t}*", code=lambda t: f"`{t}`", mention=mention)
PLAIN = Style(text=_same, strong=_same, code=_same, mention=lambda user: f"@{user}")
_markup = NOTATION.span


def plain(inline: Inline) -> str:
    """The spans' words alone: for logs, audit rows and the reason a failed job stores."""
    return PLAIN.inline(inline)


def _clip_spans(inline: Inline, room: int) -> Inline:
    """As many of the spans as fit in `room` characters of notation, the last one cut short."""
    out: list[Span] = []
    for span in inline:
        size = len(_markup(span))
        if size <= room:
            out.append(span)
            room -= size
            continue
        if isinstance(span, Text | Strong | Code):
            text = span.text[: max(room - (size - len(span.text)), 0)].rstrip()
            if text:
                out.append(type(span)(text))
        break
    return tuple(out)
