"""The real pulumi CLI under concurrency and faults: real stack locks, a lock left by a killed update,
and what a running update exposes to the rest of the machine (command lines, environments)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from config.local_services import LocalServices
from infra import errors
from infra.locks import StackLock
from tests.pulumi_cli import (
    DB_PASSWORD,
    PASSPHRASE,
    Progress,
    cli_processes,
    descendants,
    make_engine,
    read_proc,
    spec,
    use_cli_env,
)

CHAT_TOKENS = {
    "SLACK_BOT_TOKEN": "xoxb-chat-token-that-must-stay-in-chat",
    "DISCORD_TOKEN": "discord-token-that-must-stay-in-chat",
    "WEB_CHAT_TOKEN": "web-token-that-must-stay-in-chat",
}


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cli_env(monkeypatch)


@pytest.fixture
async def stack_lock(services: LocalServices) -> AsyncIterator[StackLock]:
    redis = Redis.from_url(services.redis_url)
    await redis.delete("infrabot:stack-lock:shop-dev")
    yield StackLock(redis)
    await redis.delete("infrabot:stack-lock:shop-dev")
    await redis.aclose()


def lock_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state" / ".pulumi" / "locks").rglob("*.json"))


async def started(progress_seen: asyncio.Event) -> None:
    await asyncio.wait_for(progress_seen.wait(), 60)


def signal_on_first_step() -> tuple[asyncio.Event, Progress]:
    seen = asyncio.Event()
    loop = asyncio.get_running_loop()
    return seen, Progress(lambda m: loop.call_soon_threadsafe(seen.set) if m.startswith("creating") else None)


async def test_a_second_update_while_one_runs_is_stack_busy(tmp_path: Path, stack_lock: StackLock) -> None:
    slow = make_engine(tmp_path, delay=20)  # long enough for a loaded machine to start a second update
    await slow.preview(spec(), Progress())  # creates the stack, so both updates go straight to locking
    seen, progress = signal_on_first_step()
    running = asyncio.create_task(slow.apply(spec(), progress))
    await started(seen)
    second = make_engine(tmp_path)  # another worker process on the same backend

    with pytest.raises(errors.StackBusy) as caught:
        await second.apply(spec(), Progress())
    assert str(caught.value) == "another change is running on shop-dev, you are next"
    # Even a worker that holds the stack lease (say the first one's lapsed) leaves a live update alone.
    async with stack_lock.hold("shop-dev", "job-b", ttl=30):
        with pytest.raises(errors.StackBusy):
            await second.apply(spec(), Progress())
        assert lock_files(tmp_path)

    assert (await running).summary["create"] == 1
    assert not lock_files(tmp_path)
    assert (await second.apply(spec(), Progress())).summary["create"] == 0


async def test_a_lock_left_by_a_killed_update_is_cleared_by_the_next_lease_holder(
    tmp_path: Path, stack_lock: StackLock
) -> None:
    slow = make_engine(tmp_path, delay=30)
    await slow.preview(spec(), Progress())
    seen, progress = signal_on_first_step()
    running = asyncio.create_task(slow.apply(spec(), progress))
    await started(seen)
    ups = cli_processes("up")
    assert len(ups) == 1
    # What an OOM kill of the worker does to its CLI: no chance to unlock.
    for pid in [*descendants(ups[0]), ups[0]]:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(errors.EngineFailed):
        await running
    assert lock_files(tmp_path), "the killed update should have left its lock"

    engine = make_engine(tmp_path)
    # Outside a stack lease nobody can tell the lock is stale: it stays "busy".
    with pytest.raises(errors.StackBusy):
        await engine.apply(spec(), Progress())
    # The lock's time has whole seconds; the lease must be visibly younger than the lock.
    await asyncio.sleep(2.1)
    async with stack_lock.hold("shop-dev", "job-next", ttl=1.0):
        # Each test starts from an emptied Redis, and a lock counts as stale only once the keyspace is a
        # lease old (a holder that lost its lease with the keyspace has had a lease to come back).
        await asyncio.sleep(1.2)
        result = await engine.apply(spec(), Progress(), await engine.preview(spec(), Progress()))

    assert result.summary["create"] == 1
    assert not lock_files(tmp_path)


async def test_no_secret_on_any_command_line_and_no_chat_token_in_the_cli_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in CHAT_TOKENS.items():
        monkeypatch.setenv(name, value)
    spawned: list[list[str]] = []
    real_popen = subprocess.Popen

    class RecordingPopen(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, args: list[str], *rest: object, **kwargs: object) -> None:
            spawned.append([str(a) for a in args])
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    engine = make_engine(tmp_path, delay=2)
    running = asyncio.create_task(engine.apply(spec("postgres"), Progress()))

    cmdlines: dict[int, bytes] = {}
    environs: dict[int, bytes] = {}
    while not running.done():
        for pid in descendants(os.getpid()):
            cmdlines[pid] = read_proc(pid, "cmdline") or cmdlines.get(pid, b"")
            environs[pid] = read_proc(pid, "environ") or environs.get(pid, b"")
        await asyncio.sleep(0.05)
    await running

    # The scan saw the update itself and the provider process it started, so it is not vacuous.
    assert any(c.startswith(b"/") and b"/pulumi\0--non-interactive\0up\0" in c for c in cmdlines.values())
    assert any(b"pulumi-resource-pulumi-python" in c or b"python" in c for c in cmdlines.values())
    assert any(argv[1:3] == ["config", "set"] for argv in spawned)
    everything = b"\n".join(cmdlines.values()).decode(errors="replace") + "\n".join(" ".join(a) for a in spawned)
    for secret in (PASSPHRASE, DB_PASSWORD, "dbPassword=", "dbRootPassword="):
        assert secret not in everything
    for value in CHAT_TOKENS.values():
        leaks = [cmdlines[pid][:200] for pid, env in environs.items() if value.encode() in env]
        assert not leaks
    # ... while the CLI does get the passphrase, through its environment (which proves environs were read).
    passphrase_var = b"PULUMI_CONFIG_PASSPHRASE=" + PASSPHRASE.encode()
    ups = [pid for pid in cli_processes_seen(cmdlines) if b"\0up\0" in cmdlines[pid]]
    assert ups and all(passphrase_var in environs[pid] for pid in ups)


def cli_processes_seen(cmdlines: dict[int, bytes]) -> Iterator[int]:
    return (pid for pid, c in cmdlines.items() if c.split(b"\0")[0].endswith(b"/pulumi"))
