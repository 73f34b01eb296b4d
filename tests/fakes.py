"""In-memory stand-ins for the core's ports (core/ports.py), for pure-logic unit tests only.

Each fake keeps the promise its port makes and nothing more: no expiry, no cross-process races. The
same assertions run against each fake and its real adapter in tests/integration/test_port_contracts.py,
so a fake that drifts from what Redis/MongoDB really do fails there. Store and queue behaviour itself is
tested against the real servers, never against these.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

from core.job import TERMINAL, JobStatus, Phase
from core.messages import ActionEvent, HistoryEntry, IncomingMessage, Reply, ThreadRef
from core.plan import ApplyResult, PlanOutOfDate, PlanResult, ResourceChange, summarize
from core.ports import ProgressFn
from core.request import LIVE, IllegalTransition, Request, Status, check_transition, encode
from core.spec import InfraSpec
from core.status_card import StatusCard
from core.understanding.model import Parsed

_JOB_FIELDS = {f.name for f in fields(JobStatus)}


def _now() -> datetime:
    return datetime.now(UTC)


def _get_path(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """What MongoDB's `$set` does with a dotted path: makes the parents it needs."""
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


class FakeEventGate:
    def __init__(self) -> None:
        self.claimed: dict[str, str] = {}  # key -> "pending" | "settled"

    async def claim(self, key: str) -> bool:
        if key in self.claimed:
            return False
        self.claimed[key] = "pending"
        return True

    async def settle(self, key: str) -> None:
        if key in self.claimed:
            self.claimed[key] = "settled"

    async def release(self, key: str) -> None:
        self.claimed.pop(key, None)


class FakeContextStore:
    def __init__(self) -> None:
        self.contexts: dict[str, str] = {}
        self.threads: set[str] = set()

    async def load(self, thread: ThreadRef) -> dict[str, Any] | None:
        raw = self.contexts.get(thread.key())
        return json.loads(raw) if raw else None

    async def save(self, thread: ThreadRef, context: dict[str, Any]) -> None:
        # Stored as the Redis adapter stores it, so a value JSON can't carry comes back the same way.
        self.contexts[thread.key()] = json.dumps(context, default=str)
        self.threads.add(thread.key())

    async def seen(self, thread: ThreadRef) -> bool:
        return thread.key() in self.contexts

    async def known(self, thread: ThreadRef) -> bool:
        return thread.key() in self.threads

    async def recall(self, thread: ThreadRef) -> tuple[dict[str, Any] | None, bool]:
        return await self.load(thread), await self.known(thread)

    def expire(self, thread: ThreadRef) -> None:
        """The context's TTL ran out; the longer-lived marker that the thread is a conversation stays."""
        self.contexts.pop(thread.key(), None)


class FakeHistory:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def append(
        self, thread: ThreadRef, role: str, text: str, *, key: str, meta: dict[str, Any] | None = None
    ) -> bool:
        if key in self.docs:
            return False
        self.docs[key] = {
            "_id": key, "thread_key": thread.key(), "thread": thread.as_dict(), "role": role, "text": text,
            "ts": _now(), "order": time.time_ns(), "meta": meta or {},
        }
        return True

    async def append_many(self, entries: list[HistoryEntry]) -> None:
        for entry in entries:
            await self.append(entry.thread, entry.role, entry.text, key=entry.key, meta=entry.meta)

    async def list(self, thread: ThreadRef, limit: int = 500) -> list[dict[str, Any]]:
        # Insertion order is the order: one process, one clock.
        return [copy.deepcopy(d) for d in self.docs.values() if d["thread_key"] == thread.key()][:limit]


class FakeRequests:
    """Requests kept as documents, moved with the same compare-and-set rules as MongoRequests."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.event_keys: dict[str, str] = {}
        self.live: dict[str, str] = {}  # stack -> request id

    async def create(self, request: Request) -> tuple[Request, bool]:
        request_id = self.event_keys.setdefault(request.event_key, request.id) if request.event_key else request.id
        created = request_id not in self.docs
        if created:
            fresh = request.model_copy(update={"id": request_id, "latest_job": f"plan-{request_id}-1"})
            self.docs[request_id] = {**fresh.to_doc(), "created_at": _now(), "updated_at": _now()}
        stored = await self.get(request_id)
        assert stored is not None
        return stored, created

    async def get(self, request_id: str) -> Request | None:
        doc = self.docs.get(request_id)
        return Request.from_doc(copy.deepcopy(doc)) if doc else None

    async def update(
        self, request_id: str, changes: dict[str, Any], expect: dict[str, Any] | None = None
    ) -> bool:
        if "status" in changes:
            raise IllegalTransition("the status only changes through transition()")
        return self._set(request_id, changes, expect or {}) is not None

    async def transition(
        self, request_id: str, source: Status, target: Status, changes: dict[str, Any] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> Request | None:
        check_transition(source, target)
        return self._set(request_id, {**(changes or {}), "status": target}, {**(expect or {}), "status": str(source)})

    def _set(self, request_id: str, changes: dict[str, Any], expect: dict[str, Any]) -> Request | None:
        doc = self.docs.get(request_id)
        if doc is None or any(_get_path(doc, k) != encode(v) for k, v in expect.items()):
            return None
        was_live = doc.get("status") in LIVE
        for key, value in changes.items():
            _set_path(doc, key, encode(value))
        doc["updated_at"] = _now()
        if "status" in changes and was_live != (doc["status"] in LIVE):
            if doc["status"] in LIVE:
                self.live[doc["stack"]] = request_id
            elif self.live.get(doc["stack"]) == request_id:
                del self.live[doc["stack"]]
        return Request.from_doc(copy.deepcopy(doc))

    def _all(self, match: Callable[[dict[str, Any]], bool]) -> list[Request]:
        # Dicts keep insertion order, which is creation order here.
        return [Request.from_doc(copy.deepcopy(d)) for d in self.docs.values() if match(d)]

    async def for_user(self, platform: str, workspace: str, user: str) -> list[Request]:
        return self._all(lambda d: d["user_key"] == f"{platform}:{workspace}:{user}")

    async def latest_in_thread(self, thread: ThreadRef) -> Request | None:
        found = self._all(lambda d: d["thread_key"] == thread.key())
        return found[-1] if found else None

    async def live_stack(self, stack: str) -> Request | None:
        request = await self.get(self.live.get(stack, ""))
        return request if request and request.status in LIVE else None

    async def on_stack(self, stack: str, statuses: Collection[Status]) -> list[Request]:
        wanted = {str(s) for s in statuses}
        return self._all(lambda d: d["stack"] == stack and d["status"] in wanted)


class FakeStackOwners:
    def __init__(self) -> None:
        self.owners: dict[str, str] = {}

    async def claim(self, stack: str, owner: str) -> str | None:
        holder = self.owners.setdefault(stack, owner)
        return None if holder == owner else holder


class FakeJobs:
    """Jobs with the relay's bookkeeping; every change bumps the version and flags the job for the relay."""

    def __init__(self, on_change: Callable[[str, str], Awaitable[None]] | None = None) -> None:
        self.jobs: dict[str, JobStatus] = {}
        self.relay: dict[str, dict[str, Any]] = {}
        self.on_change = on_change

    async def create(self, status: JobStatus) -> bool:
        if status.job_id in self.jobs:
            return False
        self.jobs[status.job_id] = replace(copy.deepcopy(status), created_at=status.created_at or _now())
        self.relay[status.job_id] = {"relay_pending": True, "relay_dead": None, "relay_attempts": None}
        if self.on_change:
            await self.on_change(status.job_id, str(status.thread.get("platform", "")))
        return True

    async def get(self, job_id: str) -> JobStatus | None:
        job = self.jobs.get(job_id)
        return copy.deepcopy(job) if job else None

    async def update(self, job_id: str, **changes: Any) -> JobStatus | None:
        return await self._update(job_id, changes, only_open=False)

    async def update_open(self, job_id: str, **changes: Any) -> JobStatus | None:
        return await self._update(job_id, changes, only_open=True)

    async def _update(self, job_id: str, changes: dict[str, Any], *, only_open: bool) -> JobStatus | None:
        job = self.jobs.get(job_id)
        if job is None or (only_open and job.phase in TERMINAL):
            return None
        known = {k: Phase(v) if k == "phase" else v for k, v in changes.items() if k in _JOB_FIELDS}
        self.jobs[job_id] = job = replace(job, **known, version=job.version + 1)
        self.relay[job_id]["relay_pending"] = True
        if self.on_change:
            await self.on_change(job_id, str(job.thread.get("platform", "")))
        return copy.deepcopy(job)

    async def unrelayed(self, platforms: list[str], limit: int = 100) -> list[JobStatus]:
        return [copy.deepcopy(j) for j in self.jobs.values()
                if self.relay[j.job_id]["relay_pending"] and j.thread.get("platform") in platforms][:limit]

    async def mark_relayed(self, job_id: str, version: int) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.version == version:
            self.jobs[job_id] = replace(job, relayed_version=version)
            self.relay[job_id].update(relay_pending=False, relay_attempts=0)

    async def relay_state(self, job_id: str) -> tuple[JobStatus, dict[str, Any]] | None:
        job = self.jobs.get(job_id)
        return (copy.deepcopy(job), dict(self.relay[job_id])) if job else None

    async def pending_relay(self) -> list[tuple[str, str]]:
        return [(j.job_id, str(j.thread.get("platform", ""))) for j in self.jobs.values()
                if self.relay[j.job_id]["relay_pending"]]

    async def relay_failed(self, job_id: str, version: int) -> int:
        job = self.jobs.get(job_id)
        if job is None or job.version != version:
            return 0
        self.relay[job_id]["relay_attempts"] = (self.relay[job_id]["relay_attempts"] or 0) + 1
        return int(self.relay[job_id]["relay_attempts"])

    async def dead_letter(self, job_id: str, reason: str, version: int) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.version != version or not self.relay[job_id]["relay_pending"]:
            return False
        self.relay[job_id].update(relay_pending=False, relay_dead={"reason": reason[:500], "at": _now()})
        return True


class FakeRelayWork:
    """The work list as RedisRelayWork keeps it: scored by when an id may be claimed, leased while claimed."""

    def __init__(self, lease_seconds: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.lease = lease_seconds
        self.clock = clock
        self.new: dict[str, float] = {}
        self.by_platform: dict[str, dict[str, float]] = {}
        self.inflight: dict[str, float] = {}
        self.is_synced = False

    async def mark(self, job_id: str, platform: str = "") -> None:
        (self.by_platform.setdefault(platform, {}) if platform else self.new).setdefault(job_id, self.clock())

    async def claim(self, platforms: list[str], limit: int) -> list[str]:
        now = self.clock()
        for job_id, until in list(self.inflight.items()):
            if until <= now:  # its claimer died: claimable again
                del self.inflight[job_id]
                self.new[job_id] = min(self.new.get(job_id, now), now)
        out: list[str] = []
        for waiting in [*(self.by_platform.get(p, {}) for p in platforms), self.new]:
            # Redis orders equal scores by member.
            for job_id, at in sorted(waiting.items(), key=lambda item: (item[1], item[0])):
                if len(out) >= limit:
                    break
                if at <= now and job_id not in out:
                    for lists in [self.new, *self.by_platform.values()]:
                        lists.pop(job_id, None)
                    self.inflight[job_id] = now + self.lease
                    out.append(job_id)
        return out

    async def done(self, job_id: str) -> None:
        self.inflight.pop(job_id, None)

    async def later(self, job_id: str, delay: float, platform: str | None = None) -> None:
        self.inflight.pop(job_id, None)
        (self.by_platform.setdefault(platform, {}) if platform else self.new)[job_id] = self.clock() + delay

    async def synced(self) -> bool:
        return self.is_synced

    async def rebuild(self, pending: list[tuple[str, str]]) -> None:
        now = self.clock()
        for job_id, platform in pending:
            (self.by_platform.setdefault(platform, {}) if platform else self.new).setdefault(job_id, now)
        self.is_synced = True


class FakeAudit:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def record(self, event: str, *, once: str | None = None, **fields_: Any) -> None:
        if once is not None and any(r.get("_id") == once for r in self.records):
            return
        self.records.append({"event": event, "ts": _now(), **fields_, **({"_id": once} if once else {})})

    async def list(self, **query: Any) -> list[dict[str, Any]]:
        return [r for r in self.records if all(r.get(k) == v for k, v in query.items())]


class FakeQueue:
    """Like arq with `_job_id`: one job per id, however often it is enqueued."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, str]] = []

    async def enqueue(self, task: str, job_id: str) -> bool:
        if any(queued == job_id for _, queued in self.jobs):
            return False
        self.jobs.append((task, job_id))
        return True


class FakeStatusSignal:
    """Puts the job on the relay's work list, as RedisStatusSignal does on the shared Redis."""

    def __init__(self, work: FakeRelayWork) -> None:
        self.work = work
        self.published: list[str] = []

    async def publish(self, job_id: str, platform: str = "") -> None:
        await self.work.mark(job_id, platform)
        self.published.append(job_id)


class FakeCardRefs:
    def __init__(self) -> None:
        self.cards: dict[str, dict[str, Any]] = {}

    async def get(self, request_id: str, platform: str) -> dict[str, Any] | None:
        card = self.cards.get(f"{platform}:{request_id}")
        return copy.deepcopy(card.get("ref")) if card else None

    async def state(self, request_id: str, platform: str) -> dict[str, Any] | None:
        card = self.cards.get(f"{platform}:{request_id}")
        return {"_id": f"{platform}:{request_id}", **copy.deepcopy(card)} if card else None

    async def begin_post(self, request_id: str, platform: str) -> None:
        card = self.cards.setdefault(f"{platform}:{request_id}", {})
        card.update(posting=_now(), updated_at=_now())

    async def put(
        self, request_id: str, platform: str, ref: dict[str, Any], *, job_started: float = 0.0, version: int = -1
    ) -> bool:
        shown = self.cards.get(f"{platform}:{request_id}", {})
        if "version" in shown and (shown["job_started"], shown["version"]) >= (job_started, version):
            return False
        self.cards[f"{platform}:{request_id}"] = {
            "ref": copy.deepcopy(ref), "job_started": job_started, "version": version, "updated_at": _now()
        }
        return True


def _ops(changes: list[ResourceChange]) -> list[tuple[str, str, str]]:
    return sorted((c.type, c.name, c.op) for c in changes)


class FakeEngine:
    """One resource per component; applies an approved plan only while it is still what applying would do."""

    name = "fake"
    simulated = True

    def __init__(self) -> None:
        self.built: dict[str, list[str]] = {}  # stack -> names of what exists

    def _changes(self, spec: InfraSpec) -> list[ResourceChange]:
        existing = self.built.get(spec.stack_name, [])
        wanted = [f"{spec.stack_name}-{c.kind}-{n}" for c in spec.components for n in range(c.count)]
        changes = [ResourceChange(type=f"fake:{name.split('-')[-2]}", name=name,
                                  op="same" if name in existing else "create") for name in wanted]
        return changes + [ResourceChange(type=f"fake:{name.split('-')[-2]}", name=name, op="delete")
                          for name in existing if name not in wanted]

    def _base(self, spec: InfraSpec) -> str:
        return json.dumps({"base_state": sorted(self.built.get(spec.stack_name, []))})

    async def preview(self, spec: InfraSpec, progress: ProgressFn) -> PlanResult:
        changes = self._changes(spec)
        await progress(1, 1, "previewed")
        return PlanResult(engine=self.name, resources=changes, summary=summarize(changes), simulated=True,
                          spec_fingerprint=spec.fingerprint(), artifact=self._base(spec))

    async def apply(
        self, spec: InfraSpec, progress: ProgressFn, approved: PlanResult | None = None
    ) -> ApplyResult:
        changes = self._changes(spec)
        if approved is not None and (
            approved.engine != self.name or approved.spec_fingerprint != spec.fingerprint()
            or approved.artifact != self._base(spec) or _ops(approved.resources) != _ops(changes)
        ):
            raise PlanOutOfDate(f"the approved plan for {spec.stack_name} is not what applying would do now")
        self.built[spec.stack_name] = [c.name for c in changes if c.op != "delete"]
        await progress(len(changes), len(changes), "applied")
        return ApplyResult(engine=self.name, summary=summarize(changes), simulated=True)

    async def destroy(self, spec: InfraSpec, progress: ProgressFn) -> ApplyResult:
        gone = [ResourceChange(type=f"fake:{name.split('-')[-2]}", name=name, op="delete")
                for name in self.built.pop(spec.stack_name, [])]
        await progress(len(gone), len(gone), "destroyed")
        return ApplyResult(engine=self.name, summary=summarize(gone), simulated=True, removed=gone)


class FakeChatCore:
    """Records what an adapter hands the core and answers with the replies queued for it."""

    def __init__(self, replies: list[Reply] | None = None) -> None:
        self.messages: list[IncomingMessage] = []
        self.actions: list[ActionEvent] = []
        self.replies = list(replies or [])

    async def handle_message(
        self, message: IncomingMessage, received: Callable[[], None] | None = None
    ) -> list[Reply]:
        self.messages.append(message)
        if received is not None and self.replies:
            received()
        return list(self.replies)

    async def handle_action(self, action: ActionEvent) -> list[Reply]:
        self.actions.append(action)
        return list(self.replies)


class FakeStatusSink:
    """Keeps every card shown, per thread, in order."""

    def __init__(self) -> None:
        self.shown: list[tuple[ThreadRef, StatusCard]] = []

    async def show(self, thread: ThreadRef, card: StatusCard) -> None:
        self.shown.append((thread, card))


class FakeObserver:
    def __init__(self) -> None:
        self.dead_letters: list[str] = []

    def dead_letter(self, platform: str) -> None:
        self.dead_letters.append(platform)


class FakePlanner:
    """Answers each text with the parse given for it, and `unknown` otherwise."""

    def __init__(self, answers: dict[str, Parsed] | None = None) -> None:
        self.answers = dict(answers or {})

    def parse(self, text: str) -> Parsed:
        return self.answers.get(text, Parsed())


class FakeChatCompletion:
    """A chat-completions endpoint that returns its canned answer and keeps the prompts it was sent."""

    def __init__(self, answer: str = "{}") -> None:
        self.answer = answer
        self.sent: list[list[dict[str, str]]] = []

    async def complete(self, messages: list[dict[str, str]]) -> str:
        self.sent.append(messages)
        return self.answer
