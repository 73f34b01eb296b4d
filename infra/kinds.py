"""Tables keyed by component kind, shared by both clouds' builders and sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from core.spec import KINDS, SIZES

T = TypeVar("T")

# Storage is not provisioned by size on either cloud: its size is the usage the cost estimate assumes.
STORED_ESTIMATE = "~{storage_gb} GB stored (estimate)"


def per_kind(*, registry: T, secret: T, bucket: T, queue: T, redis: T, database: T, service: T) -> dict[str, T]:
    """One value for every kind in core.spec.KINDS, in the order a program builds them.

    Postgres and MySQL differ only in engine and port, which their one builder and size table read from the
    kind, so both take `database`. The service comes last: it picks up the grants, environment and secrets the
    other builders left in the shared context, and a program builds in this dict's order.
    """
    return {"registry": registry, "secret": secret, "bucket": bucket, "queue": queue, "redis": redis,
            "postgres": database, "mysql": database, "service": service}


Tiers = dict[str, dict[str, dict[str, Any]]]
Words = Callable[[dict[str, Any]], object]


def markdown_table(heading: str, tiers: Tiers, labels: dict[str, str], **derived: Words) -> str:
    """The README's table of what each size buys, one row per kind in the spec's order (not build order).

    A cell is its kind's label filled from that size's tier, plus the `derived` words a tier holds only as a
    fact (", HA" for a database whose availability is regional).
    """

    def cell(kind: str, size: str) -> str:
        tier = tiers[kind][size]
        return labels[kind].format(**tier, **{name: words(tier) for name, words in derived.items()})

    lines = [f"| {heading} | {' | '.join(SIZES)} |", "| --- " * (len(SIZES) + 1) + "|"]
    for kind in KINDS:
        lines.append(f"| {kind} | {' | '.join(cell(kind, size) for size in SIZES)} |")
    return "\n".join(lines)
