"""Slack side by side: a bare slack-bolt app (the floor) and infrabot's `/slack/events`, same stand-in.

Each target runs as its own process, as in production, and talks to one Slack Web API stand-in that runs in a
process of its own and reports every message call with the time it arrived. infrabot runs as `infrabot web`
in Slack HTTP mode with `infrabot worker` beside it. A reply is timed from sending the signed event until
`chat.postMessage`, `chat.postEphemeral` or `chat.startStream` for that thread reaches the stand-in; the answer
is timed until it is whole: the stream's `chat.stopStream`, or that first post. Each simulated user reads the
answer before typing the next turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from config.local_services import REPO_ROOT, port_open
from tests.slack_mock.server import BOT_TOKEN, BOT_USER, SIGNING_SECRET, TEAM, MockSlack

# The stand-in and the floor run in spawned processes, which import this module (and the benchmark's main
# module) again: the harness, which pulls in all of infrabot, is imported only where it is used.

TURNS = [
    "create a bucket and a postgres database for my app shop{n} in dev",
    "make it medium",
    "status",
    "help",
    "plan",
    "cancel",
]
# An ephemeral reply is a reply too: the user sees it in the thread.
MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.startStream", "chat.stopStream", "chat.update")


@dataclass
class Arrival:
    method: str
    channel: str
    thread_ts: str | None
    ts: str | None
    card: str | None  # "job:version" when the message is a status card
    mono: float
    wall: float
    made: str | None = None  # the ts of the message the call created (a stream's, for chat.startStream)


# The stand-in, in its own process.


def _standin_main(url_out: Any, arrivals: Any, stop: Any) -> None:
    """The stand-in's answers are MockSlack's, served by aiohttp: it stands for Slack, which runs on no core of
    this machine, and a threaded `http.server` spends more of the shared cores on each call."""
    from aiohttp import web

    class Recording(MockSlack):
        def answer(self, method: str, params: dict[str, Any], token: str | None) -> Any:
            result = super().answer(method, params, token)
            if method in MESSAGE_METHODS:
                blocks = params.get("blocks") or []
                ids = [str(b.get("block_id", "")) for b in blocks if isinstance(b, dict)]
                card = next((i.removeprefix("card:") for i in ids if i.startswith("card:")), None)
                made = result[1].get("ts") if method == "chat.startStream" else None
                arrivals.put((method, params.get("channel"), params.get("thread_ts"), params.get("ts"), card,
                              time.monotonic(), time.time(), made))
            self.calls.clear()  # a long run would otherwise keep every call
            if len(self.messages) > 20_000:
                # Finished messages only: a stream still open would fail its `chat.stopStream`.
                for key in [k for k, m in self.messages.items() if not m.get("streaming")]:
                    del self.messages[key]
            return result

    mock = Recording()  # its answers only: the test suite's own server is never started

    async def call(request: web.Request) -> web.Response:
        params: dict[str, Any] = {}
        if request.method == "POST":
            params = dict(await request.json()) if "json" in request.content_type else dict(await request.post())
        params.update(request.query)
        authorization = request.headers.get("Authorization", "")
        status, body, headers = mock.call(request.match_info["method"], params, authorization)
        return web.json_response(body, status=status, headers=headers)

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", call)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url_out.put(f"http://127.0.0.1:{port}/api/")
        await asyncio.to_thread(stop.wait)
        await runner.cleanup()

    asyncio.run(serve())


# The floor: a bare slack-bolt app that acks and posts one reply in the thread.


def _floor_main(port: int, api_url: str) -> None:
    import logging

    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    logging.basicConfig(level=logging.WARNING)
    app = AsyncApp(
        signing_secret=SIGNING_SECRET, process_before_response=False,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url),
    )

    async def reply(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.chat_postMessage(channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"],
                                      text="Got it! I'm working on that.")

    app.event("app_mention")(reply)
    app.event("message")(reply)
    app.start(port=port, path="/slack/events")


@dataclass
class Figures:
    ack: list[float] = field(default_factory=list)
    reply: list[float] = field(default_factory=list)
    answer: list[float] = field(default_factory=list)
    by_turn: dict[str, list[float]] = field(default_factory=dict)
    answer_by_turn: dict[str, list[float]] = field(default_factory=dict)
    closed_replies_per_s: float = 0.0
    lost: int = 0


@dataclass
class Waiter:
    """One turn's two moments: its first reply (a stream opening counts) and its whole answer."""

    first: asyncio.Future[float]
    whole: asyncio.Future[float]


class Replies:
    """Matches the stand-in's arrivals to the turns waiting for them, per thread."""

    def __init__(self, arrivals: Any) -> None:
        self.arrivals = arrivals
        self.cards: list[Arrival] = []
        self._waiting: dict[tuple[str, str], list[Waiter]] = {}
        self._streams: dict[tuple[str, str], str] = {}  # (channel, stream ts) -> thread ts
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def expect(self, channel: str, thread: str) -> Waiter:
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop.create_future(), loop.create_future())
        self._waiting.setdefault((channel, thread), []).append(waiter)
        return waiter

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                item = self.arrivals.get(timeout=0.2)
            except queue.Empty:
                continue
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._arrived, Arrival(*item))

    def _arrived(self, a: Arrival) -> None:
        if a.card is not None:
            self.cards.append(a)
            return
        if a.method in ("chat.stopStream", "chat.update"):
            # A stream's end (or the edit a failed stream falls back to) completes the answer it carries.
            thread = self._streams.pop((a.channel, a.ts or ""), None)
            if thread is not None:
                self._resolve(a.channel, thread, a.mono, first=False)
            return
        if not a.thread_ts:
            return
        if a.method == "chat.startStream":
            self._streams[(a.channel, a.made or "")] = a.thread_ts
            self._resolve(a.channel, a.thread_ts, a.mono, first=True)
            return
        self._resolve(a.channel, a.thread_ts, a.mono, first=True)
        self._resolve(a.channel, a.thread_ts, a.mono, first=False)

    def _resolve(self, channel: str, thread: str, at: float, *, first: bool) -> None:
        waiting = self._waiting.get((channel, thread)) or []
        for waiter in waiting:
            future = waiter.first if first else waiter.whole
            if not future.done():
                future.set_result(at)
                break
        while waiting and waiting[0].first.done() and waiting[0].whole.done():
            waiting.pop(0)


@dataclass
class Posted:
    status_code: int
    text: str


class EventPoster:
    """Sends signed events as Slack does, on one aiohttp session.

    The load generator shares the two cores with what it measures, so it should cost little: profiled under
    `make bench-quick`, httpx's connection pool (a readability poll and `getpeername` per request) was a third
    of this process's CPU, which aiohttp's pool does not spend."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.url = f"{base}/slack/events"
        self.team = TEAM
        self.bot_user = BOT_USER

    async def event(self, event: dict[str, Any]) -> Posted:
        from tests.slack_mock.harness import event_body, sign

        body = event_body(event, self.team, self.bot_user)
        ts = int(time.time())
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(ts),
                   "X-Slack-Signature": sign(body, ts)}
        async with self.session.post(self.url, data=body.encode(), headers=headers) as response:
            return Posted(response.status, await response.text())


async def converse(
    slack: EventPoster, replies: Replies, n: int, turns: list[str], figures: Figures, think: tuple[float, float]
) -> None:
    channel = f"CB{n:04d}"
    root = f"{1_800_000_000 + random.randint(0, 10**8)}.{uuid.uuid4().int % 1_000_000:06d}"
    await asyncio.sleep(random.uniform(0, think[1]))
    for i, text in enumerate(turns):
        text = text.format(n=n)
        if i == 0:
            event = {"type": "app_mention", "user": f"U{n}", "text": f"<@{slack.bot_user}> {text}", "ts": root,
                     "channel": channel, "team": slack.team}
        else:
            event = {"type": "message", "user": f"U{n}", "text": text, "ts": f"{time.time():.6f}",
                     "channel": channel, "channel_type": "channel", "team": slack.team, "thread_ts": root}
        waiter = replies.expect(channel, root)
        start = time.monotonic()
        response = await slack.event(event)
        figures.ack.append(time.monotonic() - start)
        if response.status_code != 200:
            raise RuntimeError(f"event refused: {response.status_code} {response.text[:200]}")
        try:
            whole = await asyncio.wait_for(waiter.whole, timeout=20)
            arrived = waiter.first.result() if waiter.first.done() else whole
        except TimeoutError:
            figures.lost += 1
            continue
        figures.reply.append(arrived - start)
        figures.answer.append(whole - start)
        figures.by_turn.setdefault(TURNS[i].format(n="N"), []).append(arrived - start)
        figures.answer_by_turn.setdefault(TURNS[i].format(n="N"), []).append(whole - start)
        await asyncio.sleep(random.uniform(*think))


async def closed_loop(slack: EventPoster, replies: Replies, senders: int, seconds: float) -> float:
    count = 0
    deadline = time.monotonic() + seconds

    async def sender(s: int) -> None:
        nonlocal count
        while time.monotonic() < deadline:
            channel = f"CL{s:03d}"
            ts = f"{time.time():.6f}{random.randint(0, 9)}"
            waiter = replies.expect(channel, ts)
            await slack.event({"type": "app_mention", "user": f"UL{s}", "text": f"<@{slack.bot_user}> help",
                               "ts": ts, "channel": channel, "team": slack.team})
            try:
                await asyncio.wait_for(waiter.whole, timeout=20)
            except TimeoutError:
                continue
            count += 1

    start = time.monotonic()
    await asyncio.gather(*(sender(s) for s in range(senders)))
    return count / (time.monotonic() - start)


async def drive(
    base: str, api_url: str, replies: Replies, *, conversations: int, turns: int, think: tuple[float, float],
    senders: int, closed_seconds: float, label: str
) -> Figures:
    figures = Figures()
    connector = aiohttp.TCPConnector(limit=conversations + senders + 5)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        slack = EventPoster(http, base)
        for n in range(3):  # warm-up: first-call costs (imports, connections) are not what is measured
            await converse(slack, replies, 9000 + n, ["help"], Figures(), (0, 0))
        await asyncio.gather(*(
            converse(slack, replies, n, TURNS[:turns], figures, think) for n in range(conversations)
        ))
        if closed_seconds > 0:
            figures.closed_replies_per_s = await closed_loop(slack, replies, senders, closed_seconds)
    if figures.lost:
        print(f"  {label}: {figures.lost} replies never arrived")
    return figures


# Processes.


def wait_port(proc: Any, port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        alive = proc.is_alive() if hasattr(proc, "is_alive") else proc.poll() is None
        if not alive or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def infrabot_env(redis_url: str, mongodb_url: str, db: str, data: Path, api_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url, "MONGODB_URL": mongodb_url, "MONGODB_DB": db, "PORT": str(port),
        "DATA_DIR": str(data), "LOG_LEVEL": "WARNING", "ENGINE": "offline",
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": api_url,
        # As `infrabot run` starts it; SLACK_CARDS=chat in the environment measures the web process relaying.
        "SLACK_CARDS": os.environ.get("SLACK_CARDS", "relay"),
    }


@contextlib.contextmanager
def standin() -> Iterator[tuple[str, Any, int]]:
    ctx = mp.get_context("spawn")
    url_out, arrivals, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_standin_main, args=(url_out, arrivals, stop), daemon=True)
    proc.start()
    try:
        yield url_out.get(timeout=30), arrivals, proc.pid or 0
    finally:
        stop.set()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()


def _stop(procs: list[Any], within: float = 1.0) -> None:
    """A benchmark needs no graceful stop: what is still running after `within` seconds is killed."""
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + within
    for proc in procs:
        alive = proc.is_alive if hasattr(proc, "is_alive") else (lambda p=proc: p.poll() is None)
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive():
            proc.kill()
        if hasattr(proc, "join"):
            proc.join(timeout=5)
        else:
            proc.wait(timeout=5)


@dataclass
class Infrabot:
    """infrabot's processes, as `infrabot run` starts them with Slack configured: web, worker and, unless
    SLACK_CARDS=chat, the card relay."""

    web: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    relay: subprocess.Popen[bytes] | None
    relay_url: str | None

    def pids(self) -> dict[str, int]:
        return {"web": self.web.pid, "worker": self.worker.pid, **({"relay": self.relay.pid} if self.relay else {})}


@contextlib.contextmanager
def both_apps(
    floor_port: int, api_url: str, env: dict[str, str], port: int, relay_port: int
) -> Iterator[Infrabot]:
    """The bare Bolt app and infrabot, started together so their start-ups overlap."""
    floor_proc = mp.get_context("spawn").Process(target=_floor_main, args=(floor_port, api_url), daemon=True)
    floor_proc.start()

    def start(command: str, **extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "bots.cli", command], env={**env, **extra}, cwd=REPO_ROOT)

    relayed = env.get("SLACK_CARDS") == "relay"
    app = Infrabot(start("web"), start("worker"), start("relay", METRICS_PORT=str(relay_port)) if relayed else None,
                   f"http://127.0.0.1:{relay_port}" if relayed else None)
    try:
        wait_port(floor_proc, floor_port, "the bare Bolt app")
        wait_port(app.web, port, "infrabot web")
        if app.relay is not None:
            wait_port(app.relay, relay_port, "infrabot relay")
        # The floor is measured with infrabot idle: its worker may still be importing after the web listens.
        wait_idle(list(app.pids().values()))
        yield app
    finally:
        _stop([floor_proc, app.web, app.worker, *filter(None, [app.relay])])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    used = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError, IndexError, ValueError):
            used[name] = cpu_seconds(pid)
    return used


def wait_idle(pids: list[int], share: float = 0.05, window: float = 0.5, within: float = 60.0) -> None:
    """Waits until the processes together use under `share` of a core over `window` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            before = sum(cpu_seconds(p) for p in pids)
            time.sleep(window)
            used = sum(cpu_seconds(p) for p in pids) - before
        except (OSError, IndexError, ValueError):
            return  # not Linux, or a process is gone: nothing to wait for
        if used < share * window:
            return


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# Figures read from the stores after a run.

SETTLED = {"awaiting_approval", "succeeded", "failed", "cancelled"}


async def card_latencies(db: Any, cards: list[Arrival]) -> tuple[list[float], list[float]]:
    """Seconds from the worker writing a job's phase change to a card showing it (or a later version) arriving.

    Returns (settled phases, every phase change). Versions a newer job superseded never reach a card and are
    left out.
    """
    from pymongo.errors import PyMongoError

    shown: dict[str, list[tuple[int, float]]] = {}
    for a in cards:
        job, _, version = (a.card or "").rpartition(":")
        shown.setdefault(job, []).append((int(version), a.wall))
    settled: list[float] = []
    every: list[float] = []
    # Each by `_id`: FerretDB would answer `$in` by scanning every job, seeded ones included. A few at a time:
    # a burst of new connections makes FerretDB far slower than a few reused ones.
    docs: list[Any] = []
    ids = list(shown)
    for start in range(0, len(ids), 8):
        try:
            docs += await asyncio.gather(*(db.jobs.find_one({"_id": job}, {"events": 1})
                                           for job in ids[start:start + 8]))
        except PyMongoError as exc:
            print(f"  card latencies: the store did not answer ({type(exc).__name__}); {len(ids[start:start + 8])} "
                  "jobs left out")
    for doc in docs:
        if doc is None:
            continue
        for event in doc.get("events") or []:
            times = [wall for version, wall in shown[doc["_id"]] if version >= int(event.get("version", 0))]
            if not times:
                continue
            latency = max(min(times) - event["ts"].timestamp(), 0.0)
            every.append(latency)
            if event.get("phase") in SETTLED:
                settled.append(latency)
    return settled, every


async def context_bytes(redis: Any) -> tuple[int, float]:
    """Live thread contexts and the Redis bytes each costs, its long-lived thread marker included."""
    contexts = [k async for k in redis.scan_iter("infrabot:ctx:*", count=1000)]
    markers = [k async for k in redis.scan_iter("infrabot:thread:*", count=1000)]
    total = 0
    for key in contexts + markers:
        total += await redis.memory_usage(key) or 0
    return len(contexts), total / max(len(contexts), 1)


async def seed(db: Any, jobs: int, messages: int) -> float:
    """Fills the store with finished history, as weeks of a busy team would leave it: requests with their
    keyed pointers (thread, user and stack lists), finished jobs with their change logs, and messages.

    Sequential `insert_many` batches: FerretDB's SQLite takes one writer at a time, so parallel batches would
    only queue up in its busy back-off.
    """
    from datetime import UTC, datetime, timedelta

    start = time.monotonic()
    old = datetime.now(UTC) - timedelta(days=30)
    batch = 1000
    users: dict[str, list[str]] = {}
    for base in range(0, jobs, batch):
        requests, docs, latest, lists = [], [], [], []
        for i in range(base, min(base + batch, jobs)):
            thread = {"platform": "slack", "workspace": "T0001", "channel": "CSEED", "thread": f"1700000000.{i:06d}"}
            key = f"slack:T0001:CSEED:1700000000.{i:06d}"
            user_key = f"slack:T0001:US{i % 50}"
            requests.append({"_id": f"seed-r{i}", "status": "applied", "stack": f"seed{i}-dev", "thread_key": key,
                             "thread": thread, "user_key": user_key, "latest_job": f"apply-seed{i}",
                             "user": f"US{i % 50}", "spec": {"app": f"seed{i}", "components": [{"kind": "bucket"}]},
                             "created_at": old, "updated_at": old})
            docs.append({"_id": f"apply-seed{i}", "kind": "apply", "request_id": f"seed-r{i}", "thread": thread,
                         "phase": "succeeded", "version": 12, "relayed_version": 12, "relay_pending": False,
                         "done": 10, "total": 10, "created_at": old, "finished_at": old, "engine": "offline",
                         "events": [{"ts": old, "phase": None, "message": f"step {s}", "done": s, "total": 10}
                                    for s in range(10)]})
            latest.append({"_id": key, "request_id": f"seed-r{i}"})
            lists.append({"_id": f"stack:seed{i}-dev", "ids": [f"seed-r{i}"]})
            users.setdefault(f"user:{user_key}", []).append(f"seed-r{i}")
        await insert_patiently(db.requests, requests)
        await insert_patiently(db.jobs, docs)
        await insert_patiently(db.thread_latest, latest)
        await insert_patiently(db.request_lists, lists)
    await insert_patiently(db.request_lists, [{"_id": k, "ids": ids} for k, ids in users.items()])
    for base in range(0, messages, batch):
        await insert_patiently(db.messages, [
            {"_id": f"seed-m{i}", "thread_key": f"slack:T0001:CSEED:1700000000.{i % max(jobs, 1):06d}",
             "role": "user", "text": "create a bucket for my app", "ts": old, "order": i, "meta": {}}
            for i in range(base, min(base + batch, messages))
        ])
    return time.monotonic() - start


async def absorbed(db: Any, within: float = 120.0) -> float:
    """Waits until the store answers a write and a keyed read quickly again after seeding; returns how long.

    Seeding writes 110,000 documents in about a minute: SQLite then checkpoints its write-ahead log, and
    writes stall meanwhile. Weeks of history don't arrive in a minute, so that stall is not what the seeded
    figures are about; how long it lasts is printed.
    """
    from pymongo.errors import PyMongoError

    start = time.monotonic()
    quick = 0
    while quick < 5 and time.monotonic() - start < within:
        began = time.monotonic()
        try:
            await db.bench_probe.replace_one({"_id": "probe"}, {"at": began}, upsert=True)
            await db.jobs.find_one({"_id": "apply-seed0"}, {"events": 0})
        except PyMongoError:
            quick = 0
            continue
        quick = quick + 1 if time.monotonic() - began < 0.05 else 0
        await asyncio.sleep(0.2)
    return time.monotonic() - start


async def insert_patiently(collection: Any, docs: list[dict[str, Any]], attempts: int = 8) -> None:
    """Inserts while infrabot and its worker write too: FerretDB's SQLite answers SQLITE_BUSY when another
    writer holds the database, so a batch is retried with backoff. A retried batch may find some of its
    documents already stored by the attempt that failed; those duplicates are expected."""
    from pymongo.errors import BulkWriteError, PyMongoError

    delay = 0.05
    for attempt in range(attempts):
        try:
            await collection.insert_many(docs, ordered=False)
            return
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if all(err.get("code") == 11000 for err in errors):
                return  # everything not inserted now was inserted by an earlier attempt
            if attempt == attempts - 1 or not all(err.get("code") == 11000 or _busy(err.get("errmsg"))
                                                  for err in errors):
                raise
        except PyMongoError as exc:
            if attempt == attempts - 1 or not _busy(str(exc)):
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


def _busy(message: object) -> bool:
    text = str(message or "")
    return "SQLITE_BUSY" in text or "database is locked" in text


async def settle(db: Any, redis: Any, within: float = 60) -> None:
    """Waits until every job of the run is finished and its card caught up (or `within` seconds passed).

    Reads only keyed, small lists (the open jobs, the relay's work list): a query on `phase` would make
    FerretDB scan every seeded job on each poll and slow the very processes being measured.
    """
    from pymongo.errors import PyMongoError

    from infra.redis_keys import RELAY_PREFIX, RELAY_SYNCED

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            open_jobs = await db.open_jobs.count_documents({"_id": {"$ne": "__backfilled__"}})
        except PyMongoError as exc:
            # A store that stalls under the load is a finding to report, not a reason to lose the figures.
            print(f"  settle: the store did not answer ({type(exc).__name__}); waiting on")
            continue
        waiting = 0
        async for key in redis.scan_iter(f"{RELAY_PREFIX}:*"):
            if key.decode() != RELAY_SYNCED:
                waiting += await redis.zcard(key)
        if not open_jobs and not waiting:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(0.5)  # the stand-in's report of the last edit


@contextlib.contextmanager
def profiled(pid: int) -> Iterator[None]:
    """With BENCH_PROFILE=FILE, samples the web process with py-spy (`pip install py-spy`) while it runs."""
    out = os.environ.get("BENCH_PROFILE")
    if not out:
        yield
        return
    beside = Path(sys.executable).parent / "py-spy"
    spy = subprocess.Popen([str(beside) if beside.exists() else "py-spy", "record", "--pid", str(pid),
                            "--format", "raw", "--output", out, "--rate", "200", "--nonblocking"])
    try:
        yield
    finally:
        spy.send_signal(2)
        spy.wait(timeout=30)


@dataclass
class RelayCost:
    """The relay's passes (in whichever process shows the cards) and the web process's chat turns over one phase,
    from their /metrics counters."""

    idle_passes: int = 0
    idle_seconds: float = 0.0
    busy_passes: int = 0
    busy_seconds: float = 0.0
    cards: int = 0
    turns: int = 0
    turn_seconds: float = 0.0
    # MongoDB command -> (count, seconds), as the web process saw them
    mongo: dict[str, tuple[float, float]] = field(default_factory=dict)

    def minus(self, before: RelayCost) -> RelayCost:
        diff = RelayCost(*(getattr(self, f) - getattr(before, f) for f in
                           ("idle_passes", "idle_seconds", "busy_passes", "busy_seconds", "cards", "turns",
                            "turn_seconds")))
        diff.mongo = {name: (n - before.mongo.get(name, (0, 0))[0], t - before.mongo.get(name, (0, 0))[1])
                      for name, (n, t) in self.mongo.items()}
        return diff

    def mongo_line(self) -> str:
        busy = sorted(((n, t, name) for name, (n, t) in self.mongo.items() if n), reverse=True)
        return ", ".join(f"{name} {n:.0f}x {t / n * 1000:.1f} ms" for n, t, name in busy)

    @property
    def turn_ms(self) -> float:
        """Mean time from a message reaching the core to its replies being ready (durably recorded)."""
        return self.turn_seconds / self.turns * 1000 if self.turns else float("nan")

    @property
    def idle_ms(self) -> float:
        return self.idle_seconds / self.idle_passes * 1000 if self.idle_passes else float("nan")

    @property
    def per_card_ms(self) -> float:
        return self.busy_seconds / self.cards * 1000 if self.cards else float("nan")


async def relay_cost(web: str, relay: str | None = None) -> RelayCost:
    """The relay's figures come from whichever process relays (`infrabot relay` when there is one), the turns'
    and the MongoDB round trips from the web process."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(f"{web}/metrics") as response:
            text = await response.text()
        if relay:
            async with http.get(f"{relay}/metrics") as response:
                relay_text = await response.text()
        else:
            relay_text = text
    values: dict[str, float] = {}
    for line in relay_text.splitlines():
        if line.startswith(("infrabot_relay_pass_seconds_", "infrabot_relay_cards_shown_total")):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    for line in text.splitlines():
        if line.startswith(('infrabot_reply_seconds_sum{platform="slack"}',
                            'infrabot_reply_seconds_count{platform="slack"}')):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    mongo: dict[str, tuple[float, float]] = {}
    for line in text.splitlines():
        if line.startswith("infrabot_mongo_command_seconds_"):
            name, _, value = line.rpartition(" ")
            command = name.split('command="', 1)[1].split('"', 1)[0]
            n, t = mongo.get(command, (0.0, 0.0))
            if name.startswith("infrabot_mongo_command_seconds_count"):
                mongo[command] = (float(value), t)
            elif name.startswith("infrabot_mongo_command_seconds_sum"):
                mongo[command] = (n, float(value))
    return RelayCost(
        mongo=mongo,
        idle_passes=int(values.get('infrabot_relay_pass_seconds_count{shown="no"}', 0)),
        idle_seconds=values.get('infrabot_relay_pass_seconds_sum{shown="no"}', 0.0),
        busy_passes=int(values.get('infrabot_relay_pass_seconds_count{shown="yes"}', 0)),
        busy_seconds=values.get('infrabot_relay_pass_seconds_sum{shown="yes"}', 0.0),
        cards=int(values.get("infrabot_relay_cards_shown_total", 0)),
        turns=int(values.get('infrabot_reply_seconds_count{platform="slack"}', 0)),
        turn_seconds=values.get('infrabot_reply_seconds_sum{platform="slack"}', 0.0),
    )


class Phases:
    """How long each part of the run took: what `make bench-quick`'s minute is spent on."""

    def __init__(self) -> None:
        self.start = self.mark = time.monotonic()
        self.spent: list[tuple[str, float]] = []

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.spent.append((name, now - self.mark))
        self.mark = now

    def line(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.spent)
        return f"{parts}; {time.monotonic() - self.start:.0f} s in all"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class SlackRun:
    floor: Figures
    empty: Figures
    seeded: Figures | None
    cards_empty: tuple[list[float], list[float]]
    cards_seeded: tuple[list[float], list[float]] | None
    contexts: int
    bytes_per_context: float
    rss_mb: float
    seed_seconds: float = 0.0
    relay_empty: RelayCost = field(default_factory=RelayCost)
    relay_seeded: RelayCost | None = None
    phases: str = ""
    cpu: dict[str, float] = field(default_factory=dict)  # share of one core per process, infrabot's phase
    relay_rss_mb: float | None = None  # `infrabot relay`, when it shows the cards
    store_rss_mb: dict[str, float] = field(default_factory=dict)


async def run_slack(
    redis_url: str, mongodb_url: str, data: Path, *, conversations: int, turns: int, senders: int,
    closed_seconds: float, seed_jobs: int = 0, seed_messages: int = 0, think: tuple[float, float] = (0.5, 1.5),
    free_port: Any, store_pids: dict[str, int] | None = None,
) -> SlackRun:
    from redis.asyncio import Redis

    from jobs.stores.mongo import connect

    db_name = f"bench_slack_{uuid.uuid4().hex[:8]}"
    kw = dict(conversations=conversations, turns=turns, think=think, senders=senders, closed_seconds=closed_seconds)
    with standin() as (api_url, arrivals, standin_pid):
        replies = Replies(arrivals)
        replies.start()
        try:
            floor_port, port, relay_port = free_port(), free_port(), free_port()
            env = infrabot_env(redis_url, mongodb_url, db_name, data, api_url, port)
            mongo, db = connect(mongodb_url, db_name)
            redis = Redis.from_url(redis_url)
            phases = Phases()
            try:
                with both_apps(floor_port, api_url, env, port, relay_port) as app:
                    web = app.web
                    # The stand-in and this load generator share the two cores too: their share says how much of a
                    # reply's time is the benchmark's own.
                    watched = {**app.pids(), **(store_pids or {}),
                               "Slack stand-in": standin_pid, "load generator": os.getpid()}
                    phases.done("start-up")
                    infrabot = f"http://127.0.0.1:{port}"
                    # infrabot idles meanwhile (its worker polls the queue, its relay wakes every 2 s).
                    floor_figures = await drive(f"http://127.0.0.1:{floor_port}", api_url, replies, label="floor",
                                                **kw)
                    phases.done("floor")
                    with profiled(web.pid):
                        replies.cards.clear()
                        before = await relay_cost(infrabot, app.relay_url)
                        cpu_before, started = cpu_of(watched), time.monotonic()
                        empty = await drive(infrabot, api_url, replies, label="infrabot", **kw)
                        cpu = {name: (used - cpu_before.get(name, 0.0)) / (time.monotonic() - started)
                               for name, used in cpu_of(watched).items()}
                        phases.done("infrabot")
                        await settle(db, redis)
                        relay_empty = (await relay_cost(infrabot, app.relay_url)).minus(before)
                        phases.done("settle")
                        cards_empty = await card_latencies(db, replies.cards)
                        contexts, per_context = await context_bytes(redis)
                        seeded = cards_seeded = relay_seeded = None
                        seed_seconds = 0.0
                        if seed_jobs or seed_messages:
                            seed_seconds = await seed(db, seed_jobs, seed_messages)
                            phases.done("seeding")
                            await absorbed(db)
                            phases.done("store absorbing the seed")
                            replies.cards.clear()
                            before = await relay_cost(infrabot, app.relay_url)
                            seeded = await drive(infrabot, api_url, replies, label="seeded", **kw)
                            await settle(db, redis)
                            relay_seeded = (await relay_cost(infrabot, app.relay_url)).minus(before)
                            cards_seeded = await card_latencies(db, replies.cards)
                            phases.done("seeded store")
                        rss = rss_mb(web.pid)
                        relay_rss = rss_mb(app.relay.pid) if app.relay else None
                        store_rss = {name: rss_mb(pid) for name, pid in (store_pids or {}).items()}
            finally:
                await redis.aclose()
                await mongo.close()
        finally:
            replies.stop()
    phases.done("stop")
    return SlackRun(floor_figures, empty, seeded, cards_empty, cards_seeded, contexts, per_context, rss, seed_seconds,
                    relay_empty, relay_seeded, phases.line(), cpu, relay_rss, store_rss)


def _ratio(a: float, b: float) -> float:
    return a / b if b and b == b else float("nan")


def print_slack(run: SlackRun) -> None:
    f, e, s = run.floor, run.empty, run.seeded

    def ms(values: list[float], q: float) -> float:
        return pct(values, q) * 1000

    def row(name: str, floor_v: float, empty_v: float, seeded_v: float | None, unit: str, goal: str) -> None:
        cells = f"{floor_v:9.1f} {unit:<5} {empty_v:9.1f} {unit:<5} ({_ratio(empty_v, floor_v):5.2f}x)"
        if seeded_v is not None:
            cells += (f" {seeded_v:9.1f} {unit:<5} ({_ratio(seeded_v, floor_v):5.2f}x)"
                      f"   {_ratio(seeded_v, empty_v):5.2f}x")
        print(f"  {name:<26}{cells}   goal: {goal}")

    print(f"  {'figure':<26}{'floor':>15} {'infrabot, empty store':>24}"
          + (f" {'infrabot, seeded store':>24}   seeded/empty" if s else ""))
    row("ack p50", ms(f.ack, 0.5), ms(e.ack, 0.5), ms(s.ack, 0.5) if s else None, "ms", "-")
    row("ack p99", ms(f.ack, 0.99), ms(e.ack, 0.99), ms(s.ack, 0.99) if s else None, "ms", "-")
    row("reply p50", ms(f.reply, 0.5), ms(e.reply, 0.5), ms(s.reply, 0.5) if s else None, "ms", "<= 5x floor")
    row("reply p99", ms(f.reply, 0.99), ms(e.reply, 0.99), ms(s.reply, 0.99) if s else None, "ms", "<= 50 ms")
    row("whole answer p50", ms(f.answer, 0.5), ms(e.answer, 0.5), ms(s.answer, 0.5) if s else None, "ms", "-")
    row("whole answer p99", ms(f.answer, 0.99), ms(e.answer, 0.99), ms(s.answer, 0.99) if s else None, "ms", "-")
    row("closed-loop replies/s", f.closed_replies_per_s, e.closed_replies_per_s,
        s.closed_replies_per_s if s else None, "/s", ">= 0.5x floor")
    mean_reply = statistics.mean(e.reply) * 1000 if e.reply else float("nan")
    print(f"    where a reply's time goes, empty store: mean {mean_reply:.0f} ms from event POST to the reply's "
          f"arrival, of which {run.relay_empty.turn_ms:.0f} ms in the core (message in -> replies durable; "
          "every turn's mean)"
          + (f"; seeded store: mean {statistics.mean(s.reply) * 1000:.0f} ms, core "
             f"{run.relay_seeded.turn_ms:.0f} ms" if s and s.reply and run.relay_seeded else ""))
    if run.cpu:
        print("    CPU while infrabot served (share of one core): "
              + ", ".join(f"{name} {share:.0%}" for name, share in run.cpu.items()))
    print(f"    MongoDB round trips of the web process, empty store: {run.relay_empty.mongo_line()}")
    if run.relay_seeded:
        print(f"    MongoDB round trips of the web process, seeded store: {run.relay_seeded.mongo_line()}")
    for text in e.by_turn:
        sv = ms(s.by_turn.get(text, []), 0.99) if s else None
        print(f"    reply p99 for {text[:30]!r:<32} {ms(e.by_turn[text], 0.99):9.1f} ms, whole answer "
              f"{ms(e.answer_by_turn.get(text, []), 0.99):7.1f} ms"
              + (f"   seeded {sv:9.1f} ms ({_ratio(sv, ms(e.by_turn[text], 0.99)):.2f}x)" if sv is not None else ""))

    def cards(label: str, found: tuple[list[float], list[float]]) -> str:
        settled, every = found
        return (f"{label}: settled p50 {ms(settled, 0.5):.0f} ms p99 {ms(settled, 0.99):.0f} ms (n={len(settled)}); "
                f"every phase change p99 {ms(every, 0.99):.0f} ms (n={len(every)})")

    print("  status written -> card shown, " + cards("empty store", run.cards_empty) + "   goal: p99 <= 1 s")
    if run.cards_seeded:
        print("                                 " + cards("seeded store", run.cards_seeded))

    def relay(label: str, cost: RelayCost) -> str:
        return (f"{label}: idle pass {cost.idle_ms:.1f} ms (n={cost.idle_passes}), "
                f"{cost.per_card_ms:.1f} ms per card shown (n={cost.cards})")

    print("  relay cost, " + relay("empty store", run.relay_empty))
    if run.relay_seeded:
        r = run.relay_seeded
        e_r = run.relay_empty
        print("              " + relay("seeded store", r)
              + f"   seeded/empty: idle {_ratio(r.idle_ms, e_r.idle_ms):.2f}x,"
              f" per card {_ratio(r.per_card_ms, e_r.per_card_ms):.2f}x   goal: unchanged")
        print(f"    (seeding 10,000 finished jobs and 100,000 messages took {run.seed_seconds:.0f} s)")
    print(f"  Redis per live thread context: {run.bytes_per_context:.0f} bytes over {run.contexts} contexts"
          "   goal: <= 2 KB")
    print(f"  web process RSS after the run: {run.rss_mb:.0f} MB"
          + (f"; the card relay's: {run.relay_rss_mb:.0f} MB" if run.relay_rss_mb is not None else "")
          + "".join(f"; {name}'s: {mb:.0f} MB" for name, mb in run.store_rss_mb.items()))
    if run.phases:
        print(f"  time taken: {run.phases}")
