"""Talking to the web chat API in tests, the way the page does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from bots.runtime import Runtime
from bots.serve import create_app
from bots.web.app import web_thread
from tests.support import eventually


@asynccontextmanager
async def web_client(runtime: Runtime, relay: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime)
    if relay:
        runtime.start_relay()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as c:
            yield c


async def chat(client: httpx.AsyncClient, thread: str, text: str, user: str = "ana", **extra: Any) -> dict[str, Any]:
    response = await client.post("/api/chat", json={"thread": thread, "user": user, "text": text, **extra})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def say(client: httpx.AsyncClient, thread: str, text: str, user: str = "ana") -> str:
    return str((await chat(client, thread, text, user))["reply"])


async def press(client: httpx.AsyncClient, thread: str, ref: str, user: str, action: str = "approve") -> str:
    response = await client.post(
        "/api/action", json={"thread": thread, "user": user, "request_id": ref, "action": action}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["reply"])


async def card(runtime: Runtime, thread: str, job_id: str, phase: str) -> dict[str, Any]:
    """The status card the web chat showed for this job in this phase."""

    async def shown() -> dict[str, Any] | None:
        for doc in await runtime.history.list(web_thread(thread)):
            payload = (doc.get("meta") or {}).get("card") or {}
            if payload.get("job_id") == job_id and payload.get("phase") == phase:
                return {**payload, "text": doc["text"]}
        return None

    found = await eventually(shown)
    if phase == "awaiting_approval" and found.get("buttons"):
        # The relay records the plan it delivered right after showing it; a typed `apply` approves that one.
        async def recorded() -> bool:
            request = await runtime.requests.get(found["request_id"])
            return request is None or request.shown_plan_hash is not None or request.status != "awaiting_approval"

        await eventually(recorded)
    return found
