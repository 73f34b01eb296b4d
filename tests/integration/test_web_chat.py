"""The whole loop through the web chat API, with real Redis, FerretDB and an in-process arq worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bots.runtime import Runtime, build_runtime
from bots.serve import create_app
from config.local_services import LocalServices, free_port
from config.settings import Settings
from core.messages import ThreadRef
from tests.support import eventually
from tests.web_chat import chat, web_client

EXAMPLE = "create a postgres database and a bucket for my app shop in staging"


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(runtime, relay=False) as c:
        yield c


async def thread_messages(client: httpx.AsyncClient, thread: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/chat/{thread}")
    return response.json() if response.status_code == 200 else []  # type: ignore[no-any-return]


async def status_texts(client: httpx.AsyncClient, thread: str) -> list[str]:
    return [m["text"] for m in await thread_messages(client, thread) if m["role"] == "status"]


async def test_request_plan_apply_loop(client: httpx.AsyncClient, runtime: Runtime, worker: object) -> None:
    runtime.start_relay()
    first = await chat(client, "loop", EXAMPLE)
    assert "planning" in first["reply"].lower() and "shop" in first["reply"]
    request_id = first["replies"][0]["request_id"]

    async def plan_shown() -> list[str]:
        return [t for t in await status_texts(client, "loop") if "Plan ready" in t]

    plan_text = (await eventually(plan_shown))[0]
    assert "gcp:" not in plan_text or "Cloud SQL" in plan_text
    assert "offline engine" in plan_text, "every plan says which engine produced it"
    assert "Cloud SQL instance" in plan_text and "Storage bucket" in plan_text

    async def plan_recorded() -> bool:
        # A typed `apply` approves the plan the relay recorded as shown, which lands just after the text does.
        request = await runtime.requests.get(request_id)
        return request is not None and request.shown_plan_hash is not None

    await eventually(plan_recorded)
    approved = await chat(client, "loop", "apply")
    assert "Applying" in approved["reply"]

    async def done() -> list[str]:
        return [t for t in await status_texts(client, "loop") if "is ready" in t]

    final = (await eventually(done))[0]
    assert "simulated" in final.lower()
    request = await runtime.requests.get(request_id)
    assert request is not None and request.status == "applied" and request.outputs

    roles = [m["role"] for m in await thread_messages(client, "loop")]
    assert roles[:2] == ["user", "bot"] and roles.count("status") >= 2
    events = [a["event"] for a in await runtime.audit.list(request_id=request_id)]
    assert events == ["requested", "planned", "approved", "applied"]


async def test_duplicate_event_gives_one_request_one_job(client: httpx.AsyncClient, runtime: Runtime) -> None:
    first = await chat(client, "dup", EXAMPLE, event_id="evt-1")
    second = await chat(client, "dup", EXAMPLE, event_id="evt-1")
    assert first["reply"] and second == {"reply": "", "html": "", "replies": [], "duplicate": True}
    assert await runtime.db.requests.count_documents({}) == 1
    assert await runtime.db.jobs.count_documents({}) == 1
    assert await runtime.arq.zcard("infrabot:queue") == 1
    roles = [m["role"] for m in await thread_messages(client, "dup")]
    assert roles == ["user", "bot"]


async def test_history_survives_a_restart_of_the_web_process(
    settings: Settings, services: LocalServices
) -> None:
    first = await build_runtime(settings, services.redis_url, services.mongodb_url)
    app = create_app(first)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as c:
        await chat(c, "restart", "hello there")
        await chat(c, "restart", "help")
    await first.close()

    second = await build_runtime(settings, services.redis_url, services.mongodb_url)
    try:
        app = create_app(second)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as c:
            messages = await thread_messages(c, "restart")
    finally:
        await second.close()
    assert [m["role"] for m in messages] == ["user", "bot", "user", "bot"]
    assert messages[0]["text"] == "hello there" and all(m["ts"] for m in messages)


async def test_context_expiry_starts_fresh_but_keeps_history(
    settings: Settings, services: LocalServices
) -> None:
    short = settings.model_copy(update={"context_ttl_seconds": 1})
    rt = await build_runtime(short, services.redis_url, services.mongodb_url)
    try:
        app = create_app(rt)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as c:
            asked = await chat(c, "ttl", "I need a database")
            assert "called" in asked["reply"]
            await asyncio.sleep(1.3)
            later = await chat(c, "ttl", "shop")
            assert "started fresh" in later["reply"]
            assert len(await thread_messages(c, "ttl")) >= 4
    finally:
        await rt.close()


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("", "didn't catch"),
        ("   \u200b\x00  ", "didn't catch"),
        ("x" * 50_000, "50,000 characters"),
        ("create a bucket\x07 for my app\x1b shop", "planning"),
    ],
)
async def test_bad_text_gets_a_friendly_reply(client: httpx.AsyncClient, text: str, expect: str) -> None:
    body = await chat(client, f"bad-{uuid.uuid4().hex[:6]}", text)
    assert expect in body["reply"]


async def test_malformed_requests_get_4xx_not_500(client: httpx.AsyncClient) -> None:
    bad_json = await client.post("/api/chat", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "Bad request" in bad_json.json()["error"]
    missing = await client.post("/api/chat", json={"thread": "t"})
    assert missing.status_code == 400
    wrong_type = await client.post("/api/chat", json={"thread": "t", "user": "u", "text": 5})
    assert wrong_type.status_code == 400
    huge = await client.post("/api/chat", json={"thread": "t", "user": "u", "text": "y" * 300_000})
    assert huge.status_code == 413 and "too large" in huge.json()["error"]
    bad_thread = await client.post("/api/chat", json={"thread": "../etc", "user": "u", "text": "hi"})
    assert bad_thread.status_code == 400
    unknown = await client.get("/api/chat/never-used")
    assert unknown.status_code == 404 and "never-used" in unknown.json()["detail"]
    bad_action = await client.post("/api/action", json={"thread": "t", "user": "u", "request_id": "r1",
                                                        "action": "explode"})
    assert bad_action.status_code == 400
    unknown_request = await client.post("/api/action", json={"thread": "t", "user": "u", "request_id": "r1",
                                                             "action": "approve"})
    assert unknown_request.status_code == 200 and "can't find" in unknown_request.json()["reply"]


async def test_healthz_names_what_is_down(client: httpx.AsyncClient, runtime: Runtime) -> None:
    ok = await client.get("/healthz")
    assert ok.status_code == 200 and ok.json()["redis"] and ok.json()["mongodb"]

    real_redis, real_db = runtime.redis, runtime.db
    runtime.redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    try:
        down = await client.get("/healthz")
        assert down.status_code == 503 and "redis" in down.json()["status"]
        assert "mongodb" not in down.json()["status"]
    finally:
        await runtime.redis.aclose()
        runtime.redis = real_redis

    dead: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=300
    )
    runtime.db = dead["x"]
    try:
        down = await client.get("/healthz")
        assert down.status_code == 503 and down.json()["status"] == "down: mongodb"
    finally:
        runtime.db = real_db
        await dead.close()


async def test_page_is_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and "EventSource" in page.text and "/api/chat" in page.text


async def test_relay_picks_up_where_it_left_off_after_a_restart(
    settings: Settings, services: LocalServices, worker: object
) -> None:
    # The first web process takes the request and dies before the plan is ready: it never relays it.
    first = await build_runtime(settings, services.redis_url, services.mongodb_url)
    app = create_app(first)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as c:
        reply = await chat(c, "resume", EXAMPLE)
    request_id = reply["replies"][0]["request_id"]

    async def planned() -> bool:
        request = await first.requests.get(request_id)
        return bool(request and request.status == "awaiting_approval")

    await eventually(planned)
    await first.close()

    second = await build_runtime(settings, services.redis_url, services.mongodb_url)
    try:
        app = create_app(second)
        second.start_relay()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as c:

            async def card() -> list[str]:
                return [t for t in await status_texts(c, "resume") if "Plan ready for shop-staging" in t]

            await eventually(card)
    finally:
        await second.close()


async def test_a_dead_event_gate_still_gets_a_truthful_answer_and_starts_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    real_redis = runtime.redis
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    runtime.core.gate.redis = dead  # type: ignore[attr-defined]
    try:
        response = await client.post("/api/chat", json={"thread": "down", "user": "ana", "text": EXAMPLE})
    finally:
        runtime.core.gate.redis = real_redis  # type: ignore[attr-defined]
        await dead.aclose()
    # Silence would be worse than a redelivery slipping through: the person is answered, and told the words
    # were kept, because MongoDB still took them.
    assert response.status_code == 200, response.text
    assert "Your message is saved" in response.text
    assert await runtime.db.requests.count_documents({}) == 0
    assert any(m["text"] == EXAMPLE for m in await runtime.history.list(ThreadRef("web", "local", "web", "down")))
