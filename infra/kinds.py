"""Tables keyed by component kind, shared by both clouds' builders and sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from core.spec import KINDS, SIZES

T = TypeVar("T")


def per_kind(*, registry: T, secret: T, bucket: T, queue: T, redis: T, database: T, service: T) -> dict[str, T]:
    """One value for every kind in core.spec.KINDS, in the order a program builds them.

    Postgres and MySQL differ only in engine and port, which their one builder and size table read from the
    kind, so both take `database`. The service comes last: it picks up the grants, environment and secrets the
    other builders left in the shared context, and a program builds in this dict's order.
    """
    return {"registry": registry, "secret": secret, "bucket": bucket, "queue": queue, "redis": redis,
            "postgres": database, "mysql": database, "service": service}


def markdown_table(heading: str, label: Callable[[str, str], str]) -> str:
    """The README's table of what each size buys, one row per kind in the spec's order (not build order)."""
    lines = [f"| {heading} | {' | '.join(SIZES)} |", "| --- " * (len(SIZES) + 1) + "|"]
    for kind in KINDS:
        lines.append(f"| {kind} | {' | '.join(label(kind, size) for size in SIZES)} |")
    return "\n".join(lines)
