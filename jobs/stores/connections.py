"""Redis clients with bounded calls: a half-open connection fails a call instead of hanging it."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis

from jobs.stores.auto_pipeline import AutoPipelined
from jobs.stores.redis_pool import prompt_pool

# Generous enough that a CPU-starved event loop (a busy machine) does not read as a dead server.
SOCKET_TIMEOUT = 15.0
CONNECT_TIMEOUT = 3.0
# Idle pooled connections are PINGed before reuse after this long, so a dead one is replaced, not used.
HEALTH_CHECK_SECONDS = 15


def _options(*, blocking: bool) -> dict[str, Any]:
    return {
        # A subscription waits for messages indefinitely by design; everything else is bounded.
        "socket_timeout": None if blocking else SOCKET_TIMEOUT,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_keepalive": True,
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "retry_on_timeout": False,
    }


def redis_client(url: str, *, blocking: bool = False) -> Redis:
    pool = prompt_pool(url, **_options(blocking=blocking))
    # A subscription's client sends next to nothing; every other one carries many turns' commands at once.
    return Redis.from_pool(pool) if blocking else AutoPipelined.from_pool(pool)


def arq_client(url: str) -> ArqRedis:
    # `from_pool` closes the pool with the client, as `from_url` does.
    return ArqRedis.from_pool(prompt_pool(url, **_options(blocking=False)))
