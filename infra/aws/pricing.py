"""Monthly cost estimate for AWS plans from a fixed table of list prices.

Approximate on-demand list prices for us-east-1 (USD), as published by AWS and written down on
PRICES_AS_OF; not fetched live. Savings plans, reserved instances, data transfer, CloudWatch and
taxes are left out: a guide for a chat reply, not a quote. Other regions use a rough multiplier.
"""

from __future__ import annotations

from core.spec import InfraSpec
from infra.aws import sizes

PRICES_AS_OF = "2026-11-30"
HOURS_PER_MONTH = 730

RDS_HOURLY: dict[str, float] = {"db.t4g.micro": 0.016, "db.m6g.large": 0.152, "db.m6g.2xlarge": 0.608}
RDS_GP3_GB_MONTH = 0.115
ELASTICACHE_HOURLY: dict[str, float] = {"cache.t4g.micro": 0.016, "cache.t4g.medium": 0.065,
                                        "cache.r7g.large": 0.219}
FARGATE_VCPU_HOURLY = 0.04048
FARGATE_GB_HOURLY = 0.004445
ALB_HOURLY = 0.0225
ALB_LCU_HOURLY = 0.008  # one LCU assumed: light traffic
NAT_HOURLY = 0.045
S3_STANDARD_GB_MONTH = 0.023
SQS_PER_MILLION = 0.40
SQS_FREE_MILLIONS = 1.0
SECRET_MONTH = 0.40
ECR_GB_MONTH = 0.10

REGION_MULTIPLIER = {
    "us-east-1": 1.0, "us-east-2": 1.0, "us-west-2": 1.0, "us-west-1": 1.15, "eu-west-1": 1.1,
    "eu-central-1": 1.17, "eu-west-2": 1.16, "eu-west-3": 1.17, "eu-north-1": 1.06,
    "ap-northeast-1": 1.27, "ap-southeast-1": 1.25, "ap-southeast-2": 1.25, "sa-east-1": 1.55,
}
DEFAULT_REGION_MULTIPLIER = 1.2


def component_monthly_cost(kind: str, size: str, environment: str = "dev") -> float:
    """One instance of a component in us-east-1, USD per month, without the shared network."""
    t = sizes.tier(kind, size)
    if kind in ("postgres", "mysql"):
        az = 2 if t["multi_az"] else 1
        # Backup storage up to the database's size is free; the master password secret is billed.
        return (RDS_HOURLY[t["instance_class"]] * HOURS_PER_MONTH + t["storage_gb"] * RDS_GP3_GB_MONTH) * az \
            + SECRET_MONTH
    if kind == "redis":
        return ELASTICACHE_HOURLY[t["node_type"]] * HOURS_PER_MONTH * t["nodes"] + SECRET_MONTH  # + AUTH secret
    if kind == "service":
        task = t["cpu"] / 1024 * FARGATE_VCPU_HOURLY + t["memory"] / 1024 * FARGATE_GB_HOURLY
        return (task * t["tasks"] + ALB_HOURLY + ALB_LCU_HOURLY) * HOURS_PER_MONTH
    if kind == "bucket":
        return t["storage_gb"] * S3_STANDARD_GB_MONTH
    if kind == "queue":
        return max(0.0, t["requests_millions"] - SQS_FREE_MILLIONS) * SQS_PER_MILLION
    if kind == "secret":
        return t["secrets"] * SECRET_MONTH
    if kind == "registry":
        return t["storage_gb"] * ECR_GB_MONTH
    raise ValueError(f"no price for kind {kind!r}")


def estimate_monthly_cost(spec: InfraSpec) -> float:
    total = sum(component_monthly_cost(c.kind, spec.size_of(c), spec.environment) * c.count
                for c in spec.components)
    if any(c.kind == "service" for c in spec.components):
        total += NAT_HOURLY * HOURS_PER_MONTH  # one NAT gateway gives the tasks their egress
    return round(total * REGION_MULTIPLIER.get(spec.region, DEFAULT_REGION_MULTIPLIER), 2)


PRICE_TABLE: tuple[tuple[str, str, float], ...] = (
    *((f"RDS {cls} (Single-AZ)", "per hour", price) for cls, price in RDS_HOURLY.items()),
    ("RDS gp3 storage", "per GB-month", RDS_GP3_GB_MONTH),
    *((f"ElastiCache {node}", "per node-hour", price) for node, price in ELASTICACHE_HOURLY.items()),
    ("Fargate vCPU", "per vCPU-hour", FARGATE_VCPU_HOURLY),
    ("Fargate memory", "per GB-hour", FARGATE_GB_HOURLY),
    ("Application Load Balancer", "per hour", ALB_HOURLY),
    ("ALB capacity unit", "per LCU-hour", ALB_LCU_HOURLY),
    ("NAT gateway", "per hour", NAT_HOURLY),
    ("S3 Standard", "per GB-month", S3_STANDARD_GB_MONTH),
    ("SQS standard requests (first million free)", "per million", SQS_PER_MILLION),
    ("Secrets Manager secret", "per month", SECRET_MONTH),
    ("ECR storage", "per GB-month", ECR_GB_MONTH),
)


def price_table_markdown() -> str:
    lines = [f"| rate (us-east-1, USD, as of {PRICES_AS_OF}) | unit | price |", "| --- | --- | --- |"]
    lines.extend(f"| {what} | {unit} | {f'{price:.6f}'.rstrip('0').rstrip('.')} |" for what, unit, price in PRICE_TABLE)
    return "\n".join(lines)
