"""The one status card per request, shared by every chat platform.

A platform supplies only `post`, `edit` and `classify`; this base owns the rest:

- **One card across processes.** Every write happens under a cross-process lock per card. The first post
  records its intent before calling the platform and its reference right after, inside the same lock, so
  a second process waits and then edits that card instead of posting another.
- **Never backwards.** The card record in the store keeps the job and version it shows. A write goes out
  only if its card is newer, so a slower process holding an older version changes nothing. The record is
  itself written compare-and-set: a process that stalled past its lock and finds a newer card recorded when
  it comes back has just edited the card behind that newer one's back, so it says so (`on_overtaken`) and
  the relay shows the request's newest state again.
- **Coalesced.** Edits are paced like a token bucket: a card's first `burst` changes go out at once, and
  after that at most one per `interval` (the long-run rate of one edit per `interval` is what keeps a card
  inside the platform's limit; the burst lets the few changes of a short job show without waiting a
  window each). Progress that has to wait is held, and the newest one goes out when the window ends.
  Settled states (plan ready, done, failed, cancelled) go out at once, before `show` returns,
  and a failure raises, so the relay keeps them pending; they are few per card, and a 429 is retried after
  its Retry-After by the platform client.
- **Gives up cleanly.** An error the platform says no retry can fix raises `CardUndeliverable`, which the
  relay dead-letters. A card whose message is gone is posted again in its thread.
- **Bounded.** Per-card bookkeeping is dropped once a card is final or has been idle for `idle_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypedDict

from core.messages import ThreadRef
from core.ports import CardRefStore
from core.status_card import StatusCard

log = logging.getLogger("infrabot.cards")

SETTLED = frozenset({"awaiting_approval", "succeeded", "failed", "cancelled"})
FINAL = frozenset({"succeeded", "failed", "cancelled"})
CardLock = Callable[[str], AbstractAsyncContextManager[None]]


class Failure(Enum):
    RETRY = "retry"  # may work later: raise, and the relay counts the attempt
    REPOST = "repost"  # the card message is gone or frozen: a fresh card in the same thread carries on
    DEAD = "dead"  # no retry can ever show it (app uninstalled, token revoked, channel gone)


class CardOvertaken(Exception):
    """A newer card was recorded while this one was being written: the platform may show the older one."""


class CardUndeliverable(Exception):
    """The card can never be shown; the relay dead-letters its job instead of retrying."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@asynccontextmanager
async def local_lock(_: str) -> AsyncIterator[None]:
    """For a single process only (tests of one sink); production passes a Redis lock."""
    yield


def order(card: StatusCard) -> tuple[float, int]:
    """Cards of one request compare by their job's creation time, then by that job's version."""
    return (card.job_started, card.version)


def stored_order(record: dict[str, Any] | None) -> tuple[float, int] | None:
    if not record or "version" not in record:
        return None
    return (float(record.get("job_started", 0.0)), int(record["version"]))


@dataclass
class _State:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sent: tuple[float, int] | None = None
    # The generic cell rate algorithm's theoretical arrival time: when the bucket is next full again.
    due: float = float("-inf")
    touched: float = field(default_factory=time.monotonic)
    pending: tuple[ThreadRef, StatusCard] | None = None
    flusher: asyncio.Task[None] | None = None
    final: bool = False

    def idle(self) -> bool:
        return self.pending is None and not self.lock.locked() and (self.flusher is None or self.flusher.done())


class SinkOptions(TypedDict, total=False):
    """How a platform sink paces itself, passed through unchanged by each platform's constructor."""

    lock: CardLock  # one first post per card across processes
    interval: float  # at most one edit per card per this many seconds, in the long run
    burst: int  # this many edits may go out back to back before the interval applies
    idle_seconds: float  # a card untouched this long is forgotten


class CardSink(ABC):
    platform: str

    def __init__(
        self,
        refs: CardRefStore,
        *,
        lock: CardLock = local_lock,
        interval: float = 1.0,
        burst: int = 1,
        idle_seconds: float = 600.0,
    ) -> None:
        self.refs = refs
        self.lock = lock
        self.interval = interval
        self.burst = max(burst, 1)
        self.idle_seconds = idle_seconds
        self._cards: dict[str, _State] = {}
        self._swept = time.monotonic()
        self.on_overtaken: Callable[[str], Awaitable[None]] | None = None

    # What each platform supplies.

    @abstractmethod
    async def post(self, thread: ThreadRef, card: StatusCard) -> dict[str, Any]:
        """Posts a new card in the thread; returns what `edit` needs to find it again."""

    @abstractmethod
    async def edit(self, thread: ThreadRef, ref: dict[str, Any], card: StatusCard) -> None: ...

    @abstractmethod
    def classify(self, exc: Exception) -> Failure: ...

    def error_text(self, exc: Exception) -> str:
        """A short, token-free account of a platform error for logs and the dead-letter record."""
        text = str(exc)
        return text.splitlines()[0][:200] if text else type(exc).__name__

    async def find_posted(self, thread: ThreadRef, request_id: str) -> dict[str, Any] | None:
        """A card posted by a process that died before storing its reference, if the platform can tell."""
        return None

    # The loop.

    async def show(self, thread: ThreadRef, card: StatusCard) -> None:
        now = time.monotonic()
        self._sweep(now)
        state = self._cards.setdefault(card.request_id, _State())
        state.touched = now
        if state.sent is not None and order(card) <= state.sent:
            return
        if state.pending and order(card) < order(state.pending[1]):
            return
        wait = self._wait(state, now)
        if card.phase not in SETTLED and (wait > 0 or (state.flusher and not state.flusher.done())):
            state.pending = (thread, card)
            if state.flusher is None or state.flusher.done():
                state.flusher = asyncio.create_task(self._flush_later(card.request_id, state, max(wait, 0)))
            return
        try:
            await self._write(thread, card, state)
        except CardOvertaken:
            await self._overtaken(card.request_id)
        finally:
            if state.final and state.idle() and self._cards.get(card.request_id) is state:
                del self._cards[card.request_id]

    async def flush(self) -> None:
        """Sends what waits in a coalescing window (at shutdown, and in tests)."""
        for request_id, state in list(self._cards.items()):
            if state.flusher and not state.flusher.done():
                state.flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state.flusher
            if state.pending:
                thread, card = state.pending
                with contextlib.suppress(Exception):
                    await self._write(thread, card, state)
            if state.final and state.idle():
                self._cards.pop(request_id, None)

    close = flush

    def when_overtaken(self, reshow: Callable[[str], Awaitable[None]]) -> None:
        """The relay's way to show a request's newest state again after this process overtook it."""
        self.on_overtaken = reshow

    def tracked(self) -> int:
        return len(self._cards)

    def _sweep(self, now: float) -> None:
        if now - self._swept < self.idle_seconds / 4:
            return
        self._swept = now
        for request_id, state in list(self._cards.items()):
            if now - state.touched > self.idle_seconds and state.idle():
                del self._cards[request_id]

    def _wait(self, state: _State, now: float) -> float:
        """Seconds until the card's next edit may go out; zero or less while its burst lasts."""
        return state.due - (self.burst - 1) * self.interval - now

    async def _flush_later(self, request_id: str, state: _State, delay: float) -> None:
        await asyncio.sleep(delay)
        # A newer state may arrive while one is being written: it waits for the next window, not for the next show.
        while (pending := state.pending) is not None:
            try:
                await self._write(*pending, state)
            except CardOvertaken:
                await self._overtaken(request_id)
                break
            except Exception as exc:
                # Only an intermediate state is lost; the next change or the settled state replaces it.
                log.warning("%s: coalesced card update for %s failed: %s", self.platform, request_id, exc)
                break
            if state.pending is pending:
                state.pending = None
            if state.pending is not None:
                await asyncio.sleep(max(self._wait(state, time.monotonic()), 0))
        if state.final and state.idle() and self._cards.get(request_id) is state:
            del self._cards[request_id]

    async def _write(self, thread: ThreadRef, card: StatusCard, state: _State) -> None:
        async with state.lock:
            if state.sent is not None and order(card) <= state.sent:
                return
            if state.pending and order(state.pending[1]) <= order(card):
                state.pending = None
            async with self.lock(f"card:{self.platform}:{card.request_id}"):
                record = await self.refs.state(card.request_id, self.platform)
                shown = stored_order(record)
                if shown is not None and order(card) <= shown:
                    # Another process already showed this version or a newer one.
                    state.sent = shown
                    return
                ref = (record or {}).get("ref")
                if ref is None and (record or {}).get("posting"):
                    ref = await self.find_posted(thread, card.request_id)
                ref = await self._post_or_edit(thread, card, ref)
                recorded = await self.refs.put(card.request_id, self.platform, ref, job_started=card.job_started,
                                               version=card.version)
            state.sent, state.due = order(card), max(state.due, time.monotonic()) + self.interval
            if not recorded:
                log.error("%s: card for %s was overtaken while this process wrote it (its lock lapsed)",
                          self.platform, card.request_id)
                raise CardOvertaken(card.request_id)
            state.final = card.phase in FINAL

    async def _overtaken(self, request_id: str) -> None:
        if self.on_overtaken is None:
            return
        try:
            await self.on_overtaken(request_id)
        except Exception:
            log.warning("%s: could not show card %s again after it was overtaken", self.platform, request_id,
                        exc_info=True)

    async def _post_or_edit(self, thread: ThreadRef, card: StatusCard, ref: dict[str, Any] | None) -> dict[str, Any]:
        if ref is not None:
            try:
                await self.edit(thread, ref, card)
                return ref
            except Exception as exc:
                failure = self.classify(exc)
                if failure is Failure.DEAD:
                    raise CardUndeliverable(f"{self.platform}: {self.error_text(exc)}") from exc
                if failure is Failure.RETRY:
                    raise
                log.warning("%s: card for %s is gone (%s); posting a new one", self.platform, card.request_id,
                            self.error_text(exc))
        # The intent is stored before the post, so a process that dies between the two leaves a trace
        # a platform that can search its thread uses to adopt the card instead of posting a second one.
        await self.refs.begin_post(card.request_id, self.platform)
        try:
            return await self.post(thread, card)
        except Exception as exc:
            if self.classify(exc) is Failure.RETRY:
                raise
            raise CardUndeliverable(f"{self.platform}: {self.error_text(exc)}") from exc

