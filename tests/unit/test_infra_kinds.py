"""Every per-kind table of both clouds covers exactly the spec's kinds, and the builders run the service last."""

from __future__ import annotations

from typing import Any

import pytest

from core.spec import KINDS, SIZES
from infra import components, sizes
from infra.aws import builders as aws_builders
from infra.aws import sizes as aws_sizes
from infra.kinds import markdown_table, per_kind

TABLES: dict[str, dict[str, Any]] = {
    "gcp builders": components.BUILDERS,
    "aws builders": aws_builders.BUILDERS,
    "gcp sizes": sizes.SIZE_TABLE,
    "aws sizes": aws_sizes.SIZE_TABLE,
}


@pytest.mark.parametrize("name", TABLES)
def test_each_table_covers_exactly_the_spec_kinds(name: str) -> None:
    assert sorted(TABLES[name]) == sorted(KINDS)


@pytest.mark.parametrize("registry", [components.BUILDERS, aws_builders.BUILDERS], ids=["gcp", "aws"])
def test_the_service_is_built_last_and_both_databases_share_one_builder(registry: dict[str, Any]) -> None:
    assert list(registry)[-1] == "service", "a service reads the grants and secrets the other builders leave"
    assert registry["postgres"] is registry["mysql"]


def test_per_kind_maps_the_database_to_both_engines_and_nothing_else() -> None:
    table = per_kind(registry=1, secret=2, bucket=3, queue=4, redis=5, database=6, service=7)
    assert table == {"registry": 1, "secret": 2, "bucket": 3, "queue": 4, "redis": 5, "postgres": 6, "mysql": 6,
                     "service": 7}
    assert list(table)[-1] == "service"


def test_markdown_table_lists_kinds_in_the_spec_order_with_each_size_filled_in() -> None:
    tier = {size: {"n": n} for n, size in enumerate(SIZES)}
    tiers = per_kind(registry=tier, secret=tier, bucket=tier, queue=tier, redis=tier, database=tier, service=tier)
    labels = {kind: kind + " {n}{more}" for kind in KINDS}
    rows = markdown_table("what", tiers, labels, more=lambda t: "+" * t["n"]).splitlines()
    assert rows[:2] == ["| what | small | medium | large |", "| --- | --- | --- | --- |"]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows[2:]] == list(KINDS)
    assert rows[2] == "| service | service 0 | service 1+ | service 2++ |"
