"""The embedded FerretDB's write gate (scripts/ferretdb/writegate.go), measured against its own baseline.

One FerretDB, with the durable setting `make run` uses (SQLite `synchronous=full`), two ways in: its TCP
port, through the gate, and its own Unix socket, straight to FerretDB as if there were no gate. The same
load goes both ways, taking turns so a noisy moment hits both: 16 clients at once updating one document,
and 16 at once half reading, half updating. Each prints its latency, writes per second and how many of its
increments the document kept.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from pymongo import AsyncMongoClient

from config.local_services import REPO_ROOT, free_port, start_ferretdb

AT_ONCE = 16
ROUNDS = 25


async def _load(
    client: AsyncMongoClient[dict[str, Any]], mixed: bool, at_once: int, rounds: int
) -> tuple[list[float], float, int, int]:
    """Latencies, writes per second, increments sent and increments kept."""
    col = client.bench_gate[f"counter_{time.monotonic_ns()}"]
    await col.insert_one({"_id": "n", "v": 0})
    latencies: list[float] = []
    sent = 0

    async def one(i: int) -> None:
        nonlocal sent
        start = time.perf_counter()
        if mixed and i % 2:
            await col.find_one({"_id": "n"})
        else:
            sent += 1
            await col.update_one({"_id": "n"}, {"$inc": {"v": 1}})
        latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(one(i) for i in range(at_once)))
    elapsed = time.perf_counter() - began
    kept = int((await col.find_one({"_id": "n"}) or {}).get("v", 0))
    return latencies, sent / elapsed, sent, kept


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def bench_write_gate(at_once: int = AT_ONCE, rounds: int = ROUNDS) -> None:
    print(f"FerretDB write gate: {at_once} clients at once x {rounds} rounds, through the gate vs straight to "
          "FerretDB's own socket (one server, taking turns)")
    with tempfile.TemporaryDirectory() as tmp:
        port, socket_path = free_port(), Path(tmp) / "f.sock"
        proc = start_ferretdb(Path(tmp), port, bin_dir=REPO_ROOT / ".data" / "bin", socket_path=socket_path)
        ways = {
            "straight": AsyncMongoClient(f"mongodb://{quote_plus(str(socket_path))}", maxPoolSize=at_once * 2),
            "gated": AsyncMongoClient(f"mongodb://127.0.0.1:{port}/", maxPoolSize=at_once * 2),
        }
        try:
            for mixed in (False, True):
                figures: dict[str, tuple[list[float], list[float], int, int]] = {w: ([], [], 0, 0) for w in ways}
                for _ in range(2):
                    for way, client in ways.items():
                        lat, rate, sent, kept = await _load(client, mixed, at_once, rounds)
                        acc = figures[way]
                        figures[way] = (acc[0] + lat, acc[1] + [rate], acc[2] + sent, acc[3] + kept)
                print(f"  {'half reads, half updates' if mixed else 'updates of one document'}:")
                for way, (lat, rates, sent, kept) in figures.items():
                    print(f"    {way:9s} p50 {_pct(lat, 0.5):6.1f} ms  p99 {_pct(lat, 0.99):6.1f} ms  "
                          f"{sum(rates) / len(rates):5.0f} writes/s  increments kept {kept}/{sent}")
                straight, gated = figures["straight"], figures["gated"]
                print(f"    gated/straight: p99 {_pct(gated[0], 0.99) / _pct(straight[0], 0.99):.2f}x, writes/s "
                      f"{sum(gated[1]) / sum(straight[1]):.2f}x")
        finally:
            for client in ways.values():
                await client.close()
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(bench_write_gate())
