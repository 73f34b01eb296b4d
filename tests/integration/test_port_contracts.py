"""One contract per port of core/ports.py, run on the fake in tests/fakes.py and on the real adapter.

The real side uses the adapters the runtime builds, on the real redis-server and FerretDB of conftest.py;
the fake side needs no server. A fake that stops behaving like its adapter fails here, so unit tests
written against the fakes keep meaning what they say.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bots.runtime import Runtime
from core.job import JobStatus, Phase
from core.messages import HistoryEntry, ThreadRef
from core.plan import PlanOutOfDate
from core.request import TRANSITIONS, IllegalTransition, Request, Status, new_request_id
from core.spec import Component, InfraSpec
from infra.offline import OfflineEngine
from infra.state import FileStateStore
from jobs.stores.mongo import MongoStackOwners
from jobs.stores.queue import ArqQueue
from jobs.stores.redis_state import RedisEventGate, RedisStatusSignal
from jobs.stores.relay_work import RedisRelayWork
from tests import fakes

THREAD = ThreadRef("slack", "T1", "C1", "100.1")
OTHER = ThreadRef("slack", "T1", "C1", "200.2")


@pytest.fixture(params=["fake", "real"])
def side(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def real(side: str, request: pytest.FixtureRequest) -> Runtime | None:
    """The runtime's adapters on the real servers, only for the real side (the fake side starts none)."""
    return request.getfixturevalue("runtime") if side == "real" else None  # type: ignore[no-any-return]


async def _noop(done: int, total: int, message: str) -> None:
    return None


def _request(event_key: str = "", thread: ThreadRef = THREAD, app: str = "shop") -> Request:
    spec = InfraSpec(app=app, components=[Component(kind="postgres")])
    return Request.new(new_request_id(), thread, "U1", "a postgres for shop", event_key, spec)


def moves(source: Status, target: Status) -> list[tuple[Status, Status]]:
    """The shortest chain of allowed moves from `source` to `target`, read from the lifecycle table."""
    paths: dict[Status, list[tuple[Status, Status]]] = {source: []}
    todo = [source]
    while todo:
        here = todo.pop(0)
        for nxt in sorted(TRANSITIONS[here]):
            if nxt not in paths:
                paths[nxt] = [*paths[here], (here, nxt)]
                todo.append(nxt)
    return paths[target]


def _job(job_id: str, platform: str = "slack") -> JobStatus:
    thread = ThreadRef(platform, "T1", "C1", "1.1").as_dict()
    return JobStatus(job_id=job_id, kind="plan", request_id="r1", thread=thread, phase=Phase.QUEUED, version=1)


async def test_event_gate(real: Runtime | None) -> None:
    gate = RedisEventGate(real.redis, pending_seconds=60) if real else fakes.FakeEventGate()
    assert await gate.claim("e1") and not await gate.claim("e1")
    assert await gate.claim("e2")
    await gate.release("e1")  # a failed turn lets the platform's retry through
    assert await gate.claim("e1")
    await gate.settle("e1")
    assert not await gate.claim("e1")


async def test_context_store(real: Runtime | None) -> None:
    store = real.contexts if real else fakes.FakeContextStore()
    assert await store.load(THREAD) is None
    assert not await store.seen(THREAD) and not await store.known(THREAD)
    when = datetime(2026, 1, 2, 3, 4, 5)
    await store.save(THREAD, {"draft": {"app": "shop"}, "at": when})
    assert await store.load(THREAD) == {"draft": {"app": "shop"}, "at": str(when)}
    assert await store.seen(THREAD) and await store.known(THREAD)
    assert await store.load(OTHER) is None and not await store.known(OTHER)
    assert await store.recall(THREAD) == ({"draft": {"app": "shop"}, "at": str(when)}, True)
    assert await store.recall(OTHER) == (None, False)
    # The context's TTL runs out long before the marker that the thread is a conversation.
    if real:
        await real.redis.delete(real.contexts._key(THREAD))
    else:
        store.expire(THREAD)  # type: ignore[attr-defined]
    assert await store.recall(THREAD) == (None, True)


async def test_history_store(real: Runtime | None) -> None:
    history = real.history if real else fakes.FakeHistory()
    assert await history.append(THREAD, "user", "hello", key="k1", meta={"user": "U1"})
    assert not await history.append(THREAD, "user", "hello again", key="k1")
    await history.append_many([
        HistoryEntry(THREAD, "user", "a duplicate", "k1"),
        HistoryEntry(THREAD, "bot", "hi", "k2"),
        HistoryEntry(OTHER, "user", "elsewhere", "k3"),
    ])
    await history.append_many([])
    lines = await history.list(THREAD)
    assert [(d["_id"], d["role"], d["text"]) for d in lines] == [("k1", "user", "hello"), ("k2", "bot", "hi")]
    assert lines[0]["meta"] == {"user": "U1"} and lines[1]["meta"] == {}
    assert [d["text"] for d in await history.list(THREAD, limit=1)] == ["hello"]


async def test_request_store_creates_once_per_event(real: Runtime | None) -> None:
    requests = real.requests if real else fakes.FakeRequests()
    first, created = await requests.create(_request("ev1"))
    again, created_again = await requests.create(_request("ev1"))
    assert created and not created_again
    assert again.id == first.id and first.status == Status.PLANNING and first.latest_job == f"plan-{first.id}-1"
    assert first.created_at is not None
    assert (await requests.get(first.id)) == first
    assert await requests.get("r-missing") is None


async def test_request_store_moves_by_compare_and_set(real: Runtime | None) -> None:
    requests = real.requests if real else fakes.FakeRequests()
    request, _ = await requests.create(_request())
    moved = await requests.transition(request.id, Status.PLANNING, Status.AWAITING_APPROVAL, {"error": "none"})
    assert moved is not None and moved.status == Status.AWAITING_APPROVAL and moved.error == "none"
    # The loser of a race (still thinking it is planning) changes nothing.
    assert await requests.transition(request.id, Status.PLANNING, Status.FAILED) is None
    with pytest.raises(IllegalTransition):
        await requests.transition(request.id, Status.AWAITING_APPROVAL, Status.APPLIED)
    with pytest.raises(IllegalTransition):
        await requests.update(request.id, {"status": Status.APPLIED})
    assert not await requests.update(request.id, {"error": "x"}, expect={"revision": 7})
    assert await requests.update(request.id, {"error": "y", "outputs": {"url": "u"}}, expect={"revision": 1})
    assert not await requests.update(request.id, {"error": "z"}, expect={"plan.hash": "abc"})
    stored = await requests.get(request.id)
    assert stored is not None and (stored.status, stored.error, stored.outputs) == (
        Status.AWAITING_APPROVAL, "y", {"url": "u"})
    assert await requests.transition("r-missing", Status.PLANNING, Status.FAILED) is None


async def test_request_store_queries(real: Runtime | None) -> None:
    requests = real.requests if real else fakes.FakeRequests()
    older, _ = await requests.create(_request())
    await asyncio.sleep(0.01)  # created_at (milliseconds in MongoDB) orders them on the real side
    newer, _ = await requests.create(_request())
    await asyncio.sleep(0.01)
    elsewhere, _ = await requests.create(_request(thread=OTHER, app="blog"))
    assert [r.id for r in await requests.for_user("slack", "T1", "U1")] == [older.id, newer.id, elsewhere.id]
    assert await requests.for_user("slack", "T2", "U1") == []
    latest = await requests.latest_in_thread(THREAD)
    assert latest is not None and latest.id == newer.id
    assert await requests.live_stack("shop-dev") is None
    for source, target in moves(Status.PLANNING, Status.APPLIED):
        assert await requests.transition(newer.id, source, target) is not None
    live = await requests.live_stack("shop-dev")
    assert live is not None and live.id == newer.id
    assert [r.id for r in await requests.on_stack("shop-dev", [Status.PLANNING])] == [older.id]
    assert [r.id for r in await requests.on_stack("shop-dev", [Status.PLANNING, Status.APPLIED])] == [
        older.id, newer.id]
    for source, target in moves(Status.APPLIED, Status.DESTROYED):
        assert await requests.transition(newer.id, source, target) is not None
    assert await requests.live_stack("shop-dev") is None


async def test_stack_owners(real: Runtime | None) -> None:
    owners = MongoStackOwners(real.db) if real else fakes.FakeStackOwners()
    assert await owners.claim("shop-dev", "slack:T1") is None
    assert await owners.claim("shop-dev", "slack:T1") is None
    assert await owners.claim("shop-dev", "slack:T2") == "slack:T1"
    assert await owners.claim("blog-dev", "slack:T2") is None


async def test_job_store(real: Runtime | None) -> None:
    jobs = real.jobs if real else fakes.FakeJobs()
    assert await jobs.create(_job("j1")) and not await jobs.create(_job("j1"))
    assert await jobs.create(_job("j2", platform="discord"))
    assert await jobs.get("j-missing") is None and await jobs.update("j-missing", message="x") is None
    running = await jobs.update("j1", phase=Phase.RUNNING, done=1, total=3, message="planning")
    assert running is not None and (running.phase, running.version, running.done) == (Phase.RUNNING, 2, 1)
    assert [j.job_id for j in await jobs.unrelayed(["slack"])] == ["j1"]
    assert sorted(await jobs.pending_relay()) == [("j1", "slack"), ("j2", "discord")]
    await jobs.mark_relayed("j1", 1)  # an older version was shown: still behind
    assert [j.job_id for j in await jobs.unrelayed(["slack"])] == ["j1"]
    await jobs.mark_relayed("j1", 2)
    assert await jobs.unrelayed(["slack"]) == []
    state = await jobs.relay_state("j1")
    assert state is not None and state[0].relayed_version == 2 and state[1]["relay_pending"] is False
    done = await jobs.update_open("j1", phase=Phase.SUCCEEDED)
    assert done is not None and done.finished and done.version == 3
    # A finished job stays as it ended.
    assert await jobs.update_open("j1", phase=Phase.CANCELLED) is None
    assert (await jobs.get("j1")).phase == Phase.SUCCEEDED  # type: ignore[union-attr]
    assert await jobs.relay_failed("j2", 1) == 1 and await jobs.relay_failed("j2", 1) == 2
    assert await jobs.relay_failed("j2", 0) == 0, "a version the job moved past is not counted"
    assert not await jobs.dead_letter("j2", "stale", 0), "nor given up on"
    assert await jobs.dead_letter("j2", "no such channel", 1)
    assert not await jobs.dead_letter("j2", "again", 1), "given up once"
    dead = await jobs.relay_state("j2")
    assert dead is not None and dead[1]["relay_pending"] is False
    assert dead[1]["relay_dead"]["reason"] == "no such channel"
    assert sorted(await jobs.pending_relay()) == [("j1", "slack")]


async def test_relay_work(real: Runtime | None) -> None:
    # Long enough that a loaded machine never lets a lease lapse between two lines; the fake's clock is moved.
    lease = 2.0
    clock = [1000.0]
    if real:
        work: Any = RedisRelayWork(real.redis, lease_seconds=lease)
    else:
        work = fakes.FakeRelayWork(lease_seconds=lease, clock=lambda: clock[0])
    assert not await work.synced()
    await work.mark("j1")
    await work.mark("j1")
    assert await work.claim(["slack"], 10) == ["j1"]
    assert await work.claim(["slack"], 10) == []  # leased to the first claimer
    await work.later("j1", 0, platform="slack")
    assert await work.claim(["discord"], 10) == []  # waiting for a slack relay now
    assert await work.claim(["slack"], 10) == ["j1"]
    await work.done("j1")
    await work.later("j2", 60)
    assert await work.claim(["slack"], 10) == []  # backing off
    await work.rebuild([("j3", "slack"), ("j4", "discord"), ("j5", "")])
    assert await work.synced()
    assert sorted(await work.claim(["slack"], 10)) == ["j3", "j5"]
    assert await work.claim(["discord"], 10) == ["j4"]
    # A claimer that dies without `done`: its lease runs out and the job comes back.
    if real:
        await asyncio.sleep(lease + 0.1)
    else:
        clock[0] += lease + 0.1
    assert await work.claim(["slack"], 2) == ["j3", "j4"]  # equal scores: in id order
    assert await work.claim(["slack"], 2) == ["j5"]
    # Marked with its platform: only that platform's relays ever see it.
    await work.mark("j6", "slack")
    assert await work.claim(["web", "discord"], 10) == []
    assert await work.claim(["slack"], 10) == ["j6"]


async def test_audit_log(real: Runtime | None) -> None:
    audit: Any = real.audit if real else fakes.FakeAudit()
    await audit.record("approved", once="approved:r1", request_id="r1")
    await audit.record("approved", once="approved:r1", request_id="r1", user="late")
    await audit.record("refused", request_id="r1")
    await audit.record("refused", request_id="r1")
    approved = await audit.list(event="approved")
    assert len(approved) == 1 and "user" not in approved[0]
    assert len(await audit.list(event="refused", request_id="r1")) == 2


async def test_job_queue(real: Runtime | None) -> None:
    queue = ArqQueue(real.arq) if real else fakes.FakeQueue()
    job_id = f"plan-{uuid.uuid4().hex}-1"
    assert await queue.enqueue("plan_job", job_id)
    assert not await queue.enqueue("plan_job", job_id)
    assert await queue.enqueue("plan_job", f"{job_id}x")


async def test_status_signal_puts_the_job_on_the_relay_work_list(real: Runtime | None) -> None:
    if real:
        work: Any = RedisRelayWork(real.redis)
        signal: Any = RedisStatusSignal(real.redis)
    else:
        work = fakes.FakeRelayWork()
        signal = fakes.FakeStatusSignal(work)
    await signal.publish("j1")
    await signal.publish("j1")
    assert await work.claim(["slack"], 10) == ["j1"]
    # A job whose platform the signal knows waits for that platform's relays alone.
    await signal.publish("j2", "slack")
    assert await work.claim(["web"], 10) == []
    assert await work.claim(["slack"], 10) == ["j2"]
    # A card that failed backs off, news or not: a stream of progress must not spend its attempts in a second.
    await work.later("j2", 60, "slack")
    await signal.publish("j2", "slack")
    assert await work.claim(["slack"], 10) == []


async def test_card_ref_store(real: Runtime | None) -> None:
    cards = real.cards if real else fakes.FakeCardRefs()
    assert await cards.get("r1", "slack") is None and await cards.state("r1", "slack") is None
    await cards.begin_post("r1", "slack")
    posting = await cards.state("r1", "slack")
    assert posting is not None and posting.get("posting") and await cards.get("r1", "slack") is None
    assert await cards.put("r1", "slack", {"channel": "C1", "ts": "1.2"}, job_started=5.0, version=3)
    state = await cards.state("r1", "slack")
    assert state is not None and (state["ref"], state["job_started"], state["version"]) == (
        {"channel": "C1", "ts": "1.2"}, 5.0, 3)
    assert "posting" not in state
    # Never backwards: an older version of the same job, or any version of an older job, changes nothing.
    assert not await cards.put("r1", "slack", {"channel": "C1", "ts": "9.9"}, job_started=5.0, version=2)
    assert not await cards.put("r1", "slack", {"channel": "C1", "ts": "9.9"}, job_started=4.0, version=8)
    assert not await cards.put("r1", "slack", {"channel": "C1", "ts": "9.9"}, job_started=5.0, version=3)
    assert (await cards.state("r1", "slack") or {})["version"] == 3
    assert await cards.put("r1", "slack", {"channel": "C1", "ts": "1.2"}, job_started=6.0, version=1)
    assert await cards.get("r1", "slack") == {"channel": "C1", "ts": "1.2"} and await cards.get("r1", "web") is None


@pytest.mark.parametrize("kind", ["fake", "offline"])
async def test_engine_applies_only_the_plan_it_would_make_now(kind: str, tmp_path: Path) -> None:
    engine: Any = fakes.FakeEngine() if kind == "fake" else OfflineEngine(FileStateStore(tmp_path))
    spec = InfraSpec(app="shop", components=[Component(kind="bucket")])
    first = await engine.preview(spec, _noop)
    assert first.engine == engine.name and first.resources and first.summary["create"] == len(first.resources)
    bigger = spec.model_copy(update={"components": [Component(kind="bucket"), Component(kind="queue")]})
    with pytest.raises(PlanOutOfDate):  # approved for another spec
        await engine.apply(bigger, _noop, approved=first)
    await engine.apply(spec, _noop, approved=first)
    again = await engine.preview(spec, _noop)
    assert not any(again.summary[op] for op in ("create", "update", "replace", "delete"))
    with pytest.raises(PlanOutOfDate):  # the stack moved on since `first` was previewed
        await engine.apply(spec, _noop, approved=first)
    gone = await engine.destroy(spec, _noop)
    assert gone.removed and all(r.op == "delete" for r in gone.removed)
    assert (await engine.preview(spec, _noop)).summary["create"] == len(first.resources)
