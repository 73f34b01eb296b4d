"""The status relay (core/relay.py) on fakes: each job's newest version reaches its card once, a failing
card backs off and is given up after a few tries, and a job is never shown backwards."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from core.cardsink import CardUndeliverable
from core.job import JobStatus, Phase
from core.messages import ThreadRef
from core.relay import StatusRelay
from core.request import Request, Status, StoredPlan
from core.spec import Component, InfraSpec
from core.status_card import StatusCard
from tests.fakes import FakeJobs, FakeRelayWork, FakeRequests

THREAD = ThreadRef("slack", "T1", "C1", "1.1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sink:
    """Records the cards shown; fails while `failing` says so."""

    def __init__(self) -> None:
        self.cards: list[StatusCard] = []
        self.failing: Exception | None = None

    async def show(self, thread: ThreadRef, card: StatusCard) -> None:
        if self.failing is not None:
            raise self.failing
        self.cards.append(card)


class Relay:
    def __init__(self, max_attempts: int = 3) -> None:
        self.clock = Clock()
        self.work = FakeRelayWork(clock=self.clock)
        self.jobs = FakeJobs(on_change=self.work.mark)
        self.requests = FakeRequests()
        self.sink = Sink()
        self.relay = StatusRelay(self.jobs, self.requests, self.work, max_attempts=max_attempts,
                                 backoff_seconds=1.0)
        self.relay.register("slack", self.sink)

    async def request(self) -> Request:
        spec = InfraSpec(app="shop", components=[Component(kind="bucket")])
        request, _ = await self.requests.create(Request.new("r1", THREAD, "ana", "a bucket", "ev1", spec))
        return request


def plan_job(version: int = 1, platform: str = "slack", job_id: str = "plan-r1-1") -> JobStatus:
    thread = replace(THREAD, platform=platform).as_dict()
    return JobStatus(job_id=job_id, kind="plan", request_id="r1", thread=thread, phase=Phase.QUEUED,
                     version=version, message="Waiting for a worker")


async def test_each_change_reaches_the_card_once() -> None:
    r = Relay()
    await r.request()
    await r.jobs.create(plan_job())
    assert await r.relay.pump() == 1
    await r.jobs.update("plan-r1-1", phase=Phase.RUNNING, message="Planning")
    assert await r.relay.pump() == 1
    assert await r.relay.pump() == 0
    assert [(c.phase, c.version) for c in r.sink.cards] == [("queued", 1), ("running", 2)]
    assert await r.jobs.unrelayed(["slack"]) == []


async def test_a_plan_waiting_for_approval_shows_buttons_bound_to_its_hash_and_records_it_shown() -> None:
    r = Relay()
    request = await r.request()
    plan = StoredPlan(engine="fake", resources=[], summary={}, hash="h1")
    await r.requests.transition(request.id, Status.PLANNING, Status.AWAITING_APPROVAL, {"plan": plan})
    await r.jobs.create(replace(plan_job(), phase=Phase.AWAITING_APPROVAL, plan_hash="h1"))
    await r.relay.pump()
    [card] = r.sink.cards
    assert [(b.action, b.request_id) for b in card.buttons] == [("approve", "r1.h1"), ("cancel", "r1")]
    assert (await r.requests.get("r1")).shown_plan_hash == "h1"  # type: ignore[union-attr]


async def test_a_failing_card_backs_off_then_is_given_up() -> None:
    r = Relay(max_attempts=2)
    await r.request()
    await r.jobs.create(plan_job())
    r.sink.failing = ConnectionError("slack is down")
    assert await r.relay.pump() == 0
    assert await r.relay.pump() == 0, "backing off: not retried at once"
    r.clock.now += 1.0
    assert await r.relay.pump() == 0
    state = await r.jobs.relay_state("plan-r1-1")
    assert state is not None and state[1]["relay_dead"] and not state[1]["relay_pending"]
    r.sink.failing = None
    r.clock.now += 100
    assert await r.relay.pump() == 0 and r.sink.cards == []


async def test_a_card_the_platform_will_never_take_is_given_up_at_once() -> None:
    r = Relay()
    await r.request()
    await r.jobs.create(plan_job())
    r.sink.failing = CardUndeliverable("channel_not_found")
    await r.relay.pump()
    state = await r.jobs.relay_state("plan-r1-1")
    assert state is not None and state[1]["relay_dead"]["reason"] == "channel_not_found"


async def test_an_older_job_never_replaces_the_card_of_a_newer_one() -> None:
    r = Relay()
    await r.request()
    await r.requests.update("r1", {"latest_job": "plan-r1-2"})
    await r.jobs.create(plan_job())
    assert await r.relay.pump() == 0 and r.sink.cards == []
    assert await r.jobs.unrelayed(["slack"]) == []


async def test_another_platforms_job_is_left_to_its_relay() -> None:
    r = Relay()
    await r.request()
    await r.jobs.create(plan_job(platform="discord"))
    assert await r.relay.pump() == 0 and r.sink.cards == []
    assert [j.job_id for j in await r.jobs.unrelayed(["discord"])] == ["plan-r1-1"]
    assert "plan-r1-1" in r.work.by_platform["discord"]


async def test_a_lost_work_list_is_rebuilt_from_the_job_store() -> None:
    r = Relay()
    await r.request()
    r.jobs.on_change = None  # the mark is lost, as with a flushed Redis
    await r.jobs.create(plan_job())
    assert await r.relay.pump() == 1
    assert [c.job_id for c in r.sink.cards] == ["plan-r1-1"]


async def test_the_periodic_resync_runs_beside_the_passes_and_its_finds_are_shown() -> None:
    """The now-and-then rebuild reads every pending job (a scan in FerretDB): cards must not wait for it."""
    r = Relay()
    await r.request()
    await r.jobs.create(plan_job())
    assert await r.relay.pump() == 1  # the first pass found the list unsynced and rebuilt it first
    scan_started, scan_may_end = asyncio.Event(), asyncio.Event()
    scans = r.jobs.pending_relay

    async def slow_scan() -> list[tuple[str, str]]:
        scan_started.set()
        await scan_may_end.wait()
        return await scans()

    r.jobs.pending_relay = slow_scan  # type: ignore[method-assign]
    r.relay.resync_seconds = 0.0
    # A change whose mark was lost (its writer died between MongoDB and Redis): only the rebuild finds it.
    r.jobs.on_change = None
    await r.jobs.update("plan-r1-1", phase=Phase.RUNNING, message="Planning")
    spec = InfraSpec(app="blog", components=[Component(kind="bucket")])
    await r.requests.create(Request.new("r2", THREAD, "ana", "a bucket", "ev2", spec))
    await r.jobs.create(replace(plan_job(job_id="plan-r2-1"), request_id="r2"))
    await r.work.mark("plan-r2-1")
    assert await asyncio.wait_for(r.relay.pump(), timeout=5) == 1  # shown while the scan is still running
    await asyncio.wait_for(scan_started.wait(), timeout=5)
    assert [c.version for c in r.sink.cards] == [1, 1]
    scan_may_end.set()
    await asyncio.wait_for(r.relay.wakeup.wait(), timeout=5)  # the rebuild wakes the relay for what it found
    r.relay.resync_seconds = 300.0
    assert await r.relay.pump() == 1
    assert [(c.phase, c.version) for c in r.sink.cards][-1] == ("running", 2)
