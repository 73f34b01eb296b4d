"""Port wrappers that count and label what passes through them; behaviour is the wrapped adapter's.

Hooking here rather than inside core/ keeps the metrics out of the conversation and job logic: a turn is
timed around the ChatService, intents are read off the Planner, refusals off the audit log, job phases
off the job store.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from core.chat_service import ChatService
from core.job import TERMINAL, JobStatus, Phase
from core.messages import ActionEvent, IncomingMessage, Reply, ThreadRef
from core.ports import AuditLog, ContextStore, JobStore, Planner, RequestStore, StatusSink
from core.relay import StatusRelay
from core.request import Request
from core.understanding.model import Parsed
from telemetry import logs, metrics


@dataclass
class _Turn:
    intent: str | None = None


_turn: contextvars.ContextVar[_Turn | None] = contextvars.ContextVar("infrabot_turn", default=None)


class ObservedChatService(ChatService):
    """Counts messages by platform and intent, times replies, and labels every log line of a turn.

    It also knows how many turns are in flight, so a stopping process can let them finish.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextlib.asynccontextmanager
    async def _tracked(self) -> AsyncIterator[None]:
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def drain(self, within: float) -> int:
        """Waits up to `within` seconds for turns in flight to finish; returns how many were still running."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)
        return self._in_flight

    async def handle_message(
        self, message: IncomingMessage, received: Callable[[], None] | None = None
    ) -> list[Reply]:
        async with self._tracked():
            return await self._observed_message(message, received)

    async def handle_action(self, action: ActionEvent) -> list[Reply]:
        async with self._tracked():
            return await self._observed_action(action)

    async def _observed_message(
        self, message: IncomingMessage, received: Callable[[], None] | None
    ) -> list[Reply]:
        turn = _Turn()
        token = _turn.set(turn)
        started = time.perf_counter()
        platform = message.thread.platform
        try:
            with logs.scope(thread=message.thread.key(), platform=platform, request_id=None, job_id=None):
                replies = await super().handle_message(message, received)
        finally:
            _turn.reset(token)
        intent = (turn.intent or "none") if replies else "duplicate"
        metrics.MESSAGES.labels(platform, intent).inc()
        if replies:
            metrics.REPLY_SECONDS.labels(platform).observe(time.perf_counter() - started)
        return replies

    async def _observed_action(self, action: ActionEvent) -> list[Reply]:
        started = time.perf_counter()
        platform = action.thread.platform
        request_id = action.request_id.split(":", 1)[0]
        with logs.scope(thread=action.thread.key(), platform=platform, request_id=request_id, job_id=None):
            replies = await super().handle_action(action)
        metrics.ACTIONS.labels(platform, action.action if replies else "duplicate").inc()
        if replies:
            metrics.REPLY_SECONDS.labels(platform).observe(time.perf_counter() - started)
        return replies


class ObservedPlanner:
    """Remembers the first intent understood in the current turn (a turn may parse a second time)."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    def parse(self, text: str) -> Parsed:
        parsed = self.planner.parse(text)
        turn = _turn.get()
        if turn is not None and turn.intent is None:
            turn.intent = parsed.intent
        return parsed


def _labelled(context: dict[str, Any] | None) -> dict[str, Any] | None:
    if context and isinstance(context.get("request_id"), str):
        logs.bind(request_id=context["request_id"])
    return context


class ObservedContexts:
    """A thread's context names the request being discussed: from then on, the turn's lines carry it."""

    def __init__(self, inner: ContextStore) -> None:
        self.inner = inner

    async def load(self, thread: ThreadRef) -> dict[str, Any] | None:
        return _labelled(await self.inner.load(thread))

    async def recall(self, thread: ThreadRef) -> tuple[dict[str, Any] | None, bool]:
        context, known = await self.inner.recall(thread)
        return _labelled(context), known

    async def save(self, thread: ThreadRef, context: dict[str, Any]) -> None:
        await self.inner.save(thread, context)

    async def seen(self, thread: ThreadRef) -> bool:
        return await self.inner.seen(thread)

    async def known(self, thread: ThreadRef) -> bool:
        return await self.inner.known(thread)


class ObservedRequests:
    """Labels the turn with a request as soon as it is created; everything else passes through."""

    def __init__(self, inner: RequestStore) -> None:
        self.inner = inner

    async def create(self, request: Request) -> tuple[Request, bool]:
        stored, created = await self.inner.create(request)
        logs.bind(request_id=stored.id)
        return stored, created

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ObservedAudit:
    """Refusals are audited with their reason; counting them here covers every refusal path."""

    def __init__(self, inner: AuditLog) -> None:
        self.inner = inner

    async def record(self, event: str, **fields: Any) -> None:
        await self.inner.record(event, **fields)
        if event == "refused":
            metrics.REFUSALS.labels(str(fields.get("action", "?")),
                                    metrics.refusal_reason(str(fields.get("reason", "")))).inc()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ObservedJobs:
    """Counts phase changes and times finished jobs; in a worker, labels the job's log lines too."""

    def __init__(self, inner: JobStore, *, label_logs: bool = False) -> None:
        self.inner = inner
        self.label_logs = label_logs

    async def create(self, status: JobStatus) -> bool:
        created = await self.inner.create(status)
        if created:
            metrics.JOBS.labels(status.kind, str(status.phase)).inc()
        return created

    async def get(self, job_id: str) -> JobStatus | None:
        status = await self.inner.get(job_id)
        if status is not None and self.label_logs:
            thread = ThreadRef.from_dict(status.thread)
            logs.bind(job_id=job_id, request_id=status.request_id, thread=thread.key(), platform=thread.platform)
        return status

    async def update(self, job_id: str, **changes: Any) -> JobStatus | None:
        return self._count(await self.inner.update(job_id, **changes), changes)

    async def update_open(self, job_id: str, **changes: Any) -> JobStatus | None:
        return self._count(await self.inner.update_open(job_id, **changes), changes)

    @staticmethod
    def _count(status: JobStatus | None, changes: dict[str, Any]) -> JobStatus | None:
        if status is not None and "phase" in changes:
            phase = Phase(changes["phase"])
            metrics.JOBS.labels(status.kind, str(phase)).inc()
            if phase in TERMINAL and status.started_at and status.finished_at:
                seconds = (status.finished_at - status.started_at).total_seconds()
                metrics.JOB_SECONDS.labels(status.kind, str(phase)).observe(max(seconds, 0.0))
        return status

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ObservedSink:
    """Counts failed card updates and labels the relay's log lines with the card's job."""

    def __init__(self, platform: str, inner: StatusSink) -> None:
        self.platform = platform
        self.inner = inner

    async def show(self, thread: ThreadRef, card: Any) -> None:
        with logs.scope(thread=thread.key(), platform=thread.platform, request_id=card.request_id,
                        job_id=card.job_id):
            try:
                await self.inner.show(thread, card)
            except Exception:
                metrics.RELAY_FAILURES.labels(self.platform).inc()
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ObservedRelay(StatusRelay):
    """Every sink an adapter registers is watched, and every pass timed (its cost must not grow with history)."""

    def register(self, platform: str, sink: StatusSink) -> None:
        super().register(platform, ObservedSink(platform, sink))

    async def pump(self) -> int:
        start = time.perf_counter()
        shown = await super().pump()
        metrics.RELAY_PASS_SECONDS.labels("yes" if shown else "no").observe(time.perf_counter() - start)
        metrics.RELAY_CARDS_SHOWN.inc(shown)
        return shown


class PrometheusObserver:
    """core.observe's events as metrics."""

    def dead_letter(self, platform: str) -> None:
        metrics.RELAY_DEAD_LETTERS.labels(platform).inc()
