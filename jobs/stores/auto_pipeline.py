"""A Redis client whose commands, issued by many turns in one turn of the event loop, go out as one pipeline.

A chat process under load has dozens of turns each waiting on a Redis command or two at any moment (an
event claim, a context read, its save, a lock script). Sent one by one, every command pays redis-py's
fixed cost (a pooled connection taken and given back, a write, a read, a wake-up) and the server's; sent
together, they pay it once. Commands queued while the loop runs go out at its next turn: nothing waits
for a batch to fill, so a lone command loses nothing.

Each command still gets its own result or its own error, in the order it was issued; a broken connection
fails every command of its batch, as it would have failed each of them alone. Commands that block on the
server, or hold a connection's state, are never batched: they go out alone as before.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis

# Blocking reads would hold the whole batch behind them; the rest change what the connection itself means.
ALONE = frozenset({
    "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "XREAD", "XREADGROUP",
    "WAIT", "WAITAOF", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "WATCH", "UNWATCH", "MULTI", "EXEC",
    "DISCARD", "SELECT", "CLIENT", "AUTH", "HELLO", "RESET", "QUIT",
})

Queued = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]


class AutoPipelined(Redis):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: list[Queued] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        name = args[0].upper() if isinstance(args[0], str) else args[0]
        if self.connection is not None or name in ALONE:
            return await super().execute_command(*args, **options)
        loop = asyncio.get_running_loop()
        result: asyncio.Future[Any] = loop.create_future()
        self._queued.append((args, options, result))
        if len(self._queued) == 1:
            loop.call_soon(self._flush)
        return await result

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        if not batch:
            return
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(functools.partial(self._sent, batch))

    def _sent(self, batch: list[Queued], task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        # A batch cut off (its task cancelled as the loop stops, even before it began) reads to its callers as
        # a lost connection, which every caller of a Redis store already handles.
        for *_, waiting in batch:
            if not waiting.done():
                waiting.set_exception(redis_errors.ConnectionError("the Redis batch was cut off"))

    async def _send(self, batch: list[Queued]) -> None:
        try:
            if len(batch) == 1:
                (args, options, _), = batch
                results: list[Any] = [await super().execute_command(*args, **options)]
            else:
                pipe = self.pipeline(transaction=False)
                for args, options, _ in batch:
                    pipe.execute_command(*args, **options)
                results = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for *_, waiting in batch:
                if not waiting.done():
                    waiting.set_exception(exc)
            return
        for (*_, waiting), result in zip(batch, results, strict=True):
            if waiting.done():
                continue  # its caller gave up waiting (a timeout, a cancelled turn)
            if isinstance(result, Exception):
                waiting.set_exception(result)
            else:
                waiting.set_result(result)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        # What was already asked goes out before the pool it needs is closed.
        if self._queued:
            self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await super().aclose(close_connection_pool)
