"""Redis adapters: event de-duplication, thread context with a TTL, and status wake-ups."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from redis.asyncio import Redis

from core.messages import ThreadRef
from infra.redis_keys import (
    CONTEXT_PREFIX,
    EVENT_PREFIX,
    EVENT_TTL_SECONDS,
    STATUS_CHANNEL,
    THREAD_MARKER_PREFIX,
    THREAD_MARKER_TTL_SECONDS,
    relay_list_key,
    status_channel,
)


class RedisEventGate:
    """SET NX claims an event id; a failed handler releases it so the platform's retry gets through.

    With `pending_seconds`, a claim first lasts only that long and `settle` makes it last `ttl_seconds`
    once the event was handled: a process that dies mid-turn then lets the platform's later retry in
    instead of dropping the event for a day.
    """

    def __init__(self, redis: Redis, ttl_seconds: int = EVENT_TTL_SECONDS, pending_seconds: int | None = None) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self.pending = pending_seconds or ttl_seconds

    async def claim(self, key: str) -> bool:
        return bool(await self.redis.set(EVENT_PREFIX + key, "1", nx=True, ex=self.pending))

    async def settle(self, key: str) -> None:
        if self.pending != self.ttl:
            await self.redis.expire(EVENT_PREFIX + key, self.ttl)

    async def release(self, key: str) -> None:
        await self.redis.delete(EVENT_PREFIX + key)


class RedisContextStore:
    """The context expires after `ttl_seconds`; a lighter marker remembers for much longer that the
    thread is a conversation, so a reply there needs no new mention and the bot can say it started over."""

    def __init__(self, redis: Redis, ttl_seconds: int, remember_seconds: int = THREAD_MARKER_TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self.remember = max(remember_seconds, ttl_seconds)

    @staticmethod
    def _key(thread: ThreadRef) -> str:
        return CONTEXT_PREFIX + thread.key()

    @staticmethod
    def _marker(thread: ThreadRef) -> str:
        return THREAD_MARKER_PREFIX + thread.key()

    async def load(self, thread: ThreadRef) -> dict[str, Any] | None:
        raw = await self.redis.get(self._key(thread))
        return json.loads(raw) if raw else None

    async def save(self, thread: ThreadRef, context: dict[str, Any]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self._key(thread), json.dumps(context, default=str), ex=self.ttl)
            pipe.set(self._marker(thread), "1", ex=self.remember)
            await pipe.execute()

    async def seen(self, thread: ThreadRef) -> bool:
        return bool(await self.redis.exists(self._key(thread)))

    async def known(self, thread: ThreadRef) -> bool:
        return bool(await self.redis.exists(self._marker(thread)))

    async def recall(self, thread: ThreadRef) -> tuple[dict[str, Any] | None, bool]:
        raw, marker = await self.redis.mget(self._key(thread), self._marker(thread))
        return (json.loads(raw) if raw else None), marker is not None


class RedisStatusSignal:
    """Puts the job on the relay's work list and wakes the relays, in one round trip. With its platform, on
    that platform's list and channel: a process that does not show its cards neither wakes for it nor reads
    the job to find out it is not its own."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def publish(self, job_id: str, platform: str = "") -> None:
        # NX: a job already waiting (or backing off after a failure) keeps its place.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(relay_list_key(platform), {job_id: time.time()}, nx=True)
            pipe.publish(status_channel(platform), job_id)
            await pipe.execute()


async def status_wakeups(redis: Redis, platforms: Iterable[str] = ()) -> AsyncIterator[str]:
    """Yields job ids as changes are announced, for jobs of `platforms` and of no known platform; MongoDB stays
    the source of truth."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(STATUS_CHANNEL, *(status_channel(p) for p in platforms))
    try:
        async for item in pubsub.listen():
            if item.get("type") == "message":
                data = item["data"]
                yield data.decode() if isinstance(data, bytes) else str(data)
    finally:
        await pubsub.aclose()
