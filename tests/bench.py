"""`make bench`: chat reply latency and worker pick-up latency against real Redis and FerretDB.

Targets: reply p99 under 50 ms for 50 concurrent threads; pick-up p50 under 100 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from arq.worker import func

from bots.runtime import build_runtime
from bots.web.app import create_app
from config.local_services import REPO_ROOT, ensure_services, free_port
from config.settings import Settings
from jobs.queue import QUEUE_NAME
from jobs.worker import make_worker

THREADS = 50
TURNS = 4
PICKUPS = 100


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, samples: list[float], target: str) -> None:
    ms = [s * 1000 for s in samples]
    print(f"{name}: n={len(ms)} p50={pct(ms, 0.5):.1f} ms p99={pct(ms, 0.99):.1f} ms "
          f"max={max(ms):.1f} ms mean={statistics.mean(ms):.1f} ms  (target: {target})")


async def bench_replies(settings: Settings, redis_url: str, mongodb_url: str) -> list[float]:
    runtime = await build_runtime(settings, redis_url, mongodb_url)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
    serve = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    texts = ["hello", "create a bucket for my app shop{n} in dev", "status", "help"]
    samples: list[float] = []
    limits = httpx.Limits(max_connections=THREADS + 5)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:
        await client.post("/api/chat", json={"thread": "warm", "user": "u", "text": "help"})

        async def converse(n: int) -> None:
            thread = f"bench-{n}-{uuid.uuid4().hex[:6]}"
            for text in texts[:TURNS]:
                start = time.perf_counter()
                response = await client.post("/api/chat", json={"thread": thread, "user": f"u{n}", "text": text.format(n=n)})
                samples.append(time.perf_counter() - start)
                response.raise_for_status()

        await asyncio.gather(*(converse(n) for n in range(THREADS)))
    server.should_exit = True
    await serve
    await runtime.close()
    return samples


async def bench_pickup(settings: Settings, redis_url: str, mongodb_url: str) -> list[float]:
    started: dict[str, float] = {}

    async def ping(ctx: dict[str, Any], key: str) -> None:
        started[key] = time.time()

    worker = make_worker(settings, redis_url, mongodb_url)
    worker.functions["ping"] = func(ping, name="ping")  # type: ignore[index]
    task = asyncio.create_task(worker.async_run())
    from arq.connections import RedisSettings, create_pool

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    samples: list[float] = []
    for i in range(PICKUPS):
        key = f"ping-{i}-{uuid.uuid4().hex[:6]}"
        sent = time.time()
        await pool.enqueue_job("ping", key, _job_id=key, _queue_name=QUEUE_NAME)
        while key not in started:
            await asyncio.sleep(0.002)
        samples.append(started[key] - sent)
        await asyncio.sleep(0.013 * (i % 7))  # spread arrivals over the poll cycle
    await worker.close()
    task.cancel()
    await pool.aclose()
    return samples


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        services = ensure_services(None, None, data, redis_port=free_port(), mongo_port=free_port(),
                                   bin_dir=REPO_ROOT / ".data" / "bin")
        try:
            settings = Settings(_env_file=None, redis_url=services.redis_url,  # type: ignore[call-arg]
                                mongodb_url=services.mongodb_url, mongodb_db=f"bench_{uuid.uuid4().hex[:8]}",
                                engine="offline", data_dir=str(data), log_level="WARNING")
            print(f"infrabot bench: real redis-server and FerretDB on loopback; {THREADS} concurrent threads "
                  f"x {TURNS} turns; worker poll_delay={settings.worker_poll_delay}s")
            report("POST /api/chat -> reply", await bench_replies(settings, services.redis_url,
                                                                 services.mongodb_url), "p99 < 50 ms")
            report("enqueue -> worker pick-up", await bench_pickup(settings, services.redis_url,
                                                                  services.mongodb_url), "p50 < 100 ms")
        finally:
            services.stop()


if __name__ == "__main__":
    asyncio.run(main())
