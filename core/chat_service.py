"""The chat pipeline every adapter calls: validate, de-duplicate, remember, understand, answer.

What a turn means is decided in core/router.py; this module owns the order of durable steps around it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core import texts
from core.markup import say
from core.messages import ActionEvent, HistoryEntry, IncomingMessage, Reply, ThreadRef
from core.ports import ContextStore, EventGate, HistoryStore, Planner, RequestStore
from core.requests import Actor, RequestService, where
from core.router import Router
from core.status_card import parse_button_ref
from core.understanding.fallback import LLMFallback

A = TypeVar("A")
B = TypeVar("B")

log = logging.getLogger("infrabot.conversation")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def clean(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


class _NotSaved(Exception):
    """The user's words could not be stored, so the error reply must not claim they were."""


class ChatService:
    def __init__(
        self,
        *,
        gate: EventGate,
        contexts: ContextStore,
        history: HistoryStore,
        requests: RequestStore,
        request_service: RequestService,
        planner: Planner,
        max_chars: int = 4000,
        fallback: LLMFallback | None = None,
    ) -> None:
        self.gate = gate
        self.contexts = contexts
        self.history = history
        self.requests = requests
        self.request_service = request_service
        self.planner = planner
        self.max_chars = max_chars
        self.router = Router(requests, request_service, planner, fallback)
        # Two messages in one thread at once would each load the context and the later save would drop the
        # other's change; turns of a thread take turns within a process (locks vanish when unused).
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def handle_message(
        self, message: IncomingMessage, received: Callable[[], None] | None = None
    ) -> list[Reply]:
        """With `received`, the user's words are stored first and `received` is called as soon as they are
        durable and the event is known to be new, before the turn's own work: an adapter can show an
        answer is on its way (Slack opens its reply stream) without waiting for the whole turn."""
        key = message.event_key()
        lock = self._locks.setdefault(message.thread.key(), asyncio.Lock())
        async with lock:
            # The claim and the thread's context are asked for at once: one wait instead of two on every
            # turn. The context is read under the thread's lock, so it is the one its last turn saved.
            if received is None:
                claim, context = await _together(self.gate.claim(key), self._context(message.thread))
                kept: bool | Exception = False
            else:
                # Storing the words is once per event key, so it can go beside the claim, not after it. Saying
                # they are in needs no context, so the adapter hears it the moment both are done.
                storing = asyncio.ensure_future(_together(self.gate.claim(key), self._keep(self._incoming(message))))
                storing.add_done_callback(_when_stored(received))
                claimed, context = await _together(storing, self._context(message.thread))
                claim, kept = claimed if isinstance(claimed, tuple) else (claimed, claimed)
            if isinstance(claim, BaseException):
                if not isinstance(claim, Exception):
                    raise claim
                # With the gate down a redelivery might get through too; silence would be worse. Answer, and
                # keep the words if the history store still takes them (its insert is once per event anyway).
                log.error("event gate unavailable for %s", key, exc_info=claim)
                try:
                    await self.history.append_many([self._incoming(message)])
                except Exception:
                    log.exception("could not save message %s either", key)
                    return [Reply(texts.NOT_SAVED)]
                return [Reply(texts.ERROR)]
            if not claim:
                log.info("duplicate event dropped: %s", key)
                return []
            if isinstance(kept, Exception):
                log.error("could not save message %s", key, exc_info=kept)
                await self._release(key)
                return [Reply(texts.NOT_SAVED)]
            try:
                return await self._turn(message, context, stored=kept)
            except _NotSaved:
                log.exception("failed to handle event %s and to save it", key)
                await self._release(key)
                return [Reply(texts.NOT_SAVED)]
            except Exception:
                # Releasing lets the platform's own retry through; the user's words are already stored.
                log.exception("failed to handle event %s", key)
                await self._release(key)
                return [Reply(texts.ERROR)]

    async def _context(self, thread: ThreadRef) -> tuple[dict[str, Any] | None, bool]:
        """The thread's context, and whether the thread was a conversation before (its marker outlives it)."""
        return await self.contexts.recall(thread)

    async def _settle(self, key: str) -> None:
        try:
            await self.gate.settle(key)
        except Exception:
            log.warning("could not settle event %s; a late redelivery may be answered again", key, exc_info=True)

    async def _release(self, key: str) -> None:
        try:
            await self.gate.release(key)
        except Exception:
            log.warning("could not release event %s; the platform's retry may be dropped", key, exc_info=True)

    def _incoming(self, message: IncomingMessage) -> HistoryEntry:
        text = clean(message.text)
        return HistoryEntry(message.thread, "user", text[: self.max_chars], f"in:{message.event_key()}",
                            {"user": message.user, "length": len(text)})

    async def handle_action(self, action: ActionEvent) -> list[Reply]:
        key = action.event_key()
        try:
            claimed = await self.gate.claim(key)
        except Exception:
            log.exception("event gate unavailable for %s", key)
            return [Reply(texts.ACTION_ERROR, ephemeral=True)]
        if not claimed:
            log.info("duplicate action dropped: %s", key)
            return []
        actor = Actor(action.thread, action.user, action.roles, key)
        request_id, bound = parse_button_ref(action.request_id)
        try:
            request = await self.requests.get(request_id)
            if request is None:
                log.warning("action %s for unknown request %s", action.action, action.request_id[:40])
                await self.request_service.audit.record("refused", action=action.action, reason="unknown request",
                                             request_ref=action.request_id[:100], **where(actor))
                await self.gate.settle(key)
                return [Reply(say("I can't find that request any more."), ephemeral=True)]
            if action.action == "approve":
                reply = await self.request_service.approve(actor, request, bound)
            elif action.action == "cancel":
                reply = await self.request_service.cancel(actor, request)
            else:
                log.warning("unknown action %r", action.action)
                reply = Reply(say("I don't know that button."), ephemeral=True)
            reply.body = reply.body.fit(texts.MAX_REPLY_CHARS)
            await self.history.append(action.thread, "bot", reply.text, key=f"out:{key}:0",
                                      meta={"action": action.action, "user": action.user})
            await self.gate.settle(key)
            return [reply]
        except Exception:
            log.exception("failed to handle action %s", key)
            await self._release(key)
            return [Reply(texts.ACTION_ERROR, ephemeral=True)]

    async def _keep(self, incoming: HistoryEntry) -> bool:
        await self.history.append_many([incoming])
        return True

    async def _turn(
        self, message: IncomingMessage, context: tuple[dict[str, Any] | None, bool] | BaseException,
        *, stored: bool = False,
    ) -> list[Reply]:
        """Runs under the thread's lock, so the context saved here is the one the thread's next turn loads."""
        thread = message.thread
        text = clean(message.text)
        incoming = self._incoming(message)
        try:
            if not text:
                log.info("empty message in %s", thread.key())
                replies = [Reply(texts.EMPTY)]
            elif len(text) > self.max_chars:
                log.info("oversized message (%d chars) in %s", len(text), thread.key())
                replies = [Reply(texts.too_long(len(text), self.max_chars))]
            else:
                if isinstance(context, BaseException):
                    raise context
                replies, saved_context = await self._understood(message, text, *context)
                # The context, the history and the claim's settling go in parallel (two stores, one wait).
                saved, written, _ = await asyncio.gather(
                    self.contexts.save(thread, saved_context), self._record(incoming, replies, stored=stored),
                    self._settle(message.event_key()), return_exceptions=True,
                )
                if isinstance(written, BaseException):
                    raise written
                if isinstance(saved, BaseException):
                    raise saved
                return replies
        except _NotSaved:
            raise
        except Exception:
            # The user's words are kept even when the turn failed, before the error reply goes out.
            if not stored:
                try:
                    await self.history.append_many([incoming])
                except Exception as exc:
                    raise _NotSaved() from exc
            raise
        await asyncio.gather(self._record(incoming, replies, stored=stored), self._settle(message.event_key()))
        return replies

    async def _record(self, incoming: HistoryEntry, replies: list[Reply], *, stored: bool = False) -> None:
        """One round trip for the message (unless `stored` already) and its replies, and before any reply is
        sent: the words are durable before the bot answers them. Anything the turn itself made durable (a
        request, a job) was written by the turn, before this."""
        lines = [] if stored else [incoming]
        key = incoming.key.removeprefix("in:")
        for i, reply in enumerate(replies):
            reply.body = reply.body.fit(texts.MAX_LONG_CHARS if reply.long else texts.MAX_REPLY_CHARS)
            lines.append(HistoryEntry(incoming.thread, "bot", reply.text, f"out:{key}:{i}",
                                      {"request_id": reply.request_id}))
        try:
            await self.history.append_many(lines)
        except Exception as exc:
            raise _NotSaved() from exc

    async def _understood(
        self, message: IncomingMessage, text: str, loaded: dict[str, Any] | None, known: bool
    ) -> tuple[list[Reply], dict[str, Any]]:
        thread = message.thread
        expired = loaded is None and known
        context = loaded or {}
        replies = []
        if expired:
            log.info("context of %s expired; starting fresh", thread.key())
            replies.append(Reply(texts.EXPIRED))
            await self._recover(thread, context)
        actor = Actor(thread, message.user, message.roles, message.event_key())
        replies.append(await self.router.route(actor, text, context, expired=expired))
        return replies, context

    async def _recover(self, thread: ThreadRef, context: dict[str, Any]) -> None:
        """After the context expired, the thread's latest request is still the one people mean."""
        latest = await self.requests.latest_in_thread(thread)
        if latest:
            context["request_id"] = latest.id


def _when_stored(received: Callable[[], None]) -> Callable[[asyncio.Future[Any]], None]:
    def stored(done: asyncio.Future[Any]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        claim, kept = done.result()
        if kept is True and claim and not isinstance(claim, Exception):
            _tell(received)

    return stored


def _tell(received: Callable[[], None]) -> None:
    # The adapter's hint must never cost the user the turn itself.
    try:
        received()
    except Exception:
        log.exception("the adapter's received hook failed")


async def _together(side: Awaitable[A], main: Awaitable[B]) -> tuple[A | Exception, B | Exception]:
    """Both at once, like gather(return_exceptions=True), except that `main` runs in the calling task: what
    it sets in context variables (the turn's log fields, say) stays with the turn, where a gathered child's
    would be dropped."""
    aside = asyncio.ensure_future(side)
    try:
        try:
            second: B | Exception = await main
        except Exception as exc:
            second = exc
        try:
            first: A | Exception = await aside
        except Exception as exc:
            first = exc
    except BaseException:
        aside.cancel()
        raise
    return first, second
