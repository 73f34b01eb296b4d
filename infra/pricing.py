"""Monthly cost estimate from a fixed price table.

The figures are approximate on-demand list prices for us-central1 (USD), as published by Google
Cloud and written down in November 2026 (PRICES_AS_OF). They were not fetched live and ignore
discounts, free tiers beyond those noted, network egress and taxes: the estimate is a guide for a
chat reply, not a quote. Other regions use a rough multiplier.
"""

from __future__ import annotations

from core.spec import InfraSpec
from infra import sizes

PRICES_AS_OF = "2026-11"
HOURS_PER_MONTH = 730

# Cloud SQL Enterprise edition, per hour; custom tiers are priced per vCPU and per GB of memory.
SQL_SHARED_CORE_HOURLY = {"db-f1-micro": 0.0105, "db-g1-small": 0.035}
SQL_VCPU_HOURLY = 0.0413
SQL_MEMORY_GB_HOURLY = 0.007
SQL_SSD_GB_MONTH = 0.17
SQL_BACKUP_GB_MONTH = 0.08

# Memorystore for Redis, per GB-hour, by capacity band (M1 = 1-4 GB, M2 = 5-10 GB, M3 = 11-35 GB, ...).
REDIS_GB_HOURLY = {
    "BASIC": ((4, 0.049), (10, 0.027), (35, 0.022), (100, 0.019), (300, 0.016)),
    "STANDARD_HA": ((4, 0.064), (10, 0.054), (35, 0.044), (100, 0.037), (300, 0.030)),
}

# Cloud Run instance-based use; the size decides how many busy instance-hours a month we assume.
RUN_VCPU_SECOND = 0.000024
RUN_GIB_SECOND = 0.0000025
RUN_BUSY_HOURS = {"small": 50, "medium": 200, "large": 730}

GCS_STANDARD_GB_MONTH = 0.020
PUBSUB_PER_TIB = 40.0
PUBSUB_FREE_GIB = 10
SECRET_VERSION_MONTH = 0.06
REGISTRY_GB_MONTH = 0.10
REGISTRY_FREE_GB = 0.5

REGION_MULTIPLIER = {
    "us-central1": 1.0,
    "us-east1": 1.0,
    "us-east4": 1.12,
    "us-west1": 1.0,
    "europe-west1": 1.1,
    "europe-west2": 1.2,
    "europe-west3": 1.2,
    "europe-west4": 1.1,
    "asia-northeast1": 1.25,
    "asia-southeast1": 1.2,
    "australia-southeast1": 1.3,
}
DEFAULT_REGION_MULTIPLIER = 1.2


def _memory_gib(memory: str) -> float:
    if memory.endswith("Gi"):
        return float(memory[:-2])
    if memory.endswith("Mi"):
        return float(memory[:-2]) / 1024
    raise ValueError(f"unsupported memory size {memory!r}")


def _sql_hourly(tier: str) -> float:
    if tier in SQL_SHARED_CORE_HOURLY:
        return SQL_SHARED_CORE_HOURLY[tier]
    _, vcpus, memory_mb = tier.split("-")[-3:]
    return int(vcpus) * SQL_VCPU_HOURLY + int(memory_mb) / 1024 * SQL_MEMORY_GB_HOURLY


def _redis_hourly_per_gb(tier: str, memory_gb: int) -> float:
    for ceiling, rate in REDIS_GB_HOURLY[tier]:
        if memory_gb <= ceiling:
            return rate
    return REDIS_GB_HOURLY[tier][-1][1]


def component_monthly_cost(kind: str, size: str, environment: str = "dev") -> float:
    """One instance of a component in us-central1, in USD per month."""
    t = sizes.tier(kind, size)
    if kind in ("postgres", "mysql"):
        ha = 2 if t["availability"] == "REGIONAL" else 1
        cost = _sql_hourly(t["tier"]) * HOURS_PER_MONTH * ha + t["disk_gb"] * SQL_SSD_GB_MONTH * ha
        if environment == "prod":
            cost += t["disk_gb"] * SQL_BACKUP_GB_MONTH
        # The generated password lives in its own Secret Manager secret.
        return cost + SECRET_VERSION_MONTH
    if kind == "redis":
        return t["memory_gb"] * _redis_hourly_per_gb(t["tier"], t["memory_gb"]) * HOURS_PER_MONTH
    if kind == "service":
        per_second = float(t["cpu"]) * RUN_VCPU_SECOND + _memory_gib(t["memory"]) * RUN_GIB_SECOND
        return RUN_BUSY_HOURS[size] * 3600 * per_second
    if kind == "bucket":
        return t["storage_gb"] * GCS_STANDARD_GB_MONTH
    if kind == "queue":
        return max(0, t["throughput_gib"] - PUBSUB_FREE_GIB) / 1024 * PUBSUB_PER_TIB
    if kind == "secret":
        return t["versions"] * SECRET_VERSION_MONTH
    if kind == "registry":
        return max(0.0, t["storage_gb"] - REGISTRY_FREE_GB) * REGISTRY_GB_MONTH
    raise ValueError(f"no price for kind {kind!r}")


def region_multiplier(region: str) -> float:
    return REGION_MULTIPLIER.get(region, DEFAULT_REGION_MULTIPLIER)


def estimate_monthly_cost(spec: InfraSpec) -> float:
    """Whole-spec estimate in USD per month, rounded to cents."""
    total = sum(component_monthly_cost(c.kind, spec.size_of(c), spec.environment) * c.count for c in spec.components)
    return round(total * region_multiplier(spec.region), 2)
