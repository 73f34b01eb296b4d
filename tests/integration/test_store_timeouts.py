"""No store call hangs: against a server that accepts connections and never answers (a half-open
connection, a frozen server), Redis and MongoDB calls fail within their timeouts.

The timeouts are shortened here so the test takes seconds; what is checked is that the clients infrabot
builds carry them, since without them these calls wait for ever."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from jobs.stores import connections, mongo


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections, reads what is sent, answers nothing."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_a_redis_call_to_a_server_that_never_answers_fails_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connections, "SOCKET_TIMEOUT", 0.5)
    async with silent_server() as port:
        for client in (connections.redis_client(f"redis://127.0.0.1:{port}/0"),
                       connections.arq_client(f"redis://127.0.0.1:{port}/0")):
            try:
                with pytest.raises(RedisError):
                    await asyncio.wait_for(client.get("k"), 10)
            finally:
                await client.aclose()
            kwargs = client.connection_pool.connection_kwargs
            assert kwargs["health_check_interval"] > 0, "idle pooled connections are checked before reuse"


async def test_a_mongodb_call_to_a_server_that_never_answers_fails_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SELECT_TIMEOUT_MS", "CONNECT_TIMEOUT_MS", "SOCKET_TIMEOUT_MS"):
        monkeypatch.setattr(mongo, name, 500)
    async with silent_server() as port:
        client, db = mongo.connect(f"mongodb://127.0.0.1:{port}/?directConnection=true", "t")
        try:
            with pytest.raises(PyMongoError):
                await asyncio.wait_for(db.requests.find_one({"_id": "x"}), 10)
        finally:
            await client.close()
