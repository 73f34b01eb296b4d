"""The chaos check: two chat processes and two workers on one Redis and one FerretDB, faults mid-apply.

Starts the embedded Redis and FerretDB, two `infrabot web` processes (Slack over HTTP, against the Slack
stand-in) and two `infrabot worker` processes with a slow offline engine; drives 12 requests (web chat and
signed Slack events, alternating between the web processes), approves them all and, while the applies run,
SIGKILLs a worker, FLUSHALLs Redis, freezes FerretDB for 6 s and SIGKILLs a web process. Then it waits for
every request to end and reports what happened: `check()` lists what is wrong (nothing, when all is well).

Run it with `make chaos` (or `python -m tests.chaos`); the suite runs it too (tests/e2e/test_chaos.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from config.local_services import REPO_ROOT, free_port, spawn, start_ferretdb, start_redis
from tests.slack_mock import MockSlack
from tests.slack_mock.harness import SIGNING_SECRET, SlackClient
from tests.slack_mock.server import BOT_TOKEN, TEAM

REQUESTS = 12
STEP_SECONDS = 0.5
LEASE_SECONDS = 4
FREEZE_SECONDS = 6.0
# Generous: a loaded CI machine is slow; nothing here sleeps in place of checking.
START_WITHIN = 90.0
PLAN_WITHIN = 120.0
FINISH_WITHIN = 180.0
DB = "chaos"


@dataclass
class Outcome:
    statuses: dict[str, str] = field(default_factory=dict)  # request id -> status
    applies: dict[str, int] = field(default_factory=dict)  # stack -> "applied" audit records
    slack_cards: dict[str, list[str]] = field(default_factory=dict)  # slack thread -> its cards' texts
    recovery_seconds: float | None = None
    faults: list[str] = field(default_factory=list)
    check_cards: bool = True

    def problems(self) -> list[str]:
        wrong = [f"request {r} ended {s}" for r, s in self.statuses.items() if s != "applied"]
        if len(self.statuses) != REQUESTS:
            wrong.append(f"{len(self.statuses)} requests recorded, expected {REQUESTS}")
        wrong += [f"stack {s} applied {n} times" for s, n in self.applies.items() if n != 1]
        if len(self.applies) != REQUESTS:
            wrong.append(f"{len(self.applies)} stacks applied, expected {REQUESTS}")
        if self.check_cards:
            for thread, cards in self.slack_cards.items():
                if len(cards) != 1:
                    wrong.append(f"slack thread {thread} has {len(cards)} cards")
                elif "Done:" not in cards[0]:
                    wrong.append(f"slack thread {thread}'s card ends as: {cards[0][:120]!r}")
        return wrong


def card_text(message: dict[str, Any]) -> str:
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"].get("text", ""))
        parts.extend(e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str))
    return "\n".join(parts)


class Cluster:
    """The servers and the four infrabot processes, with their logs under `root`."""

    def __init__(self, root: Path, mock: MockSlack) -> None:
        self.root = root
        self.mock = mock
        self.redis_port, self.mongo_port = free_port(), free_port()
        self.web_ports = [free_port(), free_port()]
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.mongo_url = f"mongodb://127.0.0.1:{self.mongo_port}/"
        self.servers: dict[str, subprocess.Popen[bytes]] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.killed: set[str] = set()

    def env(self, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV")}
        return {
            **keep, "PYTHONPATH": str(REPO_ROOT), "REDIS_URL": self.redis_url, "MONGODB_URL": self.mongo_url,
            "MONGODB_DB": DB, "ENGINE": "offline", "DATA_DIR": str(self.root / "data"), "LOG_LEVEL": "INFO",
            "OFFLINE_STEP_SECONDS": str(STEP_SECONDS), "JOB_LEASE_SECONDS": str(LEASE_SECONDS), **extra,
        }

    def start(self) -> None:
        data = self.root / "data"
        (data / "bin").mkdir(parents=True, exist_ok=True)
        self.servers["redis"] = start_redis(data, self.redis_port, self.root / "redis.log")
        self.servers["ferretdb"] = start_ferretdb(data, self.mongo_port, self.root / "ferretdb.log",
                                                  bin_dir=REPO_ROOT / ".data" / "bin")
        for n, port in enumerate(self.web_ports, start=1):
            # Slack over HTTP on the web processes only: workers never see chat tokens.
            self._spawn(f"web{n}", "web", PORT=str(port), SLACK_BOT_TOKEN=BOT_TOKEN,
                        SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=self.mock.url)
        for n in (1, 2):
            self._spawn(f"worker{n}", "worker")

    def _spawn(self, name: str, command: str, **extra: str) -> None:
        log = open(self.root / f"{name}.log", "ab")
        self.procs[name] = spawn([sys.executable, "-m", "bots.cli", command], env=self.env(**extra),
                                 cwd=self.root, stdout=log, stderr=subprocess.STDOUT)

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + START_WITHIN
        async with httpx.AsyncClient() as http:
            for port in self.web_ports:
                while True:
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    self.alive_or_fail()
                    if time.monotonic() > deadline:
                        raise AssertionError(f"web on port {port} did not start")
                    await asyncio.sleep(0.2)

    def alive_or_fail(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None and name not in self.killed:
                raise AssertionError(f"{name} exited ({proc.returncode}); see {self.root / (name + '.log')}")

    def kill(self, name: str) -> None:
        self.killed.add(name)
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        ferret = self.servers.get("ferretdb")
        if ferret and ferret.poll() is None:
            ferret.send_signal(signal.SIGCONT)
        for server in self.servers.values():
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()

    def tail(self, lines: int = 25) -> str:
        out = []
        for path in sorted(self.root.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


class Driver:
    """Sends the requests and approvals as people would, through both web processes."""

    def __init__(self, cluster: Cluster, http: httpx.AsyncClient, db: Any) -> None:
        self.cluster = cluster
        self.http = http
        self.db = db
        self.web_threads: dict[int, str] = {}
        self.slack_threads: dict[int, str] = {}

    def base(self, n: int) -> str:
        return f"http://127.0.0.1:{self.cluster.web_ports[n % 2]}"

    def slack(self, n: int) -> SlackClient:
        return SlackClient(httpx.AsyncClient(base_url=self.base(n), timeout=30), self.cluster.mock)

    @staticmethod
    def text(n: int) -> str:
        return f"create a bucket and a queue for my app chaos{n} in dev"

    async def request(self, n: int) -> None:
        # Web chat and Slack alternate, and each kind goes to both web processes in turn.
        if (n // 2) % 2 == 0:
            thread = f"chaos{n}"
            self.web_threads[n] = thread
            response = await self.http.post(f"{self.base(n)}/api/chat",
                                            json={"thread": thread, "user": "ana", "text": self.text(n)})
            response.raise_for_status()
        else:
            client = self.slack(n)
            async with client.http:
                ts, response = await client.mention(self.text(n), user="U1", channel="C1")
            assert response.status_code == 200, response.text
            self.slack_threads[n] = ts

    def thread_key(self, n: int) -> str:
        if n in self.web_threads:
            return f"web:local:web:{self.web_threads[n]}"
        return f"slack:{TEAM}:C1:{self.slack_threads[n]}"

    async def request_doc(self, n: int) -> dict[str, Any] | None:
        return await self.db.requests.find_one({"thread_key": self.thread_key(n)})

    async def approve(self, n: int) -> None:
        if n in self.web_threads:
            response = await self.http.post(f"{self.base(n)}/api/chat",
                                            json={"thread": self.web_threads[n], "user": "ana", "text": "apply"})
            response.raise_for_status()
        else:
            client = self.slack(n)
            async with client.http:
                _, response = await client.message("apply", user="U1", channel="C1",
                                                   thread_ts=self.slack_threads[n])
            assert response.status_code == 200, response.text


async def _until(probe: Any, within: float, what: str, cluster: Cluster) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        cluster.alive_or_fail()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what} (last: {value!r})")
        await asyncio.sleep(0.25)


async def run(root: Path, *, check_cards: bool = True) -> Outcome:
    outcome = Outcome(check_cards=check_cards)
    mock = MockSlack().start()
    cluster = Cluster(root, mock)
    mongo: AsyncMongoClient[dict[str, Any]] | None = None
    try:
        cluster.start()
        await cluster.wait_ready()
        mongo = AsyncMongoClient(cluster.mongo_url, tz_aware=True)
        db = mongo[DB]
        async with httpx.AsyncClient(timeout=30) as http:
            driver = Driver(cluster, http, db)
            await asyncio.gather(*(driver.request(n) for n in range(REQUESTS)))

            async def all_planned() -> bool:
                docs = [await driver.request_doc(n) for n in range(REQUESTS)]
                return all(d and d["status"] == "awaiting_approval" for d in docs)

            await _until(all_planned, PLAN_WITHIN, "every plan", cluster)
            await asyncio.gather(*(driver.approve(n) for n in range(REQUESTS)))

            async def applying() -> bool:
                return bool(await db.jobs.find_one({"kind": "apply", "phase": "applying", "done": {"$gt": 0}}))

            await _until(applying, PLAN_WITHIN, "an apply under way", cluster)
            await _faults(cluster, outcome)
            faults_over = time.monotonic()

            async def all_ended() -> bool:
                # "approved" is still on its way: its apply may wait for the reconciler to queue it again.
                docs = [await driver.request_doc(n) for n in range(REQUESTS)]
                return all(d and d["status"] not in ("approved", "applying", "awaiting_approval", "planning")
                           for d in docs)

            await _until(all_ended, FINISH_WITHIN, "every request to end", cluster)
            outcome.recovery_seconds = time.monotonic() - faults_over

            for n in range(REQUESTS):
                doc = await driver.request_doc(n)
                assert doc is not None
                outcome.statuses[doc["_id"]] = doc["status"]
            stacks = Counter([row.get("stack") async for row in db.audit.find({"event": "applied"})])
            outcome.applies = dict(stacks)
            if check_cards:
                await _settled_cards(driver, mock, outcome, cluster)
        return outcome
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{cluster.tail()}") from None
    finally:
        if mongo is not None:
            await mongo.close()
        cluster.stop()
        mock.stop()


async def _faults(cluster: Cluster, outcome: Outcome) -> None:
    cluster.kill("worker1")
    outcome.faults.append("SIGKILL worker1")
    redis = Redis.from_url(cluster.redis_url)
    try:
        await redis.flushall()
    finally:
        await redis.aclose()
    outcome.faults.append("FLUSHALL")
    ferret = cluster.servers["ferretdb"]
    ferret.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(FREEZE_SECONDS)  # the fault itself: FerretDB frozen this long
    finally:
        ferret.send_signal(signal.SIGCONT)
    outcome.faults.append(f"SIGSTOP FerretDB {FREEZE_SECONDS:g}s")
    cluster.kill("web1")
    outcome.faults.append("SIGKILL web1")


async def _settled_cards(driver: Driver, mock: MockSlack, outcome: Outcome, cluster: Cluster) -> None:
    """Waits for each Slack thread's cards to show done (or for its cards to stop changing)."""

    def cards(n: int) -> list[str]:
        ts = driver.slack_threads[n]
        return [card_text(m) for m in mock.thread_messages("C1", ts) if m["ts"] != ts and m.get("blocks")]

    async def settled() -> bool:
        return all(len(cards(n)) == 1 and "Done:" in cards(n)[0] for n in driver.slack_threads)

    try:
        await _until(settled, 30, "every Slack card to show done", cluster)
    except AssertionError:
        pass  # reported below as what the cards show
    outcome.slack_cards = {driver.slack_threads[n]: cards(n) for n in driver.slack_threads}


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="infrabot-chaos-"))
    started = time.monotonic()
    outcome = asyncio.run(run(root))
    problems = outcome.problems()
    print(json.dumps({"faults": outcome.faults, "recovery_seconds": round(outcome.recovery_seconds or 0, 1),
                      "total_seconds": round(time.monotonic() - started, 1), "statuses": Counter(
                          outcome.statuses.values()), "applies_per_stack": outcome.applies,
                      "problems": problems, "logs": str(root)}, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    if not (REPO_ROOT / ".data" / "bin" / "ferretdb").exists():
        print("run `bash scripts/setup.sh` first (it builds the embedded FerretDB)", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main())
