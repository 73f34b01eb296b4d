"""The prompt Redis pool on the real redis-server: no turn of the loop per command, and no reply read twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from config.local_services import LocalServices
from jobs.stores.connections import redis_client
from jobs.stores.redis_pool import PromptSend


@pytest.fixture
async def redis(services: LocalServices) -> AsyncIterator[Redis]:
    client = redis_client(services.redis_url)
    await client.set("pool:k", "v")
    yield client
    await client.delete("pool:k", "pool:list")
    await client.aclose()


def finished_at_once(coro: object) -> object:
    """Runs a coroutine one step: its result if it finished without waiting on the event loop, else fails."""
    assert asyncio.iscoroutine(coro)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    pytest.fail("it waited on the event loop")


async def test_a_pooled_connection_and_a_command_to_it_need_no_turn_of_the_event_loop(redis: Redis) -> None:
    assert await redis.get("pool:k") == b"v"
    pool = redis.connection_pool
    conn = finished_at_once(pool.get_connection())
    assert isinstance(conn, PromptSend)
    try:
        finished_at_once(conn.send_command("GET", "pool:k"))
        assert await conn.read_response() == b"v"
    finally:
        await pool.release(conn)


async def test_a_connection_given_back_with_a_reply_unread_is_not_used_as_it_is(redis: Redis) -> None:
    pool = redis.connection_pool
    conn = await pool.get_connection()
    await conn.send_command("PING")
    await asyncio.sleep(0.1)  # the PONG arrives and waits, unread
    await pool.release(conn)
    assert await redis.get("pool:k") == b"v", "the next command must not read the PONG left behind"


async def test_a_command_cancelled_while_waiting_leaves_no_reply_behind(redis: Redis, services: LocalServices) -> None:
    waiting = asyncio.create_task(redis.blpop(["pool:list"], timeout=2))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    other = redis_client(services.redis_url)
    try:
        await other.rpush("pool:list", "late")
    finally:
        await other.aclose()
    assert await redis.get("pool:k") == b"v"
    assert await redis.lrange("pool:list", 0, -1) == [b"late"], "the cancelled BLPOP must not have taken it"


async def test_a_connection_the_server_closed_is_replaced(redis: Redis, services: LocalServices) -> None:
    assert await redis.get("pool:k") == b"v"
    own = await redis.client_id()
    killer = redis_client(services.redis_url)
    try:
        assert await killer.client_kill_filter(_id=own) == 1
    finally:
        await killer.aclose()
    await asyncio.sleep(0.1)  # the hang-up reaches the pooled connection
    assert await redis.get("pool:k") == b"v"


async def test_many_commands_at_once_each_get_their_own_reply(redis: Redis) -> None:
    await asyncio.gather(*(redis.set(f"pool:n{i}", i) for i in range(200)))
    try:
        values = await asyncio.gather(*(redis.get(f"pool:n{i}") for i in range(200)))
        assert values == [str(i).encode() for i in range(200)]
    finally:
        await redis.delete(*(f"pool:n{i}" for i in range(200)))
