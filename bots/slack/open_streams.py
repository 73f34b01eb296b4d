"""Reply streams opened for a turn and not yet filled, kept in Redis so that a stream whose process died
mid-turn does not stay empty: any Slack process closes it with an apology (the words themselves are in
MongoDB already: a stream opens only after they are)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis

from bots.slack.places import thread_ref
from bots.slack.replies import ReplySender
from core import texts
from core.messages import Reply, ThreadRef
from infra.redis_keys import OPEN_STREAM_STALE_SECONDS, SLACK_OPEN_STREAMS

log = logging.getLogger("infrabot.slack")

SWEEP_EVERY_SECONDS = 30.0


def _member(thread: ThreadRef, ts: str) -> str:
    return json.dumps([thread.workspace, thread.channel, thread.thread, ts])


class OpenStreams:
    def __init__(
        self, redis: Redis, sender: ReplySender, *, stale_after: float = OPEN_STREAM_STALE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.sender = sender
        self.stale_after = stale_after
        self.clock = clock

    async def opened(self, thread: ThreadRef, ts: str) -> None:
        await self.redis.zadd(SLACK_OPEN_STREAMS, {_member(thread, ts): self.clock()})

    async def filled(self, thread: ThreadRef, ts: str) -> None:
        await self.redis.zrem(SLACK_OPEN_STREAMS, _member(thread, ts))

    async def sweep(self) -> int:
        """Closes the streams left open too long; returns how many this process closed."""
        stale = await self.redis.zrangebyscore(SLACK_OPEN_STREAMS, "-inf", self.clock() - self.stale_after)
        closed = 0
        for raw in stale:
            # Removing is the claim: of two processes sweeping at once, one closes each stream.
            if not await self.redis.zrem(SLACK_OPEN_STREAMS, raw):
                continue
            try:
                workspace, channel, thread_ts, ts = json.loads(raw)
            except (TypeError, ValueError):
                log.warning("slack: dropping an unreadable open-stream entry %r", raw[:100])
                continue
            thread = thread_ref(workspace, channel, thread_ts)
            log.warning("slack: a reply stream in %s was left open by a turn that never ended; closing it",
                        thread.key())
            try:
                await self.sender.fill(thread, ts, Reply(texts.INTERRUPTED))
            except Exception:
                log.warning("slack: could not close the reply stream in %s", thread.key(), exc_info=True)
                continue
            closed += 1
        return closed

    async def run(self, every: float = SWEEP_EVERY_SECONDS) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("slack: sweeping open reply streams failed; trying again later", exc_info=True)
            await asyncio.sleep(every)
