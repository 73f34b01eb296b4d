"""What small / medium / large mean for each kind of component, in concrete GCP tiers."""

from __future__ import annotations

from typing import Any

from infra.kinds import STORED_ESTIMATE, markdown_table, per_kind

# Cloud SQL "Enterprise" edition is pinned by the builder: Enterprise Plus (the default for new
# Postgres 16 instances) does not offer shared-core tiers such as db-f1-micro.
# MySQL 8.0 is in extended support (a surcharge); 8.4 is the current long-term release.
DB_VERSIONS: dict[str, str] = {"postgres": "POSTGRES_16", "mysql": "MYSQL_8_4"}

SQL: dict[str, dict[str, Any]] = {
    "small": {"tier": "db-f1-micro", "disk_gb": 10, "availability": "ZONAL"},
    "medium": {"tier": "db-custom-2-7680", "disk_gb": 50, "availability": "ZONAL"},
    "large": {"tier": "db-custom-8-30720", "disk_gb": 200, "availability": "REGIONAL"},
}

REDIS: dict[str, dict[str, Any]] = {
    "small": {"memory_gb": 1, "tier": "BASIC"},
    "medium": {"memory_gb": 5, "tier": "STANDARD_HA"},
    "large": {"memory_gb": 16, "tier": "STANDARD_HA"},
}

SERVICE: dict[str, dict[str, Any]] = {
    "small": {"cpu": "1", "memory": "512Mi", "max_instances": 3},
    "medium": {"cpu": "2", "memory": "1Gi", "max_instances": 10},
    "large": {"cpu": "4", "memory": "4Gi", "max_instances": 50},
}

# Storage-like components have no tier to pick; the size is the usage the cost estimate assumes.
BUCKET: dict[str, dict[str, Any]] = {
    "small": {"storage_gb": 10},
    "medium": {"storage_gb": 100},
    "large": {"storage_gb": 1000},
}

QUEUE: dict[str, dict[str, Any]] = {
    "small": {"throughput_gib": 10},
    "medium": {"throughput_gib": 100},
    "large": {"throughput_gib": 1024},
}

REGISTRY: dict[str, dict[str, Any]] = {
    "small": {"storage_gb": 5},
    "medium": {"storage_gb": 20},
    "large": {"storage_gb": 100},
}

SECRET: dict[str, dict[str, Any]] = {size: {"versions": 1} for size in ("small", "medium", "large")}

SIZE_TABLE: dict[str, dict[str, dict[str, Any]]] = per_kind(registry=REGISTRY, secret=SECRET, bucket=BUCKET,
                                                             queue=QUEUE, redis=REDIS, database=SQL, service=SERVICE)


def tier(kind: str, size: str) -> dict[str, Any]:
    return SIZE_TABLE[kind][size]


def backups_enabled(kind: str, size: str, environment: str) -> bool:
    """Cloud SQL refuses HA (REGIONAL) without backups and their log, so HA has them everywhere."""
    return environment == "prod" or tier(kind, size)["availability"] == "REGIONAL"


# The README's words for what a size buys, filled from that size's tier.
LABELS: dict[str, str] = per_kind(registry=STORED_ESTIMATE, secret="1 secret version", bucket=STORED_ESTIMATE,
                                  queue="~{throughput_gib} GiB/month (estimate)", redis="{memory_gb} GB {tier}",
                                  database="{tier}, {disk_gb} GB SSD{ha}",
                                  service="{cpu} vCPU, {memory}, max {max_instances} instances")


def size_table_markdown() -> str:
    return markdown_table("component", SIZE_TABLE, LABELS,
                          ha=lambda t: ", HA" if t.get("availability") == "REGIONAL" else "")
