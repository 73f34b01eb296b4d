"""`POST /api/chat` as a stream of JSON lines, for a client that asks for one (`Accept: application/x-ndjson`).

The first line, `{"received": true}`, goes out as soon as the user's words are stored and the message is
known to be new, before the turn's own work: the page shows that the bot is on it at once, as Slack shows a
reply stream opening. The last line is the answer, the same object a plain request gets. A redelivered
message gets no first line, only its answer (`"duplicate": true`).

A client that goes away mid-stream does not stop the turn: its words are stored, so the turn finishes, its
answer is recorded in the thread's history, and the page shows it when it loads the thread again. Such a turn
is kept in `left`, which the app waits on before its stores close (`finish`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from core.messages import IncomingMessage, Reply
from core.ports import ChatCore

log = logging.getLogger("infrabot.web")

MEDIA_TYPE = "application/x-ndjson"
RECEIVED = json.dumps({"received": True}) + "\n"
STORE_DOWN = "infrabot can't reach its storage right now, so nothing was saved. Please try again shortly."

Turns = set[asyncio.Task[list[Reply]]]


def unreachable(exc: RedisError | PyMongoError) -> str:
    """Which store a failure names, for the log line (the reply names none)."""
    return "redis" if isinstance(exc, RedisError) else "mongodb"


def wants_stream(accept: str) -> bool:
    return MEDIA_TYPE in accept.lower()


async def answer_lines(
    core: ChatCore, message: IncomingMessage, answer: Callable[[list[Reply]], dict[str, Any]], left: Turns
) -> AsyncIterator[str]:
    heard: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def received() -> None:
        if not heard.done():
            heard.set_result(None)

    turn = asyncio.ensure_future(core.handle_message(message, received))
    try:
        await asyncio.wait((turn, heard), return_when=asyncio.FIRST_COMPLETED)
        if heard.done():
            yield RECEIVED
        try:
            # Shielded: a client that hangs up cancels this generator, never the turn.
            replies = await asyncio.shield(turn)
        except (RedisError, PyMongoError) as exc:
            log.error("POST /api/chat failed: %s unreachable (%s)", unreachable(exc), type(exc).__name__)
            yield json.dumps({"error": STORE_DOWN}) + "\n"
            return
        yield json.dumps(answer(replies)) + "\n"
    finally:
        if not turn.done():
            left.add(turn)
            turn.add_done_callback(lambda done: _forget(left, done))


def _forget(left: Turns, turn: asyncio.Task[list[Reply]]) -> None:
    left.discard(turn)
    if not turn.cancelled() and turn.exception() is not None:
        log.error("a web turn whose client left failed", exc_info=turn.exception())


async def finish(left: Turns, within: float) -> None:
    """Lets the turns whose client left finish, for up to `within` seconds: a turn cut off as the stores close
    could stop half way through its writes, with nobody left to send the message again."""
    running = [turn for turn in left if not turn.done()]
    if not running:
        return
    log.info("waiting for %d web turns whose page left", len(running))
    _, unfinished = await asyncio.wait(running, timeout=within)
    if unfinished:
        log.warning("%d web turns whose page left were still running after %.0f s", len(unfinished), within)
