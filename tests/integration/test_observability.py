"""Metrics, probes and structured logs, against real Redis, FerretDB and an in-process worker."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bots.runtime import Runtime
from config.local_services import LocalServices, free_port
from config.settings import Settings
from jobs.worker.main import _probes, make_worker
from telemetry import logs
from telemetry.metrics import refusal_reason
from telemetry.probe_server import start_probe_server
from tests.support import eventually, running
from tests.web_chat import chat, web_client


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page by (name, sorted labels)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(page: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(runtime) as c:
        yield c


@pytest.fixture
async def worker_http(runtime: Runtime, settings: Settings, services: LocalServices) -> AsyncIterator[str]:
    """A real worker serving /metrics, /livez and /readyz on a free port; yields its base URL."""
    async with running(make_worker(settings, services.redis_url, services.mongodb_url, metrics_port=0)) as w:
        probes = await eventually(lambda: _ready(w.ctx))
        yield f"http://127.0.0.1:{probes.port}"


async def _ready(ctx: dict[str, Any]) -> Any:
    return ctx.get("probes")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above during the test, as LOG_FORMAT=json would print it."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


async def test_web_metrics_count_a_turn_by_platform_and_intent(client: httpx.AsyncClient) -> None:
    before = samples((await client.get("/metrics")).text)
    await chat(client, "m1", "create a bucket for my app shop in dev")
    await chat(client, "m1", "what can you do?")
    page = await client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    after = samples(page.text)
    for intent in ("create", "help"):
        assert value(after, "infrabot_messages_total", platform="web", intent=intent) == \
            value(before, "infrabot_messages_total", platform="web", intent=intent) + 1, intent
    assert value(after, "infrabot_reply_seconds_count", platform="web") == \
        value(before, "infrabot_reply_seconds_count", platform="web") + 2
    assert value(after, "infrabot_jobs_total", kind="plan", phase="queued") >= \
        value(before, "infrabot_jobs_total", kind="plan", phase="queued") + 1
    assert ("infrabot_relay_lag_seconds", ()) in after


async def test_a_repeated_event_counts_as_duplicate_not_as_a_second_message(client: httpx.AsyncClient) -> None:
    before = samples((await client.get("/metrics")).text)
    await chat(client, "m2", "help", event_id="same-event")
    again = await chat(client, "m2", "help", event_id="same-event")
    assert again["duplicate"]
    after = samples((await client.get("/metrics")).text)
    assert value(after, "infrabot_messages_total", platform="web", intent="help") == \
        value(before, "infrabot_messages_total", platform="web", intent="help") + 1
    assert value(after, "infrabot_messages_total", platform="web", intent="duplicate") == \
        value(before, "infrabot_messages_total", platform="web", intent="duplicate") + 1


async def test_worker_metrics_count_a_job_and_its_duration(client: httpx.AsyncClient, worker_http: str) -> None:
    async with httpx.AsyncClient(base_url=worker_http) as http:
        before = samples((await http.get("/metrics")).text)
        first = await chat(client, "m3", "create a bucket for my app metered in dev")
        request_id = first["replies"][0]["request_id"]

        assert request_id

        async def plan_finished() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            page = samples((await http.get("/metrics")).text)
            done = value(page, "infrabot_job_duration_seconds_count", kind="plan", phase="awaiting_approval")
            return page if done > value(before, "infrabot_job_duration_seconds_count", kind="plan",
                                        phase="awaiting_approval") else None

        after = await eventually(plan_finished)
        assert (await http.get("/livez")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ok", "queue": True, "mongodb": True}
    for phase in ("running", "awaiting_approval"):
        assert value(after, "infrabot_jobs_total", kind="plan", phase=phase) == \
            value(before, "infrabot_jobs_total", kind="plan", phase=phase) + 1, phase
    assert value(after, "infrabot_job_duration_seconds_count", kind="plan", phase="awaiting_approval") == \
        value(before, "infrabot_job_duration_seconds_count", kind="plan", phase="awaiting_approval") + 1
    assert ("infrabot_queue_depth", ()) in after
    assert ("infrabot_job_oldest_seconds", (("kind", "apply"), ("phase", "applying"))) in after
    assert value(after, "infrabot_jobs_open", kind="plan", phase="running") == 0


async def test_stuck_applying_job_shows_in_the_oldest_job_gauge(runtime: Runtime) -> None:
    from datetime import UTC, datetime, timedelta

    from core.job import JobStatus, Phase
    from telemetry import gauges, metrics

    await runtime.jobs.create(JobStatus("stuck", "apply", "r-stuck", {"platform": "web"}, Phase.APPLYING, 1,
                                        created_at=datetime.now(UTC) - timedelta(hours=1)))
    await runtime.db.jobs.update_one({"_id": "stuck"}, {"$set": {
        "started_at": datetime.now(UTC) - timedelta(minutes=40)}})
    await gauges.refresh_jobs(runtime.jobs)
    oldest = metrics.JOB_OLDEST_SECONDS.labels("apply", "applying")._value.get()
    assert 40 * 60 - 5 < oldest < 41 * 60
    assert metrics.JOBS_OPEN.labels("apply", "applying")._value.get() == 1


async def test_queue_depth_counts_jobs_no_worker_took_yet(runtime: Runtime) -> None:
    from jobs.stores.queue import QUEUE_NAME, ArqQueue
    from telemetry import gauges, metrics

    await gauges.refresh_queue(runtime.redis, QUEUE_NAME)
    assert metrics.QUEUE_DEPTH._value.get() == 0
    assert await ArqQueue(runtime.arq).enqueue("plan", "plan-nobody-1")
    assert await ArqQueue(runtime.arq).enqueue("plan", "plan-nobody-2")
    await gauges.refresh_queue(runtime.redis, QUEUE_NAME)
    assert metrics.QUEUE_DEPTH._value.get() == 2


async def test_readyz_is_down_when_redis_is_and_livez_stays_up(client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert (await client.get("/readyz")).status_code == 200
    real = runtime.redis
    runtime.redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    try:
        down = await client.get("/readyz")
        assert down.status_code == 503 and down.json()["redis"] is False and down.json()["mongodb"] is True
        assert (await client.get("/livez")).status_code == 200
    finally:
        await runtime.redis.aclose()
        runtime.redis = real


async def test_worker_readyz_is_down_when_its_queue_is(runtime: Runtime) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    server = await start_probe_server(0, *_probes(dead, runtime.db, runtime.jobs), host="127.0.0.1")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            down = await http.get("/readyz")
            assert down.status_code == 503 and down.json()["queue"] is False
            assert (await http.get("/livez")).status_code == 200
            # Metrics still answer while the queue is down (the gauges keep their last values).
            assert (await http.get("/metrics")).status_code == 200
    finally:
        await server.stop()
        await dead.aclose()


async def test_json_logs_carry_request_job_thread_and_platform(
    client: httpx.AsyncClient, worker_http: str, runtime: Runtime, json_lines: io.StringIO
) -> None:
    first = await chat(client, "logged", "create a bucket for my app logged in dev")
    request_id = first["replies"][0]["request_id"]

    async def planned() -> bool:
        status = await runtime.jobs.get(f"plan-{request_id}-1")
        return bool(status and status.phase == "awaiting_approval")

    await eventually(planned)
    await chat(client, "logged", "status")
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert lines and all({"ts", "level", "logger", "message", *logs.FIELDS} <= set(line) for line in lines)
    thread = "web:local:web:logged"
    turns = [line for line in lines if line["message"].startswith("turn in " + thread)]
    assert len(turns) == 2, turns
    assert all(t["thread"] == thread and t["platform"] == "web" for t in turns)
    # The second turn knows its request from the thread's context before anything else happens.
    assert turns[1]["request_id"] == request_id
    job_lines = [line for line in lines if line["job_id"] and line["job_id"].startswith("plan-")]
    assert job_lines, "the worker logs while it runs the plan"
    assert all(line["request_id"] == request_id and line["thread"] == thread and line["platform"] == "web"
               for line in job_lines)


def test_refusal_reasons_are_a_small_fixed_set() -> None:
    assert refusal_reason("region mars-1 is not allowed here; allowed: us-central1") == "region"
    assert refusal_reason("large postgres is above the largest size allowed in dev (small)") == "size"
    assert refusal_reason("mysql is not allowed in prod (allowed there: bucket)") == "component"
    assert refusal_reason("you are not allowed to approve changes in prod") == "permission"
    assert refusal_reason("prod changes need approval from someone other than the requester") == "second_approver"
    assert refusal_reason("the Approve button belongs to an older plan") == "stale_plan"
    assert refusal_reason("the request is cancelled") == "closed"
    assert refusal_reason("something new") == "other"


def test_readme_lists_every_metric() -> None:
    from prometheus_client import REGISTRY

    from config.local_services import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    production = readme[readme.index("## Production"):readme.index("## Benchmarks")]
    names = {m.name for m in REGISTRY.collect() if m.name.startswith("infrabot_")}
    assert len(names) >= 12
    for name in names:
        documented = name if f"`{name}`" in production else f"{name}_total"
        assert f"`{documented}`" in production, name
