"""Sizes, the size table and the monthly cost estimate."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.spec import KINDS, SIZES, Component, InfraSpec
from infra import pricing, sizes


def test_every_kind_and_size_has_a_tier_and_a_price() -> None:
    for kind in KINDS:
        for size in SIZES:
            assert sizes.tier(kind, size)
            assert pricing.component_monthly_cost(kind, size) >= 0


@pytest.mark.parametrize("kind", ["service", "postgres", "mysql", "redis", "bucket", "queue", "registry"])
def test_bigger_sizes_cost_more(kind: str) -> None:
    small, medium, large = (pricing.component_monthly_cost(kind, s) for s in SIZES)
    assert small <= medium < large


def test_concrete_tiers() -> None:
    assert sizes.tier("postgres", "small")["tier"] == "db-f1-micro"
    assert sizes.tier("postgres", "medium")["tier"] == "db-custom-2-7680"
    assert sizes.tier("redis", "small")["tier"] == "BASIC"
    assert sizes.tier("redis", "large")["tier"] == "STANDARD_HA"


def test_sql_price_follows_the_table() -> None:
    # db-custom-2-7680: 2 vCPU x 0.0413 + 7.5 GB x 0.007 = 0.1351 $/h, plus 50 GB SSD at 0.17.
    medium = pricing.component_monthly_cost("postgres", "medium")
    assert medium == pytest.approx(0.1351 * 730 + 50 * 0.17 + 0.06, rel=1e-6)
    assert pricing.component_monthly_cost("postgres", "medium", "prod") == pytest.approx(medium + 50 * 0.08)


def test_spec_estimate_adds_components_counts_and_region() -> None:
    spec = InfraSpec(app="a", components=[Component(kind="redis", count=2), Component(kind="bucket", size="large")])
    expected = 2 * pricing.component_monthly_cost("redis", "small") + pricing.component_monthly_cost("bucket", "large")
    assert pricing.estimate_monthly_cost(spec) == pytest.approx(expected, abs=0.01)
    london = spec.model_copy(update={"region": "europe-west2"})
    assert pricing.estimate_monthly_cost(london) > pricing.estimate_monthly_cost(spec)
    nowhere = spec.model_copy(update={"region": "mars-north1"})
    assert pricing.estimate_monthly_cost(nowhere) == pytest.approx(
        expected * pricing.DEFAULT_REGION_MULTIPLIER, abs=0.01
    )


def test_size_table_markdown() -> None:
    table = sizes.size_table_markdown().splitlines()
    assert table[0] == "| component | small | medium | large |"
    assert len(table) == 2 + len(sizes.SIZE_TABLE)
    postgres = next(line for line in table if line.startswith("| postgres |"))
    assert "db-f1-micro" in postgres and "db-custom-8-30720" in postgres and "HA" in postgres
    assert "STANDARD_HA" in next(line for line in table if line.startswith("| redis |"))


def test_cloud_run_uses_request_based_rates_and_the_free_tier_counts_once() -> None:
    # small: 50 busy hours of 1 vCPU and 0.5 GiB, 1M requests.
    vcpu_s, gib_s, requests = pricing.run_usage("small")
    assert (vcpu_s, gib_s, requests) == (180_000, 90_000, 1.0)
    assert pricing.component_monthly_cost("service", "small") == pytest.approx(
        180_000 * 0.000024 + 90_000 * 0.0000025 + 1.0 * 0.40
    )
    one = InfraSpec(app="a", components=[Component(kind="service")])
    assert pricing.estimate_monthly_cost(one) == 0.0  # entirely inside the free tier
    two = InfraSpec(app="a", components=[Component(kind="service", count=2)])
    # The second service's CPU is billed: the free tier is per billing account, not per service.
    assert pricing.estimate_monthly_cost(two) == pytest.approx(180_000 * 0.000024, abs=0.01)


def test_mysql_extended_support_surcharge_is_modelled() -> None:
    current = pricing.sql_monthly_cost("mysql", "medium")
    old = pricing.sql_monthly_cost("mysql", "medium", version="MYSQL_8_0")
    assert old - current == pytest.approx(2 * 0.10 * 730)
    assert sizes.DB_VERSIONS["mysql"] == "MYSQL_8_4"


def test_ha_databases_pay_for_backups_in_every_environment() -> None:
    large = sizes.tier("postgres", "large")
    staging = pricing.component_monthly_cost("postgres", "large", "staging")
    ha_only = 2 * (pricing._sql_hourly(large["tier"]) * 730 + large["disk_gb"] * 0.17)
    assert staging == pytest.approx(ha_only + large["disk_gb"] * 0.08 + 0.06)


def test_price_table_is_dated() -> None:
    table = pricing.price_table_markdown()
    assert pricing.PRICES_AS_OF in table.splitlines()[0]
    assert "request-based" in table and "extended support" in table


def test_readme_tables_match_the_code() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert sizes.size_table_markdown() in readme
    assert pricing.price_table_markdown() in readme
    medium_pg = pricing.component_monthly_cost("postgres", "medium")
    assert f"${medium_pg:,.2f}" in readme
    for kind in KINDS:
        row = " | ".join(f"${pricing.component_monthly_cost(kind, size):,.2f}" for size in SIZES)
        plain = f"| {kind} | {row} |"
        assert plain in readme or kind in ("postgres", "mysql"), plain
        assert f"| {kind} | ${pricing.component_monthly_cost(kind, 'small'):,.2f}" in readme


def test_pubsub_and_registry_free_tiers_count_once_per_estimate() -> None:
    # Pub/Sub: the first 10 GiB a month are free; Artifact Registry: the first 0.5 GB stored. Both are
    # per billing account, so the per-component figure is before them and the estimate takes them off once.
    assert pricing.component_monthly_cost("queue", "small") == pytest.approx(10 / 1024 * 40.0)
    assert pricing.component_monthly_cost("registry", "small") == pytest.approx(5 * 0.10)

    def estimate(kind: str, count: int) -> float:
        return pricing.estimate_monthly_cost(InfraSpec(app="a", components=[Component(kind=kind, count=count)]))

    assert estimate("queue", 1) == 0.0
    assert estimate("queue", 2) == pytest.approx(round((20 - 10) / 1024 * 40.0, 2))
    assert estimate("registry", 1) == pytest.approx((5 - 0.5) * 0.10)
    assert estimate("registry", 3) == pytest.approx((15 - 0.5) * 0.10)
