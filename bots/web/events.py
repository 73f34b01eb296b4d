"""In-process fan-out of thread updates to the web page's server-sent-event streams."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from typing import Any

from bots.web.render import html
from core.messages import ThreadRef, render_text
from core.ports import HistoryStore
from core.status_card import StatusCard, card_message


def web_text(text: str) -> str:
    """The core's mentions as plain `@name`; the page escapes everything it shows."""
    return render_text(text, str, lambda user: f"@{user}")


class ThreadEvents:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def subscribe(self, thread_key: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=200)
        self._subscribers[thread_key].add(queue)
        return queue

    def unsubscribe(self, thread_key: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers[thread_key].discard(queue)
        if not self._subscribers[thread_key]:
            del self._subscribers[thread_key]

    def publish(self, thread_key: str, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(thread_key, ())):
            if queue.full():
                queue.get_nowait()  # a slow page loses an old update, never the newest
            queue.put_nowait(event)


class WebSink:
    """Status cards for the web chat: one history line per phase, live progress over SSE."""

    def __init__(self, history: HistoryStore, events: ThreadEvents) -> None:
        self.history = history
        self.events = events

    async def show(self, thread: ThreadRef, card: StatusCard) -> None:
        message = card_message(card)
        text = message.markup()
        payload = dataclasses.asdict(card)
        await self.history.append(thread, "status", text, key=f"status:{card.job_id}:{card.phase}",
                                  meta={"card": payload})
        self.events.publish(thread.key(), {"type": "card", "text": web_text(text), "html": html(message),
                                             "card": payload})
