"""A thread to talk to the real core in, for the multi-turn conversation tests."""

from __future__ import annotations

import itertools
from typing import Any

from bots.runtime import Runtime
from core.job import JobStatus
from core.messages import IncomingMessage, Reply, ThreadRef
from core.request import Request
from core.status_card import StatusCard
from core.texts import MAX_LONG_CHARS, MAX_REPLY_CHARS
from tests.support import eventually

_ids = itertools.count(1)


class SeenCards:
    """The thread's chat client as far as status cards go: what the relay delivered, in order."""

    def __init__(self) -> None:
        self.cards: list[tuple[ThreadRef, StatusCard]] = []

    async def show(self, thread: ThreadRef, card: StatusCard) -> None:
        self.cards.append((thread, card))


class Chat:
    """Says things in one thread as one user and remembers the replies; every reply is length-checked."""

    def __init__(self, runtime: Runtime, thread: str = "t", user: str = "ana", platform: str = "web",
                 workspace: str = "local") -> None:
        self.runtime = runtime
        self.user = user
        self.thread = ThreadRef(platform, workspace, "c1", thread)
        self.last: list[Reply] = []
        if platform not in runtime.relay.sinks:
            runtime.relay.register(platform, SeenCards())

    async def send(self, text: str, *, user: str | None = None, event_id: str | None = None) -> list[Reply]:
        # The user reads the thread before speaking: every card the worker has settled by now is shown to it
        # (a typed `apply` approves the plan last shown).
        await self.runtime.relay.pump()
        message = IncomingMessage(thread=self.thread, user=user or self.user, text=text,
                                  event_id=event_id or f"ev{next(_ids)}")
        self.last = await self.runtime.core.handle_message(message)
        for reply in self.last:
            assert 0 < len(reply.text) <= (MAX_LONG_CHARS if reply.long else MAX_REPLY_CHARS), reply.text
        return self.last

    async def say(self, text: str, **kw: Any) -> str:
        return "\n\n".join(r.text for r in await self.send(text, **kw))

    async def context(self) -> dict[str, Any]:
        return await self.runtime.contexts.load(self.thread) or {}

    async def request(self) -> Request:
        request_id = (await self.context()).get("request_id")
        assert request_id, "no request in this thread"
        request = await self.runtime.requests.get(request_id)
        assert request is not None
        return request

    async def reach(self, status: str, within: float = 20.0) -> Request:
        async def probe() -> Request | None:
            request = await self.request()
            if request.status != status:
                return None
            # A worker moves the request first and writes its job's end just after: wait for both.
            job = await self.runtime.jobs.get(request.latest_job) if request.latest_job else None
            if status in ("awaiting_approval", "applied", "destroyed", "failed") and job and not job.finished:
                return None
            return request

        return await eventually(probe, within=within)

    async def job(self, job_id: str | None = None) -> JobStatus:
        job = await self.runtime.jobs.get(job_id or (await self.request()).latest_job)
        assert job is not None
        return job


def kinds(request: Request) -> dict[str, int]:
    return {c.kind: c.count for c in request.spec.components}
