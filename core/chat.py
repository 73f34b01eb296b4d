"""The two calls adapters make into the core, and the one the core makes back."""

from __future__ import annotations

from typing import Protocol

from core.cards import StatusCard
from core.messages import ActionEvent, IncomingMessage, Reply, ThreadRef


class ChatCore(Protocol):
    async def handle_message(self, message: IncomingMessage) -> list[Reply]: ...
    async def handle_action(self, action: ActionEvent) -> list[Reply]: ...


class StatusSink(Protocol):
    """Implemented per platform: post the request's card the first time, edit it afterwards."""

    async def show(self, thread: ThreadRef, card: StatusCard) -> None: ...
