"""Commands issued together go out together, on the real redis-server, and each still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from config.local_services import LocalServices, free_port
from infra.redis_keys import EVENT_PREFIX
from jobs.stores.auto_pipeline import AutoPipelined
from jobs.stores.connections import redis_client
from jobs.stores.redis_pool import PromptSend
from jobs.stores.redis_state import RedisEventGate

KEYS = [f"auto:{i}" for i in range(50)]


@pytest.fixture
async def redis(services: LocalServices) -> AsyncIterator[Redis]:
    client = redis_client(services.redis_url)
    assert isinstance(client, AutoPipelined)
    yield client
    await client.delete(*KEYS, "auto:text", "auto:list")
    await client.aclose()


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per write to the server."""
    sent: list[int] = []  # one entry per write
    real = PromptSend.send_packed_command

    async def counted(self: PromptSend, command: object, check_health: bool = True) -> None:
        sent.append(1)
        await real(self, command, check_health)  # type: ignore[arg-type]

    monkeypatch.setattr(PromptSend, "send_packed_command", counted)
    return sent


async def test_commands_issued_together_go_out_in_one_write_and_each_gets_its_own_answer(
    redis: Redis, writes: list[int]
) -> None:
    await redis.ping()  # a new connection's own set-up writes are not the commands'
    writes.clear()
    await asyncio.gather(*(redis.set(key, i) for i, key in enumerate(KEYS)))
    values = await asyncio.gather(*(redis.get(key) for key in KEYS))
    assert values == [str(i).encode() for i in range(len(KEYS))]
    assert len(writes) == 2, f"two rounds of 50 commands took {len(writes)} writes"


async def test_a_lone_command_waits_for_no_company(redis: Redis, writes: list[int]) -> None:
    await redis.ping()
    writes.clear()
    assert await redis.set("auto:text", "x") is True
    assert await redis.get("auto:text") == b"x"
    assert len(writes) == 2


async def test_an_error_reaches_only_the_command_that_caused_it(redis: Redis) -> None:
    await redis.set("auto:text", "not a number")
    bad, good, also = await asyncio.gather(
        redis.incr("auto:text"), redis.incr(KEYS[0]), redis.get("auto:text"), return_exceptions=True
    )
    assert isinstance(bad, redis_errors.ResponseError)
    assert good == 1
    assert also == b"not a number"


async def test_a_script_unknown_to_the_server_is_loaded_and_run_inside_a_batch(redis: Redis) -> None:
    await redis.script_flush()
    script = redis.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    results = await asyncio.gather(*(script(keys=[KEYS[1]], args=[2]) for _ in range(5)), redis.get(KEYS[2]))
    assert sorted(results[:5]) == [2, 4, 6, 8, 10]
    assert results[5] is None


async def test_a_blocking_command_holds_up_no_other(redis: Redis) -> None:
    order: list[str] = []

    async def blocked() -> None:
        await redis.blpop(["auto:list"], timeout=2)
        order.append("blpop")

    async def quick() -> None:
        await redis.set(KEYS[3], "y")
        order.append("set")

    await asyncio.gather(blocked(), quick())
    assert order == ["set", "blpop"]


async def test_a_caller_that_gives_up_does_not_break_the_batch(redis: Redis) -> None:
    slow = asyncio.ensure_future(redis.set(KEYS[4], "1"))
    other = asyncio.ensure_future(redis.set(KEYS[5], "2"))
    slow.cancel()
    assert await other is True
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await redis.get(KEYS[5]) == b"2"


async def test_with_the_server_gone_every_command_of_a_batch_fails_and_none_hangs() -> None:
    dead = redis_client(f"redis://127.0.0.1:{free_port()}")
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(dead.get(key) for key in KEYS[:10]), return_exceptions=True), timeout=10
        )
    finally:
        await dead.aclose()
    assert all(isinstance(r, redis_errors.ConnectionError) for r in results), results


async def test_closing_sends_what_was_already_asked(services: LocalServices) -> None:
    client = redis_client(services.redis_url)
    asked = asyncio.ensure_future(client.set(KEYS[6], "kept"))
    await asyncio.sleep(0)  # queued, not yet sent
    await client.aclose()
    assert await asked is True
    other = redis_client(services.redis_url)
    try:
        assert await other.get(KEYS[6]) == b"kept"
        await other.delete(KEYS[6])
    finally:
        await other.aclose()


async def test_a_batch_cut_off_reads_to_its_callers_as_a_lost_connection(redis: Redis) -> None:
    asked = [asyncio.ensure_future(redis.get(key)) for key in KEYS[:3]]
    for _ in range(20):  # a few turns of the loop: the callers queue, then the batch's task starts
        if redis._sending:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0)
    assert redis._sending, "the batch never started"  # type: ignore[attr-defined]
    for batch in list(redis._sending):  # type: ignore[attr-defined]
        batch.cancel()
    results = await asyncio.wait_for(asyncio.gather(*asked, return_exceptions=True), timeout=10)
    assert all(isinstance(r, redis_errors.ConnectionError) for r in results), results
    assert await redis.set(KEYS[7], "after") is True, "the client works on after a cut-off batch"


async def test_two_processes_batching_their_claims_still_let_exactly_one_claim_each_event(
    services: LocalServices,
) -> None:
    # Each chat process has its own client, so their batches interleave on the server, command by command.
    first, second = redis_client(services.redis_url), redis_client(services.redis_url)
    events = [f"auto-claim:{i}" for i in range(40)]
    try:
        gates = RedisEventGate(first), RedisEventGate(second)
        wins = await asyncio.gather(*(gate.claim(event) for event in events for gate in gates))
        assert [wins[i] + wins[i + 1] for i in range(0, len(wins), 2)] == [1] * len(events)
        assert not any(await asyncio.gather(*(gates[1].claim(event) for event in events))), "a redelivery got in"
    finally:
        await first.delete(*(f"{EVENT_PREFIX}{event}" for event in events))
        await first.aclose()
        await second.aclose()
