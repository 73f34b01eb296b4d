"""The Redis and MongoDB adapters against the real servers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from bots.runtime import Runtime
from core.job import JobStatus, Phase
from core.messages import ThreadRef
from core.request import IllegalTransition, Request, Status, StoredPlan
from core.spec import Component, InfraSpec
from jobs.stores.doc_lock import DocLocks
from jobs.stores.mongo import MongoCardRefs, MongoJobs, backfill_live_stacks, ensure_indexes
from jobs.stores.redis_state import RedisContextStore, RedisEventGate

THREAD = ThreadRef("web", "local", "web", "stores")


async def test_event_gate_claims_once_and_release_allows_retry(runtime: Runtime) -> None:
    gate = RedisEventGate(runtime.redis)
    assert await gate.claim("web:local:e1")
    assert not await gate.claim("web:local:e1")
    await gate.release("web:local:e1")
    assert await gate.claim("web:local:e1")


async def test_context_expires_after_ttl_and_each_turn_refreshes_it(runtime: Runtime) -> None:
    store = RedisContextStore(runtime.redis, ttl_seconds=1)
    await store.save(THREAD, {"draft": {"app": "shop"}})
    assert await store.load(THREAD) == {"draft": {"app": "shop"}}
    await asyncio.sleep(0.6)
    await store.save(THREAD, {"draft": {"app": "shop2"}})
    await asyncio.sleep(0.6)
    assert await store.load(THREAD) == {"draft": {"app": "shop2"}}, "a turn must refresh the TTL"
    await asyncio.sleep(1.2)
    assert await store.load(THREAD) is None
    assert not await store.seen(THREAD)
    assert await store.known(THREAD), "the thread stays known as a conversation after its context expired"
    assert not await store.known(ThreadRef("web", "local", "web", "other"))


async def test_history_is_ordered_and_insert_once_per_key(runtime: Runtime) -> None:
    assert await runtime.history.append(THREAD, "user", "first", key="in:1")
    assert await runtime.history.append(THREAD, "bot", "second", key="out:1:0")
    assert not await runtime.history.append(THREAD, "user", "first again", key="in:1")
    docs = await runtime.history.list(THREAD)
    assert [(d["role"], d["text"]) for d in docs] == [("user", "first"), ("bot", "second")]


async def test_job_versions_and_relay_flags(runtime: Runtime) -> None:
    status = JobStatus("plan-x-1", "plan", "x", THREAD.as_dict(), Phase.QUEUED, version=1)
    assert await runtime.jobs.create(status)
    assert not await runtime.jobs.create(status), "a second create of the same job is a no-op"
    updated = await runtime.jobs.update("plan-x-1", phase=Phase.RUNNING, done=1, total=3)
    assert updated is not None and updated.version == 2 and updated.phase == Phase.RUNNING
    pending = await runtime.jobs.unrelayed(["web"])
    assert [s.job_id for s in pending] == ["plan-x-1"]
    assert await runtime.jobs.unrelayed(["slack"]) == []
    await runtime.jobs.mark_relayed("plan-x-1", 1)  # an older version must not clear the flag
    assert [s.job_id for s in await runtime.jobs.unrelayed(["web"])] == ["plan-x-1"]
    await runtime.jobs.mark_relayed("plan-x-1", 2)
    assert await runtime.jobs.unrelayed(["web"]) == []
    events = await runtime.jobs.events("plan-x-1")
    assert [e["phase"] for e in events] == ["queued", "running"]


async def test_audit_is_append_only(runtime: Runtime) -> None:
    await runtime.audit.record("requested", request_id="r1", user="u1")
    await runtime.audit.record("approved", request_id="r1", user="u2", plan_hash="abc")
    rows = await runtime.audit.list(request_id="r1")
    assert [r["event"] for r in rows] == ["requested", "approved"]
    assert not hasattr(runtime.audit, "update") and not hasattr(runtime.audit, "delete")


async def test_concurrent_updates_of_one_job_are_never_lost(runtime: Runtime) -> None:
    # FerretDB rewrites whole documents on update; without the per-document lock most of these vanish.
    status = JobStatus("plan-race-1", "plan", "race", THREAD.as_dict(), Phase.QUEUED, version=1)
    await runtime.jobs.create(status)
    await asyncio.gather(*(runtime.jobs.update("plan-race-1", **{f"f{i}": i}) for i in range(30)))
    doc = await runtime.db.jobs.find_one({"_id": "plan-race-1"})
    assert doc is not None and doc["version"] == 31
    assert all(doc[f"f{i}"] == i for i in range(30))


async def test_conditional_request_update_lets_exactly_one_racer_win(runtime: Runtime) -> None:
    spec = InfraSpec(app="race", components=[Component(kind="bucket")])
    plan = StoredPlan(engine="offline", resources=[], summary={}, hash="h1")
    fresh = Request.new("r-race", ThreadRef("web", "local", "web", "race"), "ana", "x", "race-ev", spec)
    await runtime.db.requests.insert_one(
        fresh.model_copy(update={"status": Status.AWAITING_APPROVAL, "plan": plan}).to_doc())
    results = await asyncio.gather(*(
        runtime.requests.transition("r-race", Status.AWAITING_APPROVAL, Status.APPROVED,
                                    {"approved_plan_hash": f"h1-{n}"}, expect={"plan.hash": "h1"})
        for n in range(10)
    ))
    won = [r for r in results if r is not None]
    assert len(won) == 1
    request = await runtime.requests.get("r-race")
    assert request is not None and request.status == Status.APPROVED
    assert request.approved_plan_hash == f"h1-{results.index(won[0])}"
    assert await runtime.requests.transition("r-race", Status.APPROVED, Status.APPLYING,
                                             expect={"plan.hash": "other"}) is None
    with pytest.raises(IllegalTransition):
        await runtime.requests.transition("r-race", Status.APPROVED, Status.PLANNING)
    with pytest.raises(IllegalTransition):
        await runtime.requests.update("r-race", {"status": "applied"})
    assert (await runtime.requests.get("r-race")).status == Status.APPROVED  # type: ignore[union-attr]


async def test_the_live_stack_is_found_by_key_and_follows_the_request_status(runtime: Runtime) -> None:
    spec = InfraSpec(app="shop", components=[Component(kind="bucket")])
    request, _ = await runtime.requests.create(Request.new("ls1", THREAD, "ana", "x", "ls-ev", spec))
    assert await runtime.requests.live_stack("shop-dev") is None
    moves = [(Status.PLANNING, Status.AWAITING_APPROVAL), (Status.AWAITING_APPROVAL, Status.APPROVED),
             (Status.APPROVED, Status.APPLYING), (Status.APPLYING, Status.APPLIED)]
    for source, target in moves:
        assert await runtime.requests.transition(request.id, source, target)
    live = await runtime.requests.live_stack("shop-dev")
    assert live is not None and live.id == request.id
    await runtime.requests.transition(request.id, Status.APPLIED, Status.DESTROY_REQUESTED)
    assert await runtime.requests.live_stack("shop-dev") is not None
    await runtime.requests.transition(request.id, Status.DESTROY_REQUESTED, Status.DESTROY_APPROVED)
    assert await runtime.requests.live_stack("shop-dev") is not None, "nothing was removed yet"
    await runtime.requests.transition(request.id, Status.DESTROY_APPROVED, Status.DESTROYING)
    await runtime.requests.transition(request.id, Status.DESTROYING, Status.DESTROYED)
    assert await runtime.requests.live_stack("shop-dev") is None


async def test_live_stacks_of_a_store_written_before_the_pointers_are_backfilled(runtime: Runtime) -> None:
    spec = InfraSpec(app="legacy", components=[Component(kind="bucket")])
    old = Request.new("old1", THREAD, "ana", "x", "old-ev", spec).model_copy(update={"status": Status.APPLIED})
    await runtime.db.requests.insert_one(old.to_doc())
    await runtime.db.live_stacks.delete_many({})
    await ensure_indexes(runtime.db)
    live = await runtime.requests.live_stack("legacy-dev")
    assert live is not None and live.id == "old1"


async def test_replicas_starting_together_both_backfill_without_failing(runtime: Runtime) -> None:
    """Two web processes start at once: both find no backfill marker and both write it; neither may crash."""
    spec = InfraSpec(app="twice", components=[Component(kind="bucket")])
    old = Request.new("old2", THREAD, "ana", "x", "old-ev2", spec).model_copy(update={"status": Status.APPLIED})
    await runtime.db.requests.insert_one(old.to_doc())
    for _ in range(5):
        await runtime.db.live_stacks.delete_many({})
        await asyncio.gather(*(backfill_live_stacks(runtime.db) for _ in range(4)))
        live = await runtime.requests.live_stack("twice-dev")
        assert live is not None and live.id == "old2"


async def test_the_latest_request_of_a_thread_is_read_by_key_and_backfilled_for_older_stores(
    runtime: Runtime,
) -> None:
    spec = InfraSpec(app="shop", components=[Component(kind="bucket")])
    await runtime.requests.create(Request.new("tl1", THREAD, "ana", "x", "tl-ev1", spec))
    await asyncio.sleep(0.01)
    second, _ = await runtime.requests.create(Request.new("tl2", THREAD, "ana", "y", "tl-ev2", spec))
    assert await runtime.db.thread_latest.find_one({"_id": THREAD.key()}) == {"_id": THREAD.key(), "request_id": "tl2"}
    latest = await runtime.requests.latest_in_thread(THREAD)
    assert latest is not None and latest.id == second.id
    quiet = ThreadRef("slack", "T1", "C9", "999.1")
    assert await runtime.requests.latest_in_thread(quiet) is None

    # A store written before the pointers existed: the backfill at start-up points each thread at its newest.
    await runtime.db.thread_latest.delete_many({})
    latest = await runtime.requests.latest_in_thread(THREAD)
    assert latest is not None and latest.id == second.id, "without a backfill the thread's requests are searched"
    await ensure_indexes(runtime.db)
    assert await runtime.db.thread_latest.find_one({"_id": THREAD.key()}) == {"_id": THREAD.key(), "request_id": "tl2"}
    assert await runtime.requests.latest_in_thread(quiet) is None


async def test_open_jobs_are_listed_by_key_until_they_finish_and_backfilled_for_older_stores(
    runtime: Runtime,
) -> None:
    jobs = runtime.jobs
    for n in (1, 2, 3):
        assert await jobs.create(JobStatus(f"plan-o{n}-1", "plan", f"o{n}", THREAD.as_dict(), Phase.QUEUED, 1))
    await jobs.update("plan-o1-1", phase=Phase.RUNNING, done=1)
    await jobs.update("plan-o2-1", phase=Phase.AWAITING_APPROVAL)
    assert [s.job_id for s in await jobs.open_jobs()] == ["plan-o1-1", "plan-o3-1"]
    assert await runtime.db.open_jobs.count_documents({"_id": "plan-o2-1"}) == 0, "a finished job leaves the list"

    # A job that finished while its entry stayed (its writer stopped between the two writes) is dropped.
    await runtime.db.jobs.update_one({"_id": "plan-o3-1"}, {"$set": {"phase": "failed"}})
    assert [s.job_id for s in await jobs.open_jobs()] == ["plan-o1-1"]
    assert await runtime.db.open_jobs.count_documents({"_id": "plan-o3-1"}) == 0

    # A store written before the list existed: its open jobs are found once by a search, then by key.
    await runtime.db.open_jobs.delete_many({})
    await runtime.db.jobs.insert_one({"_id": "plan-old-1", "kind": "plan", "request_id": "old", "phase": "queued",
                                      "thread": THREAD.as_dict(), "version": 1})
    assert sorted(s.job_id for s in await jobs.open_jobs()) == ["plan-o1-1", "plan-old-1"]
    assert await runtime.db.open_jobs.count_documents({"_id": {"$in": ["plan-o1-1", "plan-old-1"]}}) == 2


async def test_a_users_and_a_stacks_requests_are_read_from_keyed_lists_and_backfilled_for_older_stores(
    runtime: Runtime,
) -> None:
    """FerretDB answers a `user_key` or `stack` query by scanning every request: both are read by `_id`."""
    spec = InfraSpec(app="kl", components=[Component(kind="bucket")])
    first, _ = await runtime.requests.create(Request.new("kl1", THREAD, "ana", "x", "kl-ev1", spec))
    await asyncio.sleep(0.01)
    second, _ = await runtime.requests.create(Request.new("kl2", THREAD, "ana", "y", "kl-ev2", spec))
    # Stored without going through create(): no list names it, so a query would find it and the lists don't.
    hidden = Request.new("kl3", THREAD, "ana", "z", "kl-ev3", spec).model_copy(update={"status": Status.APPLIED})
    await asyncio.sleep(0.01)
    await runtime.db.requests.insert_one({**hidden.to_doc(), "created_at": datetime.now(UTC)})
    assert [r.id for r in await runtime.requests.for_user("web", "local", "ana")] == [first.id, second.id]
    assert [r.id for r in await runtime.requests.on_stack("kl-dev", [Status.PLANNING])] == [first.id, second.id]
    assert await runtime.requests.on_stack("kl-dev", [Status.APPLIED]) == []
    assert await runtime.requests.for_user("web", "local", "nobody") == []

    # A rename moves a request to another stack: it is found there, and no longer on the old one.
    renamed = InfraSpec(app="kl-new", components=[Component(kind="bucket")])
    assert await runtime.requests.update(second.id, {"spec": renamed, "stack": renamed.stack_name})
    assert [r.id for r in await runtime.requests.on_stack("kl-new-dev", [Status.PLANNING])] == [second.id]
    assert [r.id for r in await runtime.requests.on_stack("kl-dev", [Status.PLANNING])] == [first.id]

    # A store written before the lists: they are built once at start-up, from every stored request.
    await runtime.db.request_lists.delete_many({})
    assert [r.id for r in await runtime.requests.for_user("web", "local", "ana")] == [first.id, second.id, hidden.id]
    await ensure_indexes(runtime.db)
    assert [r.id for r in await runtime.requests.for_user("web", "local", "ana")] == [first.id, second.id, hidden.id]
    assert [r.id for r in await runtime.requests.on_stack("kl-dev", [Status.APPLIED])] == [hidden.id]
    assert await runtime.db.request_lists.find_one({"_id": "user:web:local:ana"}) is not None


async def test_a_users_first_requests_made_at_once_are_all_stored_and_listed(runtime: Runtime) -> None:
    """Several requests at once from a user with no list yet (the chaos run's twelve, from two processes):
    every one is stored and listed, none fails on the race to create the user's list."""
    requests = [Request.new(f"at{n}", ThreadRef("web", "local", "web", f"at{n}"), "ana", "x", f"at-ev{n}",
                            InfraSpec(app=f"at{n}", components=[Component(kind="bucket")])) for n in range(8)]
    for _ in range(2):  # the race is lost only sometimes: two rounds, fresh lists each time
        await runtime.db.request_lists.delete_many({"_id": {"$ne": "__backfilled__"}})
        await runtime.db.requests.delete_many({})
        await runtime.db.request_keys.delete_many({})
        await asyncio.gather(*(runtime.requests.create(r) for r in requests))
        listed = {r.id for r in await runtime.requests.for_user("web", "local", "ana")}
        assert listed == {r.id for r in requests}


async def test_the_relay_and_the_worker_read_jobs_without_their_change_log(runtime: Runtime) -> None:
    """A job's `events` array only grows; the reads made on every card edit and every task step leave it on
    disk (only `events()` reads it)."""
    status = JobStatus("plan-ev-1", "plan", "ev", THREAD.as_dict(), Phase.QUEUED, version=1)
    await runtime.jobs.create(status)
    for n in range(5):
        await runtime.jobs.update("plan-ev-1", phase=Phase.RUNNING if n % 2 else Phase.QUEUED)
    store = MongoJobs(runtime.db, DocLocks(runtime.redis))
    reads: list[dict[str, Any]] = []

    class Watched:
        def __getattr__(self, name: str) -> Any:
            return getattr(runtime.db.jobs, name)

        async def find_one(self, query: dict[str, Any], projection: dict[str, Any] | None = None, **kw: Any) -> Any:
            doc = await runtime.db.jobs.find_one(query, projection, **kw)
            reads.append(doc or {})
            return doc

        def find(self, query: dict[str, Any], projection: dict[str, Any] | None = None, **kw: Any) -> Any:
            included = projection is not None and any(v for k, v in projection.items() if k != "_id")
            reads_events = not projection or bool(projection.get("events", not included))
            reads.append({"events": None} if reads_events else {})
            return runtime.db.jobs.find(query, projection, **kw)

    store.col = Watched()  # type: ignore[assignment]
    assert await store.get("plan-ev-1") is not None
    assert await store.relay_state("plan-ev-1") is not None
    assert [j.job_id for j in await store.unrelayed(["web"])] == ["plan-ev-1"]
    assert [j.job_id for j in await store.open_jobs()] == ["plan-ev-1"]
    assert reads and not any("events" in doc for doc in reads)
    assert len(await store.events("plan-ev-1")) == 6


async def test_a_relayed_version_is_cleared_by_id_and_only_while_it_is_the_newest(runtime: Runtime) -> None:
    status = JobStatus("plan-mr-1", "plan", "mr", THREAD.as_dict(), Phase.QUEUED, version=1)
    await runtime.jobs.create(status)
    await runtime.jobs.update("plan-mr-1", phase=Phase.RUNNING)
    await runtime.jobs.mark_relayed("plan-mr-1", 1)
    found = await runtime.jobs.relay_state("plan-mr-1")
    assert found is not None and found[1]["relay_pending"], "version 2 was not shown yet"
    await runtime.jobs.mark_relayed("plan-mr-1", 2)
    found = await runtime.jobs.relay_state("plan-mr-1")
    assert found is not None and not found[1]["relay_pending"]
    await runtime.jobs.mark_relayed("plan-gone-1", 1)  # a job that is not there: nothing to clear, no error


async def test_the_relay_lag_is_read_from_the_work_list(runtime: Runtime) -> None:
    import time

    from infra.redis_keys import RELAY_NEW
    from jobs.stores.relay_work import RedisRelayWork
    from telemetry import gauges, metrics

    work = RedisRelayWork(runtime.redis)
    assert await work.oldest(["slack"]) is None
    await gauges.refresh_relay(work, ["slack"])
    assert metrics.RELAY_LAG_SECONDS._value.get() == 0.0
    await runtime.redis.zadd(RELAY_NEW, {"plan-lag-1": time.time() - 30})
    await work.mark("plan-lag-2")
    oldest = await work.oldest(["slack"])
    assert oldest is not None and time.time() - oldest >= 30
    await gauges.refresh_relay(work, ["slack"])
    assert metrics.RELAY_LAG_SECONDS._value.get() >= 30
    assert await work.claim(["slack"], 10)
    assert await work.oldest(["slack"]) is None, "a claimed job is being shown, not waiting"


@pytest.mark.parametrize("in_filter", [True, False])
async def test_card_records_and_relay_bookkeeping_never_go_back_either_way_they_are_compared(
    runtime: Runtime, in_filter: bool
) -> None:
    """In the write's filter (MongoDB) or on a read under the lock (FerretDB v1): the same answers."""
    locks = DocLocks(runtime.redis, fence_in_filter=in_filter)
    cards, jobs = MongoCardRefs(runtime.db, locks), MongoJobs(runtime.db, locks)
    assert await cards.put("r", "slack", {"ts": "1"}, job_started=5.0, version=3)
    assert not await cards.put("r", "slack", {"ts": "2"}, job_started=5.0, version=2)
    assert not await cards.put("r", "slack", {"ts": "2"}, job_started=4.0, version=9)
    assert await cards.put("r", "slack", {"ts": "1"}, job_started=6.0, version=1)
    assert await cards.get("r", "slack") == {"ts": "1"}

    await jobs.create(JobStatus("plan-bk-1", "plan", "bk", THREAD.as_dict(), Phase.QUEUED, version=1))
    await jobs.update("plan-bk-1", phase=Phase.RUNNING)  # version 2
    assert await jobs.relay_failed("plan-bk-1", 1) == 0 and await jobs.relay_failed("plan-bk-1", 2) == 1
    assert not await jobs.dead_letter("plan-bk-1", "old", 1)
    await jobs.mark_relayed("plan-bk-1", 1)
    assert (await jobs.relay_state("plan-bk-1"))[1]["relay_pending"]  # type: ignore[index]
    await jobs.mark_relayed("plan-bk-1", 2)
    assert not await jobs.dead_letter("plan-bk-1", "shown already", 2)
    assert (await jobs.relay_state("plan-bk-1"))[0].relayed_version == 2  # type: ignore[index]
