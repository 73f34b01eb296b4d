"""Readiness checks: can this process reach the servers it needs right now?"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

log = logging.getLogger("infrabot.probes")


async def redis_ok(redis: Redis, within: float = 1.0) -> bool:
    try:
        return bool(await asyncio.wait_for(redis.ping(), timeout=within))
    except Exception:
        log.warning("readiness: redis unreachable")
        return False


async def mongo_ok(db: AsyncDatabase[dict[str, Any]], within: float = 2.0) -> bool:
    try:
        await asyncio.wait_for(db.command("ping"), timeout=within)
        return True
    except Exception:
        log.warning("readiness: mongodb unreachable")
        return False


def verdict(checks: dict[str, bool]) -> tuple[int, dict[str, Any]]:
    """HTTP status and body for a readiness answer."""
    down = [name for name, ok in checks.items() if not ok]
    return (503 if down else 200), {"status": "ok" if not down else "down: " + ", ".join(down), **checks}
