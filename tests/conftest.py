"""Real redis-server and FerretDB for the whole run; a fresh database and Redis keyspace per test."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from bots.runtime import Runtime, build_runtime
from config.local_services import REPO_ROOT, LocalServices, ensure_services, free_port
from config.settings import Settings
from jobs.worker.main import make_worker
from tests.slack_mock import MockSlack
from tests.support import bounded, running
from tests.web_chat import web_client


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The web chat API over ASGI, with the status relay running as in `infrabot web`."""
    async with web_client(runtime) as c:
        yield c


@pytest.fixture
def mock_slack() -> Iterator[MockSlack]:
    """A local HTTP server answering like Slack's Web API and recording every call."""
    mock = MockSlack().start()
    yield mock
    mock.stop()


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServices]:
    data = tmp_path_factory.mktemp("services")
    started = ensure_services(
        os.environ.get("REDIS_URL") or None,
        os.environ.get("MONGODB_URL") or None,
        data,
        redis_port=free_port(),
        mongo_port=free_port(),
        log_dir=data,
        bin_dir=REPO_ROOT / ".data" / "bin",
        durable=False,
    )
    yield started
    started.stop()


@pytest.fixture
def settings(services: LocalServices, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=services.redis_url,
        mongodb_url=services.mongodb_url,
        mongodb_db=f"test_{uuid.uuid4().hex[:12]}",
        engine="offline",
        data_dir=str(tmp_path / "data"),
        context_ttl_seconds=1800,
    )


@pytest.fixture
async def runtime(settings: Settings, services: LocalServices) -> AsyncIterator[Runtime]:
    flush = Redis.from_url(services.redis_url)
    await flush.flushdb()
    await flush.aclose()
    rt = await build_runtime(settings, services.redis_url, services.mongodb_url)
    yield rt
    await bounded(rt.close(), 30, "the runtime's shutdown")
    # FerretDB keeps a SQLite file and connection pool per database: a thousand left behind slow every later test.
    cleaner: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongodb_url)
    with contextlib.suppress(Exception):
        await cleaner.drop_database(settings.mongodb_db)
    await cleaner.close()


@pytest.fixture
async def worker(runtime: Runtime, settings: Settings, services: LocalServices) -> AsyncIterator[object]:
    """A real arq worker in this process, so queued jobs really run against the same servers."""
    async with running(make_worker(settings, services.redis_url, services.mongodb_url)) as w:
        yield w


def _print_tasks(nodeid: str) -> None:
    dump = io.StringIO()
    for task in asyncio.all_tasks():
        task.print_stack(limit=12, file=dump)
    print(f"{nodeid} is still running; its event loop's tasks:\n{dump.getvalue()}", file=sys.stderr)


@pytest.fixture(autouse=True)
async def _no_task_outlives_its_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """The tests share one event loop, and a task one test leaves running (a worker's reconciler, a turn still
    waiting on a stopped Slack stand-in) would act during the next tests, on their Redis keys and queue. It is
    cancelled once its test's own fixtures are torn down, and named in a warning.

    A test stuck on an await would otherwise end in pytest-timeout's report, which shows threads only: shortly
    before that, every task's stack is printed, naming the await that never returned."""
    before = asyncio.all_tasks()
    marked = request.node.get_closest_marker("timeout")
    timeout = float(marked.args[0] if marked and marked.args else request.config.getini("timeout") or 0)
    stuck = asyncio.get_running_loop().call_later(max(timeout - 20, 1), _print_tasks, request.node.nodeid) \
        if timeout else None
    yield
    if stuck is not None:
        stuck.cancel()
    left = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    if not left:
        return
    for task in left:
        task.cancel()
    await asyncio.wait(left, timeout=5)
    names = ", ".join(sorted({getattr(t.get_coro(), "__qualname__", t.get_name()) for t in left}))
    warnings.warn(f"{request.node.nodeid} left {len(left)} task(s) running, now cancelled: {names}", stacklevel=1)
