"""Monthly cost estimate from a fixed price table.

The figures are approximate on-demand list prices for us-central1 (USD), as published by Google
Cloud and written down on PRICES_AS_OF. They were not fetched live and ignore committed-use
discounts, network egress and taxes: the estimate is a guide for a chat reply, not a quote. Free
tiers are modelled where they are per billing account (Cloud Run, Pub/Sub, Artifact Registry) and
counted once per estimate, as if no other app used them. Other regions use a rough multiplier.
"""

from __future__ import annotations

from core.spec import Component, InfraSpec
from infra import sizes
from infra.aws import pricing as aws_pricing

PRICES_AS_OF = "2026-11-30"
HOURS_PER_MONTH = 730
SECONDS_PER_HOUR = 3600

# Cloud SQL Enterprise edition, per hour; custom tiers are priced per vCPU and per GB of memory.
SQL_SHARED_CORE_HOURLY = {"db-f1-micro": 0.0105, "db-g1-small": 0.035}
SQL_VCPU_HOURLY = 0.0413
SQL_MEMORY_GB_HOURLY = 0.007
SQL_SSD_GB_MONTH = 0.17
SQL_BACKUP_GB_MONTH = 0.08
# Versions past the end of standard support are billed an extended-support surcharge per vCPU-hour.
# MySQL 8.0 is there, which is why the program builds MYSQL_8_4; shared-core tiers count as 1 vCPU.
SQL_EXTENDED_SUPPORT_VCPU_HOURLY = {"MYSQL_5_7": 0.10, "MYSQL_8_0": 0.10, "POSTGRES_12": 0.10}

# Memorystore for Redis, per GB-hour, by capacity band (M1 = 1-4 GB, M2 = 5-10 GB, M3 = 11-35 GB, ...).
REDIS_GB_HOURLY = {
    "BASIC": ((4, 0.049), (10, 0.027), (35, 0.022), (100, 0.019), (300, 0.016)),
    "STANDARD_HA": ((4, 0.064), (10, 0.054), (35, 0.044), (100, 0.037), (300, 0.030)),
}

# Cloud Run, request-based billing (CPU only while serving requests, which is how the program
# deploys services): tier-1 rates, and the monthly free tier per billing account. The size decides
# how many busy instance-hours and requests a month we assume.
RUN_REQUEST_BASED_VCPU_SECOND = 0.000024
RUN_REQUEST_BASED_GIB_SECOND = 0.0000025
RUN_REQUESTS_PER_MILLION = 0.40
RUN_FREE_VCPU_SECONDS = 180_000
RUN_FREE_GIB_SECONDS = 360_000
RUN_FREE_REQUESTS_MILLIONS = 2.0
RUN_BUSY_HOURS = {"small": 50, "medium": 200, "large": 730}
RUN_REQUESTS_MILLIONS = {"small": 1.0, "medium": 5.0, "large": 50.0}

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


def _sql_vcpus(tier: str) -> int:
    return 1 if tier in SQL_SHARED_CORE_HOURLY else int(tier.split("-")[-2])


def _sql_hourly(tier: str) -> float:
    if tier in SQL_SHARED_CORE_HOURLY:
        return SQL_SHARED_CORE_HOURLY[tier]
    _, vcpus, memory_mb = tier.split("-")[-3:]
    return int(vcpus) * SQL_VCPU_HOURLY + int(memory_mb) / 1024 * SQL_MEMORY_GB_HOURLY


def sql_monthly_cost(kind: str, size: str, environment: str = "dev", version: str | None = None) -> float:
    t = sizes.tier(kind, size)
    version = version or sizes.DB_VERSIONS[kind]
    ha = 2 if t["availability"] == "REGIONAL" else 1
    hourly = _sql_hourly(t["tier"]) + _sql_vcpus(t["tier"]) * SQL_EXTENDED_SUPPORT_VCPU_HOURLY.get(version, 0.0)
    cost = hourly * HOURS_PER_MONTH * ha + t["disk_gb"] * SQL_SSD_GB_MONTH * ha
    if sizes.backups_enabled(kind, size, environment):
        cost += t["disk_gb"] * SQL_BACKUP_GB_MONTH
    # The generated password lives in its own Secret Manager secret.
    return cost + SECRET_VERSION_MONTH


def run_usage(size: str) -> tuple[float, float, float]:
    """(vCPU-seconds, GiB-seconds, millions of requests) a month for one service of `size`."""
    t = sizes.tier("service", size)
    busy = RUN_BUSY_HOURS[size] * SECONDS_PER_HOUR
    return busy * float(t["cpu"]), busy * _memory_gib(t["memory"]), RUN_REQUESTS_MILLIONS[size]


def run_cost(vcpu_seconds: float, gib_seconds: float, requests_millions: float, *, free_tier: bool) -> float:
    if free_tier:
        vcpu_seconds = max(0.0, vcpu_seconds - RUN_FREE_VCPU_SECONDS)
        gib_seconds = max(0.0, gib_seconds - RUN_FREE_GIB_SECONDS)
        requests_millions = max(0.0, requests_millions - RUN_FREE_REQUESTS_MILLIONS)
    return (
        vcpu_seconds * RUN_REQUEST_BASED_VCPU_SECOND
        + gib_seconds * RUN_REQUEST_BASED_GIB_SECOND
        + requests_millions * RUN_REQUESTS_PER_MILLION
    )


def queue_cost(throughput_gib: float, *, free_tier: bool) -> float:
    if free_tier:
        throughput_gib = max(0.0, throughput_gib - PUBSUB_FREE_GIB)
    return throughput_gib / 1024 * PUBSUB_PER_TIB


def registry_cost(storage_gb: float, *, free_tier: bool) -> float:
    if free_tier:
        storage_gb = max(0.0, storage_gb - REGISTRY_FREE_GB)
    return storage_gb * REGISTRY_GB_MONTH


def _redis_hourly_per_gb(tier: str, memory_gb: int) -> float:
    for ceiling, rate in REDIS_GB_HOURLY[tier]:
        if memory_gb <= ceiling:
            return rate
    return REDIS_GB_HOURLY[tier][-1][1]


def component_monthly_cost(kind: str, size: str, environment: str = "dev") -> float:
    """One instance of a component in us-central1, in USD per month, before per-account free tiers."""
    t = sizes.tier(kind, size)
    if kind in ("postgres", "mysql"):
        return sql_monthly_cost(kind, size, environment)
    if kind == "redis":
        # Plus the AUTH string and CA certificate secrets.
        cache = t["memory_gb"] * _redis_hourly_per_gb(t["tier"], t["memory_gb"]) * HOURS_PER_MONTH
        return cache + 2 * SECRET_VERSION_MONTH
    if kind == "service":
        return run_cost(*run_usage(size), free_tier=False)
    if kind == "bucket":
        return t["storage_gb"] * GCS_STANDARD_GB_MONTH
    if kind == "queue":
        return queue_cost(t["throughput_gib"], free_tier=False)
    if kind == "secret":
        return t["versions"] * SECRET_VERSION_MONTH
    if kind == "registry":
        return registry_cost(t["storage_gb"], free_tier=False)
    raise ValueError(f"no price for kind {kind!r}")


def region_multiplier(region: str) -> float:
    return REGION_MULTIPLIER.get(region, DEFAULT_REGION_MULTIPLIER)


# Kinds priced by usage with a per-billing-account free tier.
POOLED_FREE_TIER = frozenset({"service", "queue", "registry"})


def _of_kind(spec: InfraSpec, kind: str) -> list[Component]:
    return [c for c in spec.components if c.kind == kind]


def _summed(spec: InfraSpec, kind: str, field: str) -> float:
    return float(sum(sizes.tier(kind, spec.size_of(c))[field] * c.count for c in _of_kind(spec, kind)))


def estimate_monthly_cost(spec: InfraSpec) -> float:
    """Whole-spec estimate in USD per month, rounded to cents; AWS specs are priced by infra/aws/pricing.py.

    Cloud Run, Pub/Sub and Artifact Registry usage is summed over the spec first, so each free tier
    counts once, not once per service, queue or registry.
    """
    if spec.cloud == "aws":
        return aws_pricing.estimate_monthly_cost(spec)
    others = [c for c in spec.components if c.kind not in POOLED_FREE_TIER]
    total = sum(component_monthly_cost(c.kind, spec.size_of(c), spec.environment) * c.count for c in others)
    usage = [0.0, 0.0, 0.0]
    for c in _of_kind(spec, "service"):
        for i, amount in enumerate(run_usage(spec.size_of(c))):
            usage[i] += amount * c.count
    if _of_kind(spec, "service"):
        total += run_cost(*usage, free_tier=True)
    if _of_kind(spec, "queue"):
        total += queue_cost(_summed(spec, "queue", "throughput_gib"), free_tier=True)
    if _of_kind(spec, "registry"):
        total += registry_cost(_summed(spec, "registry", "storage_gb"), free_tier=True)
    return round(total * region_multiplier(spec.region), 2)


PRICE_TABLE: tuple[tuple[str, str, float], ...] = (
    ("Cloud SQL vCPU (Enterprise)", "per hour", SQL_VCPU_HOURLY),
    ("Cloud SQL memory", "per GB-hour", SQL_MEMORY_GB_HOURLY),
    ("Cloud SQL db-f1-micro", "per hour", SQL_SHARED_CORE_HOURLY["db-f1-micro"]),
    ("Cloud SQL SSD storage", "per GB-month", SQL_SSD_GB_MONTH),
    ("Cloud SQL backups", "per GB-month", SQL_BACKUP_GB_MONTH),
    ("Cloud SQL extended support (MySQL 8.0)", "per vCPU-hour", SQL_EXTENDED_SUPPORT_VCPU_HOURLY["MYSQL_8_0"]),
    ("Memorystore BASIC 1-4 GB", "per GB-hour", REDIS_GB_HOURLY["BASIC"][0][1]),
    ("Memorystore STANDARD_HA 5-10 GB", "per GB-hour", REDIS_GB_HOURLY["STANDARD_HA"][1][1]),
    ("Cloud Run vCPU, request-based", "per vCPU-second", RUN_REQUEST_BASED_VCPU_SECOND),
    ("Cloud Run memory, request-based", "per GiB-second", RUN_REQUEST_BASED_GIB_SECOND),
    ("Cloud Run requests", "per million", RUN_REQUESTS_PER_MILLION),
    ("Cloud Storage Standard", "per GB-month", GCS_STANDARD_GB_MONTH),
    ("Pub/Sub throughput", "per TiB", PUBSUB_PER_TIB),
    ("Secret Manager active version", "per month", SECRET_VERSION_MONTH),
    ("Artifact Registry storage", "per GB-month", REGISTRY_GB_MONTH),
)


def price_table_markdown() -> str:
    lines = [f"| rate (us-central1, USD, as of {PRICES_AS_OF}) | unit | price |", "| --- | --- | --- |"]
    lines.extend(f"| {what} | {unit} | {f'{price:.7f}'.rstrip('0').rstrip('.')} |" for what, unit, price in PRICE_TABLE)
    return "\n".join(lines)
