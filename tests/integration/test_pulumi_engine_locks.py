"""StackLock against a real redis-server started for this module; when a Pulumi lock counts as stale."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from infra import errors, stale_locks
from infra.locks import Lease, StackBusy, StackLock, current_lease

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
async def redis(redis_port: int) -> AsyncIterator[Redis]:
    client = Redis(host="127.0.0.1", port=redis_port)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def lock(redis: Redis) -> StackLock:
    return StackLock(redis)


async def test_second_holder_is_refused_until_the_first_is_done(lock: StackLock) -> None:
    async with lock.hold("shop-dev", "job-a", ttl=5):
        with pytest.raises(StackBusy) as caught:
            async with lock.hold("shop-dev", "job-b", ttl=5):
                pytest.fail("two holders at once")
        assert str(caught.value) == "another change is running on shop-dev, you are next"
        assert caught.value.holder == "job-a"  # type: ignore[attr-defined]
        # other stacks are independent
        async with lock.hold("shop-prod", "job-b", ttl=5):
            pass
    async with lock.hold("shop-dev", "job-b", ttl=5) as lease:
        assert lease.owner == "job-b"


async def test_stack_busy_is_the_one_workers_catch(lock: StackLock) -> None:
    async with lock.hold("shop-dev", "job-a", ttl=5):
        with pytest.raises(errors.StackBusy):
            async with lock.hold("shop-dev", "job-b", ttl=5):
                pass


async def test_a_duplicate_run_of_the_same_job_is_refused_too(lock: StackLock) -> None:
    async with lock.hold("shop-dev", "job-a", ttl=5):
        with pytest.raises(StackBusy):
            async with lock.hold("shop-dev", "job-a", ttl=5):
                pass


async def test_waiting_holder_gets_its_turn(lock: StackLock) -> None:
    order: list[str] = []

    async def first() -> None:
        async with lock.hold("shop-dev", "job-a", ttl=5):
            order.append("a-in")
            await asyncio.sleep(0.4)
            order.append("a-out")

    task = asyncio.create_task(first())
    await asyncio.sleep(0.05)
    started = time.monotonic()
    async with lock.hold("shop-dev", "job-b", ttl=5, wait=5, poll=0.05):
        order.append("b-in")
    await task
    assert order == ["a-in", "a-out", "b-in"]
    assert time.monotonic() - started >= 0.3


async def test_waiting_gives_up_after_its_timeout(lock: StackLock) -> None:
    async with lock.hold("shop-dev", "job-a", ttl=5):
        started = time.monotonic()
        with pytest.raises(StackBusy):
            async with lock.hold("shop-dev", "job-b", ttl=5, wait=0.3, poll=0.05):
                pass
        assert 0.25 <= time.monotonic() - started < 2


async def test_only_the_owner_token_releases(lock: StackLock, redis: Redis) -> None:
    token = await lock.acquire("shop-dev", "job-a", ttl=5)
    assert token is not None and token.startswith("job-a|")

    assert await lock.release("shop-dev", "job-b|not-the-token") is False
    assert await lock.release("shop-dev", "job-a|guessed-nonce") is False
    assert await lock.holder("shop-dev") == "job-a"
    assert await lock.renew("shop-dev", "job-b|not-the-token", ttl=5) is False

    assert await lock.release("shop-dev", token) is True
    assert await redis.exists(lock.key("shop-dev")) == 0
    assert await lock.release("shop-dev", token) is False  # releasing twice is harmless


async def test_a_crashed_holder_expires_after_its_ttl(lock: StackLock) -> None:
    assert await lock.acquire("shop-dev", "crashed-job", ttl=0.3) is not None  # never released
    assert await lock.acquire("shop-dev", "job-b", ttl=5) is None
    await asyncio.sleep(0.5)
    assert await lock.acquire("shop-dev", "job-b", ttl=5) is not None
    assert await lock.holder("shop-dev") == "job-b"


async def test_heartbeat_keeps_a_long_change_locked(lock: StackLock, redis: Redis) -> None:
    async with lock.hold("shop-dev", "job-a", ttl=0.3) as lease:
        await asyncio.sleep(1.0)  # over three TTLs
        assert await lock.holder("shop-dev") == "job-a"
        assert await lock.acquire("shop-dev", "job-b", ttl=5) is None
        assert lease.lost is False
    assert await redis.exists(lock.key("shop-dev")) == 0


async def test_release_after_expiry_does_not_remove_the_new_holders_lease(
    lock: StackLock, redis: Redis
) -> None:
    async with lock.hold("shop-dev", "job-a", ttl=0.3) as lease:
        # Simulate job-a's lease running out and job-b taking the stack in the meantime.
        await redis.delete(lock.key("shop-dev"))
        token_b = await lock.acquire("shop-dev", "job-b", ttl=5)
        assert token_b is not None
        await asyncio.sleep(0.3)
        assert lease.lost is True
    assert await lock.holder("shop-dev") == "job-b"


async def test_the_held_lease_is_visible_to_the_engine_thread(lock: StackLock) -> None:
    assert current_lease.get() is None
    async with lock.hold("shop-dev", "job-a", ttl=5) as lease:
        seen = await asyncio.to_thread(current_lease.get)
        assert seen is lease and seen.stack == "shop-dev"
    assert current_lease.get() is None


def _locked_by(host: str, pid: int, at: str) -> str:
    return ("error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end "
            "or delete the lock file with `pulumi cancel`.\n  file:///state/.pulumi/locks/organization/infrabot/"
            f"shop-dev/0b6c.json: created by ci@{host} (pid {pid}) at {at}")


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _alone() -> bool:
    return True


def test_when_a_pulumi_lock_is_stale() -> None:
    lease = Lease(stack="shop-dev", owner="job-b", token="t", acquired_at=1_800_000_000.0, alone=_alone)
    old, new = "2027-01-15T07:59:00Z", "2027-01-15T08:00:00Z"  # one minute before the lease / at it
    dead, alive = _dead_pid(), subprocess.Popen(["sleep", "30"])
    try:
        assert stale_locks.holders(_locked_by("box", 41, old))[0].pid == 41
        # Made by a process on another host, before this lease: its maker lost the lease, i.e. died.
        assert stale_locks.stale("shop-dev", _locked_by("other-box", 41, old), lease, hostname="box")
        # Same host, process gone.
        assert stale_locks.stale("shop-dev", _locked_by("box", dead, old), lease, hostname="box")
        # Same host, process alive but not a pulumi CLI (a recycled pid).
        assert stale_locks.stale("shop-dev", _locked_by("box", alive.pid, old), lease, hostname="box")
        # Made after the lease was taken: not an infrabot worker's, so not ours to clear.
        assert not stale_locks.stale("shop-dev", _locked_by("other-box", 41, new), lease, hostname="box")
        # No lease, another stack's lease, or a lease this worker lost: never clear.
        assert not stale_locks.stale("shop-dev", _locked_by("other-box", 41, old), None, hostname="box")
        other = Lease(stack="shop-prod", owner="job-b", token="t", acquired_at=lease.acquired_at, alone=_alone)
        assert not stale_locks.stale("shop-dev", _locked_by("other-box", 41, old), other, hostname="box")
        lost = Lease(stack="shop-dev", owner="job-b", token="t", lost=True, acquired_at=lease.acquired_at,
                     alone=_alone)
        assert not stale_locks.stale("shop-dev", _locked_by("other-box", 41, old), lost, hostname="box")
        # Another holder may be alive (or nobody can tell): never clear.
        for unsure in (None, lambda: False):
            crowded = Lease(stack="shop-dev", owner="job-b", token="t", acquired_at=lease.acquired_at, alone=unsure)
            assert not stale_locks.stale("shop-dev", _locked_by("other-box", 41, old), crowded, hostname="box")
    finally:
        alive.kill()
        alive.wait()


def _old_lock(lease: Lease) -> str:
    """A Pulumi lock another host made a minute before `lease` was taken."""
    made = datetime.fromtimestamp(lease.acquired_at - 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _locked_by("other-box", 41, made)


async def test_after_redis_comes_back_empty_a_live_holders_pulumi_lock_is_not_taken_as_stale(
    lock: StackLock, redis: Redis
) -> None:
    """The window: a flush drops worker A's lease while its Pulumi runs; B takes the stack before A's
    heartbeat takes the lease back and finds A's lock, older than its own lease. B must leave it alone."""
    ttl = 0.6
    async with lock.hold("shop-dev", "job-a", ttl=ttl) as a:
        await redis.flushall()
        async with lock.hold("shop-dev", "job-b", ttl=ttl) as b:
            assert b.fence > a.fence, "fencing tokens keep growing across a flush"
            # Asked as the engine asks it, from its own thread.
            assert not await asyncio.to_thread(stale_locks.stale, "shop-dev", _old_lock(b), b, "box"), \
                "too soon after the flush to tell"
            await asyncio.sleep(ttl * 1.5)
            assert a.lost, "B has the lease, so A's heartbeat could not take it back"
            assert not await asyncio.to_thread(stale_locks.stale, "shop-dev", _old_lock(b), b, "box"), \
                "A still beats: its update is live"
            # A dies without a word (OOM): its record runs out a lease later, and only then is its lock stale.
            a.abandon()
    async with lock.hold("shop-dev", "job-c", ttl=ttl) as c:
        assert not await asyncio.to_thread(stale_locks.stale, "shop-dev", _old_lock(c), c, "box")
        await asyncio.sleep(ttl * 1.5)
        assert await asyncio.to_thread(stale_locks.stale, "shop-dev", _old_lock(c), c, "box")


async def test_a_dead_holders_lock_is_stale_once_the_keyspace_is_a_lease_old(lock: StackLock, redis: Redis) -> None:
    ttl = 0.5
    async with lock.hold("shop-dev", "job-b", ttl=ttl) as b:
        assert not await asyncio.to_thread(stale_locks.stale, "shop-dev", _old_lock(b), b, "box")
        await asyncio.sleep(ttl * 1.2)
        assert await asyncio.to_thread(stale_locks.stale, "shop-dev", _old_lock(b), b, "box")
