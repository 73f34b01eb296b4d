"""Platform-neutral messages flowing between chat adapters and the core."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.markup import MENTION_CLOSE as MENTION_CLOSE
from core.markup import MENTION_OPEN as MENTION_OPEN
from core.markup import Message
from core.markup import mention as mention
from core.markup import strip_marks as strip_marks

# The mention marks live with the message structure (core/markup.py); they are re-exported here for the
# adapters that read incoming text.
_MARKED = re.compile(f"{MENTION_OPEN}([A-Za-z0-9_.:-]{{1,100}}){MENTION_CLOSE}")


def render_text(text: str, escape: Callable[[str], str], render_mention: Callable[[str], str]) -> str:
    """`text` for one platform: everything escaped except the core's own mentions, rendered as mentions."""
    out: list[str] = []
    pos = 0
    for marked in _MARKED.finditer(text):
        out.append(escape(strip_marks(text[pos:marked.start()])))
        out.append(render_mention(marked.group(1)))
        pos = marked.end()
    out.append(escape(strip_marks(text[pos:])))
    return "".join(out)


@dataclass(frozen=True)
class ThreadRef:
    """Where a conversation lives. `workspace` is the Slack team, Discord guild or "local"."""

    platform: str
    workspace: str
    channel: str
    thread: str

    def key(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}:{self.thread}"

    def as_dict(self) -> dict[str, str]:
        return {
            "platform": self.platform,
            "workspace": self.workspace,
            "channel": self.channel,
            "thread": self.thread,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ThreadRef:
        return cls(data["platform"], data["workspace"], data["channel"], data["thread"])


def own_roles(thread: ThreadRef, roles: tuple[str, ...]) -> tuple[str, ...]:
    """The roles (`WORKSPACE/ROLE` ids) that belong to the thread's own workspace.

    A role only means something in the Slack team or Discord guild that defined it, so one from anywhere
    else never reaches the policy, whatever an adapter passed.
    """
    return tuple(r for r in roles if r.startswith(f"{thread.workspace}/") and len(r) > len(thread.workspace) + 1)


class _PlatformEvent:
    """What every event from a platform shares: its thread, roles kept to that thread's workspace, and a key
    made of the platform's own event id, used to drop redeliveries."""

    thread: ThreadRef
    event_id: str
    roles: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", own_roles(self.thread, self.roles))

    def event_key(self) -> str:
        return f"{self.thread.platform}:{self.thread.workspace}:{self.event_id}"


@dataclass(frozen=True)
class IncomingMessage(_PlatformEvent):
    """One user turn. `roles` are the user's roles as `WORKSPACE/ROLE` ids; only those of the thread's
    workspace are kept."""

    thread: ThreadRef
    user: str
    text: str
    event_id: str
    roles: tuple[str, ...] = ()
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "text", strip_marks(self.text))


@dataclass(frozen=True)
class ActionEvent(_PlatformEvent):
    """A button press (Approve/Cancel) on a status card, with the thread it was pressed in."""

    thread: ThreadRef
    user: str
    request_id: str
    action: str
    event_id: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Button:
    action: str
    label: str
    request_id: str
    style: str = "default"


class Reply:
    """What the core answers: a structured `body` (core/markup.py), which each adapter renders for its
    platform. `text` is the body in the core's light notation, for history and logs. A body is always a
    Message, never a string to be read as notation."""

    __slots__ = ("body", "buttons", "ephemeral", "long", "request_id")

    def __init__(self, body: Message, request_id: str | None = None, buttons: list[Button] | None = None,
                 ephemeral: bool = False, long: bool = False) -> None:
        if not isinstance(body, Message):
            raise TypeError(f"a Reply's body is a Message, not {type(body).__name__}")
        self.body = body
        self.request_id = request_id
        self.buttons = list(buttons or [])
        self.ephemeral = ephemeral
        self.long = long

    @property
    def text(self) -> str:
        return self.body.markup()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reply) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self) -> str:
        return f"Reply({self.text!r}, request_id={self.request_id!r}, buttons={self.buttons!r})"


def stored_message(text: str) -> Message:
    """What the core or the worker stored in the core's light notation (a history line, the worker's plan and
    card lines in MongoDB) as a message again: the one place that notation is read back."""
    return Message.parse(text)


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a thread's durable history; `key` makes storing it idempotent."""

    thread: ThreadRef
    role: str
    text: str
    key: str
    meta: dict[str, Any] | None = None
