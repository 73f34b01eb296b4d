"""`make bench`: Slack side by side with a bare Bolt app, web chat replies and worker pick-up, against real
Redis and FerretDB. `make bench-quick` (`--quick`) runs a smaller Slack comparison only, in under a minute;
`make bench-seeded` (`--seeded`) the Slack comparison on an empty and then on a seeded store, nothing else.

Targets: Slack reply p99 <= 50 ms and p50 <= 5x the floor's; closed-loop replies/s >= half the floor's;
status written -> card shown p99 <= 1 s; the same with a seeded store; web reply p99 under 50 ms with 50
concurrent conversations; pick-up p50 under 100 ms. Every chat process runs as its own process, as in
production, so the load generator's own CPU does not count against it. Each of the 50 conversations waits
for its reply and then "types" for 0.5-1.5 s before the next turn; a second web figure fires all 50 turns
at the same instant.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from config.local_services import REPO_ROOT, LocalServices, ensure_services, free_port, port_open
from tests.bench_slack import print_slack, run_slack
from tests.bench_store import bench_write_gate

if TYPE_CHECKING:
    from config.settings import Settings

# The Slack comparison's stand-in and floor are spawned processes that import this module again, so what
# only the web and pick-up figures need (the worker, arq, settings) is imported where it is used.

CONVERSATIONS = 50
TURNS = 6
TEXTS = ["hello", "create a bucket for my app shop{n} in dev", "status", "help", "what can you do", "status"]
PICKUPS = 100


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, samples: list[float], target: str) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"{name}: n={len(ms)} p50={pct(ms, 0.5):.1f} ms p99={pct(ms, 0.99):.1f} ms "
        f"max={max(ms):.1f} ms mean={statistics.mean(ms):.1f} ms  (target: {target})"
    )


def start_web(services: LocalServices, data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": services.redis_url,
        "MONGODB_URL": services.mongodb_url,
        "MONGODB_DB": f"bench_{uuid.uuid4().hex[:8]}",
        "PORT": str(port),
        "DATA_DIR": str(data),
        "LOG_LEVEL": "WARNING",
        "ENGINE": "offline",
    }
    proc = subprocess.Popen([sys.executable, "-m", "bots.cli", "web"], env=env, cwd=REPO_ROOT)
    deadline = time.monotonic() + 30
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the web process did not start")
        time.sleep(0.1)
    return proc


@dataclass
class WebFigures:
    """Per turn, as the page reads the answer: its first line (`received`, "On it…") and the whole answer."""

    first: list[float] = field(default_factory=list)
    whole: list[float] = field(default_factory=list)
    first_by_turn: dict[str, list[float]] = field(default_factory=dict)
    whole_by_turn: dict[str, list[float]] = field(default_factory=dict)
    burst: list[float] = field(default_factory=list)


async def bench_replies(base: str) -> WebFigures:
    figures = WebFigures()
    limits = httpx.Limits(max_connections=CONVERSATIONS + 5)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for n in range(5):
            await client.post("/api/chat", json={"thread": f"warm{n}", "user": "u", "text": "help"})

        async def send(thread: str, user: str, text: str) -> tuple[float, float]:
            start = time.perf_counter()
            first: float | None = None
            last: dict[str, Any] = {}
            async with client.stream("POST", "/api/chat", json={"thread": thread, "user": user, "text": text},
                                     headers={"Accept": "application/x-ndjson"}) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if line:
                        first = time.perf_counter() - start if first is None else first
                        last = json.loads(line)
            whole = time.perf_counter() - start
            if "error" in last or first is None:
                raise RuntimeError(f"no answer to {text!r}: {last}")
            return first, whole

        async def converse(n: int) -> None:
            thread = f"bench-{n}-{uuid.uuid4().hex[:6]}"
            await asyncio.sleep(random.uniform(0, 1.0))
            for text in TEXTS[:TURNS]:
                first, whole = await send(thread, f"u{n}", text.format(n=n))
                figures.first.append(first)
                figures.whole.append(whole)
                figures.first_by_turn.setdefault(text.format(n="N"), []).append(first)
                figures.whole_by_turn.setdefault(text.format(n="N"), []).append(whole)
                await asyncio.sleep(random.uniform(0.5, 1.5))

        async def burst_one(thread: str, user: str) -> None:
            figures.burst.append((await send(thread, user, "help"))[0])

        await asyncio.gather(*(converse(n) for n in range(CONVERSATIONS)))
        for round_ in range(3):
            await asyncio.gather(*(burst_one(f"burst-{round_}-{n}", f"b{n}") for n in range(CONVERSATIONS)))
    return figures


async def bench_pickup(settings: Settings, redis_url: str, mongodb_url: str) -> list[float]:
    from arq.connections import RedisSettings, create_pool
    from arq.worker import func

    from jobs.stores.queue import QUEUE_NAME
    from jobs.worker.main import make_worker
    from tests.support import running

    started: dict[str, float] = {}
    arrived = asyncio.Event()

    async def ping(ctx: dict[str, Any], key: str) -> None:
        started[key] = time.time()
        arrived.set()

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    await pool.delete(QUEUE_NAME)  # the chat benchmark's plan jobs are not part of this measurement
    worker = make_worker(settings, redis_url, mongodb_url)
    worker.functions["ping"] = func(ping, name="ping")  # type: ignore[index]
    samples: list[float] = []
    async with running(worker):
        for i in range(PICKUPS):
            key = f"ping-{i}-{uuid.uuid4().hex[:6]}"
            arrived.clear()
            sent = time.time()
            await pool.enqueue_job("ping", key, _job_id=key, _queue_name=QUEUE_NAME)
            await asyncio.wait_for(arrived.wait(), timeout=10)
            samples.append(started[key] - sent)
            await asyncio.sleep(random.uniform(0, 0.1))  # arrivals land anywhere in the poll cycle
    await pool.aclose()
    return samples


def bench_parse() -> list[float]:
    from core.understanding.parser import RuleParser

    parser = RuleParser()
    texts = [json.loads(line)["text"] for name in ("utterances.jsonl", "dev.jsonl", "test.jsonl")
             for line in (REPO_ROOT / "tests" / "corpus" / name).read_text().splitlines() if line.strip()]
    parser.parse("warm up")
    samples = []
    for _ in range(5):
        for text in texts:
            start = time.perf_counter()
            parser.parse(text)
            samples.append(time.perf_counter() - start)
    return samples


def bench_understanding() -> None:
    """Accuracy per corpus and per category; the held-out set (test.jsonl) is the one the goals are about."""
    from tests.corpus_score import load, score
    from tests.corpus_score import report as accuracy

    for name in ("dev.jsonl", "test.jsonl", "utterances.jsonl", "holdout.jsonl"):
        print(accuracy(f"understanding accuracy, {name}", score(load(name))))


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


async def slack_side_by_side(services: LocalServices, data: Path, *, mode: str) -> None:
    shape: dict[str, Any]
    if mode == "seeded":
        # The quick run's load: with 20 or 50 conversations FerretDB v1 on a shared 2-core machine has stalled
        # for 15 s at a time (see the README), and a stalled store measures the stall, not how the figures
        # grow with history.
        shape = dict(conversations=10, turns=6, senders=10, closed_seconds=3.0,
                     seed_jobs=10_000, seed_messages=100_000)
    elif mode == "quick":
        # Shorter thinking between turns and closed loop than the full run: the minute goes on start-up.
        shape = dict(conversations=10, turns=6, senders=20, closed_seconds=2.0, think=(0.2, 0.6))
    else:
        shape = dict(conversations=CONVERSATIONS, turns=6, senders=20, closed_seconds=10.0,
                     seed_jobs=10_000, seed_messages=100_000)
    think = shape.get("think", (0.5, 1.5))
    print(f"Slack side by side ({shape['conversations']} conversations x {shape['turns']} turns, think "
          f"{think[0]}-{think[1]} s; "
          f"closed loop: {shape['senders']} senders saying 'help' for {shape['closed_seconds']:.0f} s"
          + ("; then again after seeding 10,000 finished jobs and 100,000 messages" if "seed_jobs" in shape else "")
          + ")")
    stores = {Path(str(proc.args[0])).name: proc.pid for proc in services.processes}  # type: ignore[index]
    run = await run_slack(services.redis_url, services.mongodb_url, data, free_port=free_port, store_pids=stores,
                          **shape)
    print_slack(run)
    print(f"  machine {load()} after the Slack run")


async def main(mode: str = "full") -> None:
    """`full` (make bench): everything; `quick`: a small Slack comparison; `seeded`: the Slack comparison on an
    empty and then a seeded store, nothing else."""
    print(f"machine: {machine()}; {load()}")
    if mode == "full":
        bench_understanding()
        report("understanding one message (corpus)", bench_parse(), "p99 under 1 ms")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        services = ensure_services(
            None, None, data, redis_port=free_port(), mongo_port=free_port(), bin_dir=REPO_ROOT / ".data" / "bin"
        )
        try:
            await slack_side_by_side(services, data, mode=mode)
            if mode == "full":
                await web_and_pickup(services, data)
                await bench_write_gate()
                print(f"machine {load()} at the end")
        finally:
            services.stop()


async def web_and_pickup(services: LocalServices, data: Path) -> None:
    from config.settings import Settings

    port = free_port()
    web = start_web(services, data, port)
    try:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            redis_url=services.redis_url,
            mongodb_url=services.mongodb_url,
            mongodb_db=f"bench_{uuid.uuid4().hex[:8]}",
            engine="offline",
            data_dir=str(data),
            log_level="WARNING",
        )
        print(
            f"infrabot bench: real redis-server and FerretDB on loopback; web process on :{port}; "
            f"{CONVERSATIONS} concurrent conversations x {TURNS} turns; worker poll_delay="
            f"{settings.worker_poll_delay}s"
        )
        answers = await bench_replies(f"http://127.0.0.1:{port}")
        report("POST /api/chat -> reply, its first line (50 conversations)", answers.first, "p99 < 50 ms")
        for text, samples in answers.first_by_turn.items():
            report(f"  of which {text!r}", samples, "breakdown")
        report("POST /api/chat -> whole answer (50 conversations)", answers.whole, "informational")
        for text, samples in answers.whole_by_turn.items():
            report(f"  of which {text!r}", samples, "breakdown")
        report("POST /api/chat -> reply, first line (50 at the same instant)", answers.burst, "informational")
        report(
            "enqueue -> worker pick-up",
            await bench_pickup(settings, services.redis_url, services.mongodb_url),
            "p50 < 100 ms",
        )
    finally:
        web.terminate()
        web.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main("quick" if "--quick" in sys.argv else "seeded" if "--seeded" in sys.argv else "full"))
