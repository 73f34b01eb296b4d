"""The status relay with several chat processes: one card per request, never backwards, never frozen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bots.runtime import Runtime, build_runtime
from bots.slack.client import SlackClients
from bots.slack.sink import SlackStatusSink
from config.local_services import LocalServices
from config.settings import Settings
from core.job import JobStatus, Phase
from core.messages import ThreadRef
from core.request import Request
from core.spec import Component, InfraSpec
from jobs.stores.doc_lock import DocLocks
from telemetry.metrics import RELAY_DEAD_LETTERS
from tests.slack_mock import MockSlack
from tests.slack_mock.server import BOT_TOKEN, TEAM

DEAD_TEAM = "TDEAD"  # a workspace that uninstalled the app: its token now gets `invalid_auth`


def slack_settings(settings: Settings, mock: MockSlack) -> Settings:
    return settings.model_copy(update={
        "slack_bot_token": SecretStr(BOT_TOKEN), "slack_api_url": mock.url,
        "slack_bot_tokens": SecretStr(f"{TEAM}={BOT_TOKEN},{DEAD_TEAM}=xoxb-revoked"),
    })


def attach_slack(rt: Runtime, settings: Settings, mock: MockSlack, interval: float = 0.0) -> SlackStatusSink:
    sink = SlackStatusSink(SlackClients(settings), rt.cards, interval=interval,
                           lock=DocLocks(rt.redis, lease_ms=30_000).hold)
    rt.relay.register("slack", sink)
    rt.relay.backoff_seconds = 0.05
    return sink


@pytest.fixture
async def pair(
    runtime: Runtime, settings: Settings, services: LocalServices, mock_slack: MockSlack
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two chat processes' runtimes on the same Redis and MongoDB, both relaying Slack cards."""
    second = await build_runtime(settings, services.redis_url, services.mongodb_url)
    slack = slack_settings(settings, mock_slack)
    for rt in (runtime, second):
        attach_slack(rt, slack, mock_slack)
    yield runtime, second
    await second.close()


async def new_job(rt: Runtime, n: int, team: str = TEAM) -> tuple[str, ThreadRef]:
    thread = ThreadRef("slack", team, "C1", f"1800000100.{n:06d}")
    request_id, job_id = f"r{n}", f"plan-r{n}-1"
    spec = InfraSpec(app=f"app{n}", components=[Component(kind="bucket")])
    await rt.requests.create(Request.new(request_id, thread, "U1", "x", f"ev{n}", spec))
    await rt.jobs.create(JobStatus(job_id, "plan", request_id, thread.as_dict(), Phase.QUEUED, version=1,
                                   created_at=datetime.now(UTC), spec={"app": f"app{n}"}))
    return job_id, thread


def cards_in(mock: MockSlack, thread: ThreadRef) -> list[dict]:
    return [m for m in mock.thread_messages(thread.channel, thread.thread) if m.get("blocks")]


async def test_two_relaying_processes_post_one_card_and_never_edit_it_backwards(
    pair: tuple[Runtime, Runtime], mock_slack: MockSlack
) -> None:
    first = pair[0]
    mock_slack.delays["chat.update"] = 0.02  # slow enough for the two passes to overlap
    jobs = [await new_job(first, n) for n in range(4)]

    async def progress() -> None:
        for step in range(1, 13):
            for job_id, _ in jobs:
                await first.jobs.update(job_id, phase=Phase.RUNNING, done=step, total=12, message=f"step {step}")
            await asyncio.sleep(0.01)
        for job_id, _ in jobs:
            await first.jobs.update(job_id, phase=Phase.FAILED, done=12, total=12, error="quota")

    async def relay_until(done: asyncio.Event, rt: Runtime) -> None:
        while not done.is_set():
            await rt.relay.pump()
            await asyncio.sleep(0.005)
        await rt.relay.pump()

    finished = asyncio.Event()
    workers = [asyncio.create_task(relay_until(finished, rt)) for rt in pair]
    await progress()
    finished.set()
    await asyncio.gather(*workers)
    for rt in pair:
        await rt.relay.pump()

    assert len(mock_slack.calls_to("chat.postMessage")) == len(jobs)
    for job_id, thread in jobs:
        (card,) = cards_in(mock_slack, thread)
        assert "Failed" in card["text"] and "quota" in card["text"]
        ts = card["ts"]
        steps = [int(c.params["text"].split("(")[1].split(" of")[0])
                 for c in mock_slack.calls_to("chat.update") if c.params["ts"] == ts]
        assert steps == sorted(steps), f"{job_id}'s card moved backwards: {steps}"
        doc = await first.db.jobs.find_one({"_id": job_id})
        assert doc is not None and doc["relay_pending"] is False


async def test_a_dead_workspace_is_dead_lettered_and_does_not_hold_up_other_cards(
    pair: tuple[Runtime, Runtime], mock_slack: MockSlack
) -> None:
    first, _ = pair
    dead_letters = RELAY_DEAD_LETTERS.labels("slack")._value.get()
    dead_job, _ = await new_job(first, 1, team=DEAD_TEAM)
    live = [await new_job(first, n) for n in range(2, 5)]
    await first.relay.pump()
    assert RELAY_DEAD_LETTERS.labels("slack")._value.get() == dead_letters + 1, "counted in /metrics"

    for _, thread in live:
        assert len(cards_in(mock_slack, thread)) == 1
    doc = await first.db.jobs.find_one({"_id": dead_job})
    assert doc is not None and "invalid_auth" in doc["relay_dead"]["reason"] and doc["relay_pending"] is False
    tries = len([c for c in mock_slack.calls if c.token == "xoxb-revoked"])
    assert tries == 1, "an unrecoverable error is not retried"

    # Later versions of that job are not tried again either.
    await first.jobs.update(dead_job, phase=Phase.RUNNING, done=1, total=3)
    await first.relay.pump()
    assert len([c for c in mock_slack.calls if c.token == "xoxb-revoked"]) == tries


async def test_a_card_that_keeps_failing_is_dead_lettered_after_n_attempts(
    pair: tuple[Runtime, Runtime], mock_slack: MockSlack
) -> None:
    first, _ = pair
    first.relay.max_attempts = 3
    first.relay.backoff_seconds = 0.01
    mock_slack.fail("chat.postMessage", 500, times=1000)
    job_id, _ = await new_job(first, 7)
    for _ in range(20):
        await first.relay.pump()
        doc = await first.db.jobs.find_one({"_id": job_id})
        if doc and doc.get("relay_dead"):
            break
        await asyncio.sleep(0.05)
    assert doc is not None and doc.get("relay_dead"), "still retrying after max_attempts"
    assert doc["relay_attempts"] == 3
    assert len(mock_slack.calls_to("chat.postMessage", ok_only=False)) == 3
    await first.relay.pump()
    assert len(mock_slack.calls_to("chat.postMessage", ok_only=False)) == 3, "a dead letter is never retried"


async def test_a_failing_card_goes_behind_the_others(pair: tuple[Runtime, Runtime], mock_slack: MockSlack) -> None:
    first, _ = pair
    first.relay.backoff_seconds = 30  # its next attempt is far off: the pass must not wait for it
    mock_slack.fail("chat.postMessage", 500, times=1)
    jobs = [await new_job(first, n) for n in range(1, 6)]
    await asyncio.wait_for(first.relay.pump(), timeout=10)
    shown = [job_id for job_id, thread in jobs if len(cards_in(mock_slack, thread)) == 1]
    assert len(shown) == 4
    (failing,) = {job_id for job_id, _ in jobs} - set(shown)
    doc = await first.db.jobs.find_one({"_id": failing})
    assert doc is not None and doc["relay_pending"] is True and doc["relay_attempts"] == 1


async def test_the_work_list_is_rebuilt_from_mongodb_after_redis_is_flushed(
    pair: tuple[Runtime, Runtime], mock_slack: MockSlack, services: LocalServices
) -> None:
    first, _ = pair
    job_id, thread = await new_job(first, 9)
    flush = Redis.from_url(services.redis_url)
    await flush.flushall()
    await flush.aclose()
    await first.relay.pump()
    assert len(cards_in(mock_slack, thread)) == 1
    doc = await first.db.jobs.find_one({"_id": job_id})
    assert doc is not None and doc["relay_pending"] is False


async def test_progress_steps_do_not_grow_the_change_log(runtime: Runtime) -> None:
    job_id, _ = await new_job(runtime, 3)
    await runtime.jobs.update(job_id, phase=Phase.RUNNING)
    for step in range(80):
        await runtime.jobs.update(job_id, done=step, total=80)
    await runtime.jobs.update(job_id, phase=Phase.FAILED, error="quota")
    found = await runtime.jobs.relay_state(job_id)
    assert found is not None and found[0].done == 79 and found[0].version == 83
    events = await runtime.jobs.events(job_id)
    assert [(e["phase"], e["version"]) for e in events] == [("queued", 1), ("running", 2), ("failed", 83)]
