"""The local web chat: a page, a small JSON API, live updates over SSE, probes and /metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from bots.runtime import AdapterSink, Runtime
from bots.web.answer_stream import (
    MEDIA_TYPE,
    STORE_DOWN,
    Turns,
    answer_lines,
    finish,
    unreachable,
    wants_stream,
)
from bots.web.events import ThreadEvents, WebSink, web_text
from bots.web.guard import MAX_BODY_BYTES, WebGuard
from bots.web.render import html, plain_html
from core.messages import ActionEvent, IncomingMessage, Reply, ThreadRef, stored_message
from telemetry import gauges, metrics, probes

log = logging.getLogger("infrabot.web")

STATIC = Path(__file__).parent / "static"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"
# The body itself is capped (guard.MAX_BODY_BYTES) before this is ever parsed.
MAX_BODY_TEXT = MAX_BODY_BYTES


class ChatIn(BaseModel):
    thread: str = Field(pattern=NAME)
    user: str = Field(pattern=NAME)
    text: str = Field(max_length=MAX_BODY_TEXT)
    event_id: str | None = Field(default=None, pattern=NAME)


class ActionIn(BaseModel):
    thread: str = Field(pattern=NAME)
    user: str = Field(pattern=NAME)
    request_id: str = Field(pattern=NAME)
    action: str = Field(pattern=r"^(approve|cancel)$")
    event_id: str | None = Field(default=None, pattern=NAME)


def web_thread(thread: str) -> ThreadRef:
    return ThreadRef("web", "local", "web", thread)


def _reply_json(replies: list[Reply]) -> dict[str, Any]:
    """`html` is what the page shows (bots/web/render.py); `reply`/`text` the same in the core's notation."""
    return {
        "reply": "\n\n".join(web_text(r.text) for r in replies),
        "html": "\n\n".join(html(r.body) for r in replies),
        "replies": [
            {"text": web_text(r.text), "html": html(r.body), "request_id": r.request_id, "ephemeral": r.ephemeral,
             "buttons": [{"action": b.action, "label": b.label, "request_id": b.request_id} for b in r.buttons]}
            for r in replies
        ],
    }


def _answer(replies: list[Reply]) -> dict[str, Any]:
    return _reply_json(replies) | {"duplicate": not replies}


# What the host adds once the runtime exists (bots/serve.py): Slack's endpoint, and handing the sinks over.
Mount = Callable[[FastAPI, Runtime], None]


def create_app(runtime: Runtime | None = None, *, start: Any = None, mounts: Sequence[Mount] = ()) -> FastAPI:
    """The web chat. `runtime` is given by tests and hosts, `start` (an async factory) by `infrabot web`.

    The app changes nothing in the runtime: its status sink waits in `app.state.web` for the host, which
    hands it over in one of `mounts`, run as soon as the runtime is known.
    """
    events = ThreadEvents()

    def ready(app: FastAPI, rt: Runtime) -> None:
        app.state.runtime = rt
        app.state.web = AdapterSink("web", WebSink(rt.history, events))
        for mount in mounts:
            mount(app, rt)

    left: Turns = set()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime
        if rt is None:
            rt = await start()
            ready(app, rt)
        try:
            yield
        finally:
            # uvicorn has waited for the requests still open; a turn whose page left is not one of them.
            await finish(left, rt.settings.shutdown_grace_seconds)
            if runtime is None:
                await rt.close()

    # No generated API docs: they would be one more page to guard, and nobody needs them.
    app = FastAPI(title="infrabot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.events = events
    app.add_middleware(WebGuard, settings_of=lambda: app.state.runtime.settings)
    if runtime is not None:
        ready(app, runtime)

    def rt_of(request: Request) -> Runtime:
        return request.app.state.runtime  # type: ignore[no-any-return]

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        log.info("rejected %s %s: %s", request.method, request.url.path, problems[:300])
        return JSONResponse(status_code=400, content={"error": f"Bad request: {problems}"[:1000]})

    @app.exception_handler(RedisError)
    @app.exception_handler(PyMongoError)
    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s unreachable (%s)", request.method, request.url.path,
                  unreachable(exc), type(exc).__name__)  # type: ignore[arg-type]
        return JSONResponse(status_code=503, content={"error": STORE_DOWN})

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.post("/api/chat", response_model=None)
    async def chat(body: ChatIn, request: Request) -> dict[str, Any] | StreamingResponse:
        message = IncomingMessage(
            thread=web_thread(body.thread),
            user=body.user,
            text=body.text,
            event_id=body.event_id or uuid.uuid4().hex,
        )
        core = rt_of(request).core
        if wants_stream(request.headers.get("accept", "")):
            return StreamingResponse(answer_lines(core, message, _answer, left), media_type=MEDIA_TYPE,
                                     headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        return _answer(await core.handle_message(message))

    @app.post("/api/action")
    async def action(body: ActionIn, request: Request) -> dict[str, Any]:
        event = ActionEvent(
            thread=web_thread(body.thread), user=body.user, request_id=body.request_id,
            action=body.action, event_id=body.event_id or uuid.uuid4().hex,
        )
        return _reply_json(await rt_of(request).core.handle_action(event))

    @app.get("/api/chat/{thread}")
    async def messages(thread: str, request: Request) -> list[dict[str, Any]]:
        if not _valid_name(thread):
            raise HTTPException(400, "thread names are letters, digits and - _ . : (up to 100)")
        docs = await rt_of(request).history.list(web_thread(thread))
        if not docs:
            raise HTTPException(404, f"no messages in thread {thread!r} yet")
        return [
            {"role": d["role"], "text": web_text(d["text"]), "ts": d["ts"].isoformat(),
             "html": plain_html(d["text"]) if d["role"] == "user" else html(stored_message(d["text"])),
             "request_id": (d.get("meta") or {}).get("request_id")
             or ((d.get("meta") or {}).get("card") or {}).get("request_id")}
            for d in docs
        ]

    @app.get("/api/chat/{thread}/events")
    async def stream(thread: str, request: Request) -> StreamingResponse:
        if not _valid_name(thread):
            raise HTTPException(400, "invalid thread name")
        key = web_thread(thread).key()
        queue = request.app.state.events.subscribe(key)

        async def body() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"data: {json.dumps(jsonable_encoder(event))}\n\n"
            finally:
                request.app.state.events.unsubscribe(key, queue)

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        """The process answers; says nothing about Redis or MongoDB, so an outage never restarts it."""
        return {"status": "ok"}

    @app.get("/readyz")
    @app.get("/healthz")
    async def readyz(request: Request) -> JSONResponse:
        rt = rt_of(request)
        status, body = probes.verdict({"redis": await probes.redis_ok(rt.redis),
                                       "mongodb": await probes.mongo_ok(rt.db)})
        return JSONResponse(status_code=status, content=body)

    @app.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        rt = rt_of(request)
        try:
            await gauges.refresh_relay(rt.relay.work, list(rt.relay.sinks))
        except Exception:
            log.warning("metrics: could not refresh the relay lag", exc_info=True)
        body, content_type = metrics.exposition()
        return Response(content=body, media_type=content_type)

    return app


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME, name) is not None

