"""Platform-neutral messages flowing between chat adapters and the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


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


@dataclass(frozen=True)
class IncomingMessage:
    """One user turn. `event_id` is the platform's own id, used to drop redeliveries."""

    thread: ThreadRef
    user: str
    text: str
    event_id: str
    roles: tuple[str, ...] = ()
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def event_key(self) -> str:
        return f"{self.thread.platform}:{self.thread.workspace}:{self.event_id}"


@dataclass(frozen=True)
class ActionEvent:
    """A button press (Approve/Cancel) on a status card."""

    thread: ThreadRef
    user: str
    request_id: str
    action: str
    event_id: str
    roles: tuple[str, ...] = ()

    def event_key(self) -> str:
        return f"{self.thread.platform}:{self.thread.workspace}:{self.event_id}"


@dataclass(frozen=True)
class Button:
    action: str
    label: str
    request_id: str
    style: str = "default"


@dataclass
class Reply:
    """What the core answers. Adapters render `text` (light markdown: *bold*, `code`, bullets)."""

    text: str
    request_id: str | None = None
    buttons: list[Button] = field(default_factory=list)
    ephemeral: bool = False
    long: bool = False


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a thread's durable history; `key` makes storing it idempotent."""

    thread: ThreadRef
    role: str
    text: str
    key: str
    meta: dict[str, Any] | None = None
