"""Wires the chat side: stores, queue, conversation and status relay, for any adapter."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from config.settings import Settings
from core import observe
from core.chat_service import ChatService
from core.policy import Policy
from core.ports import StatusSink
from core.relay import StatusRelay
from core.requests import RequestService
from core.understanding.fallback import LLMFallback
from infra.redis_keys import EVENT_PENDING_SECONDS
from jobs.stores.connections import arq_client, redis_client
from jobs.stores.doc_lock import DocLocks
from jobs.stores.mongo import (
    MongoAudit,
    MongoCardRefs,
    MongoHistory,
    MongoJobs,
    MongoRequests,
    MongoStackOwners,
    connect,
    ensure_indexes,
    filters_are_atomic,
)
from jobs.stores.queue import ArqQueue
from jobs.stores.redis_state import RedisContextStore, RedisEventGate, RedisStatusSignal, status_wakeups
from jobs.stores.relay_work import RedisRelayWork
from telemetry import observed, store_timing

log = logging.getLogger("infrabot.runtime")


Closer = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class AdapterSink:
    """What a chat adapter hands its host: its status sink, and its own clean-up (pending cards, HTTP
    sessions) to run before the stores close."""

    platform: str
    # None when another process shows this platform's cards (SLACK_CARDS=relay).
    sink: StatusSink | None
    closers: tuple[Closer, ...] = ()
    # The adapter's own background loops, started by `Runtime.serve` and cancelled by `Runtime.close`.
    loops: tuple[Callable[[], Awaitable[None]], ...] = ()


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    # Subscriptions wait for messages without a read timeout, so they get a client of their own.
    listener: Redis
    arq: ArqRedis
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    history: MongoHistory
    requests: MongoRequests
    jobs: MongoJobs
    audit: MongoAudit
    cards: MongoCardRefs
    contexts: RedisContextStore
    core: ChatService
    relay: StatusRelay
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Adapters' own clean-up (pending cards, HTTP sessions), run in order before the stores close.
    closers: list[Closer] = field(default_factory=list)
    # Set by the chat commands (bots/cli.py), whose process is this runtime's alone; tests share theirs.
    settle_heap: bool = False
    _relaying: bool = field(default=False, init=False, repr=False)

    def serve(self, *adapters: AdapterSink) -> None:
        """Where a process's adapters join it: each sink to the relay, each clean-up to `close`, then the relay
        starts. The one call that starts it: adapters hand their sink over here (via their host, bots/serve.py)
        and never reach into the runtime themselves."""
        for adapter in adapters:
            self.attach(adapter)
            for loop in adapter.loops:
                self.tasks.append(asyncio.create_task(loop(), name=f"{adapter.platform}-loop"))
        self.start_relay()
        if self.settle_heap:
            freeze_heap()

    def attach(self, adapter: AdapterSink) -> None:
        """Joins one adapter without starting the relay (tests that pump it themselves; `serve` for the rest)."""
        if adapter.sink is not None:
            self.relay.register(adapter.platform, adapter.sink)
        self.closers.extend(adapter.closers)

    def start_relay(self) -> None:
        """Relays status in the background, woken by worker signals. Once per process: a second call (a test
        after `serve`, say) is a no-op, so no card is relayed twice."""
        if self._relaying:
            return
        self._relaying = True
        self.tasks.append(asyncio.create_task(self.relay.run(), name="relay"))
        self.tasks.append(asyncio.create_task(self._listen(), name="status-wakeups"))

    async def _listen(self) -> None:
        while True:
            try:
                async for _ in status_wakeups(self.listener, list(self.relay.sinks)):
                    self.relay.poke()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("status wake-up subscription dropped; reconnecting", exc_info=True)
                await asyncio.sleep(1)

    async def drain(self, within: float) -> int:
        """Lets turns in flight finish (up to `within` s); returns how many were cut off."""
        if isinstance(self.core, observed.ObservedChatService):
            return await self.core.drain(within)
        return 0

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        self._relaying = False
        for closer in self.closers:
            with contextlib.suppress(Exception):
                await closer()
        self.closers.clear()
        await self.arq.aclose()
        await self.redis.aclose()
        await self.listener.aclose()
        await self.mongo.close()


def build_policy(settings: Settings) -> Policy:
    from config.policy import policy_from_settings

    return policy_from_settings(settings)


def llm_fallback(settings: Settings) -> LLMFallback | None:
    """The optional language-model fallback, when LLM_URL is set."""
    if not settings.llm_url:
        return None
    from bots.llm_http import OpenAICompatible

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMFallback(OpenAICompatible(settings.llm_url, settings.llm_model, key))


def freeze_heap() -> None:
    """Moves what start-up made (modules, the adapters, the stores' clients) out of the garbage collector's
    sight. A full collection walks every tracked object, and start-up made most of them: under the Slack
    benchmark at 50 conversations one stopped the chat process for 65 ms mid-run, ahead of every reply then
    due, and about 3 ms once they were frozen."""
    gc.collect()
    gc.freeze()


async def build_runtime(
    settings: Settings, redis_url: str, mongodb_url: str, *, settle_heap: bool = False
) -> Runtime:
    from core.understanding.parser import RuleParser

    store_timing.install()
    redis = redis_client(redis_url)
    arq = arq_client(redis_url)
    mongo, db = connect(mongodb_url, settings.mongodb_db)
    await ensure_indexes(db)
    locks = DocLocks(redis, fence_in_filter=await filters_are_atomic(db))
    work = RedisRelayWork(redis)
    history, requests = MongoHistory(db), MongoRequests(db, locks)
    # A job this process changes (a new plan or apply job, a cancel, a superseded plan) wakes every chat
    # process's relay, its own included, as a worker's change does: listing it alone left its card to the
    # relay's next poll, up to two seconds later.
    jobs = MongoJobs(db, locks, on_change=RedisStatusSignal(redis).publish)
    audit = MongoAudit(db)
    contexts = RedisContextStore(redis, settings.context_ttl_seconds)
    from infra.pricing import estimate_monthly_cost

    observe.install(observed.PrometheusObserver())
    # The core sees its ports through counting wrappers (telemetry/); the runtime keeps the plain adapters.
    seen_requests = observed.ObservedRequests(requests)
    request_service = RequestService(
        seen_requests, observed.ObservedJobs(jobs), ArqQueue(arq), observed.ObservedAudit(audit),
        build_policy(settings), settings.engine, MongoStackOwners(db),
        estimate=estimate_monthly_cost, plan_ttl_seconds=settings.plan_ttl_seconds,
    )
    core = observed.ObservedChatService(
        # Long enough to drop the platform's quick re-sends while a turn runs, short enough that a retry
        # minutes later gets through when the process handling the first delivery died.
        gate=RedisEventGate(redis, pending_seconds=EVENT_PENDING_SECONDS),
        contexts=observed.ObservedContexts(contexts),
        history=history,
        requests=seen_requests,
        request_service=request_service,
        planner=observed.ObservedPlanner(RuleParser()),
        max_chars=settings.max_message_chars,
        fallback=llm_fallback(settings),
    )
    return Runtime(
        settings=settings, redis=redis, listener=redis_client(redis_url, blocking=True), arq=arq, mongo=mongo,
        db=db, history=history, requests=requests,
        jobs=jobs, audit=audit, cards=MongoCardRefs(db, locks), contexts=contexts, core=core,
        relay=observed.ObservedRelay(jobs, requests, work), settle_heap=settle_heap,
    )
