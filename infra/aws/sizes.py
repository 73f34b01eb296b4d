"""What small / medium / large mean on AWS, in concrete instance classes and task sizes."""

from __future__ import annotations

from typing import Any

from infra.kinds import STORED_ESTIMATE, markdown_table, per_kind

# RDS picks the newest minor release of these majors; MySQL 8.4 is the current long-term release.
DB_ENGINES: dict[str, tuple[str, str]] = {"postgres": ("postgres", "16"), "mysql": ("mysql", "8.4")}
DB_PORTS: dict[str, int] = {"postgres": 5432, "mysql": 3306}

RDS: dict[str, dict[str, Any]] = {
    "small": {"instance_class": "db.t4g.micro", "storage_gb": 20, "multi_az": False},
    "medium": {"instance_class": "db.m6g.large", "storage_gb": 50, "multi_az": False},
    "large": {"instance_class": "db.m6g.2xlarge", "storage_gb": 200, "multi_az": True},
}

# Two or more nodes get automatic failover to a replica in another AZ.
ELASTICACHE: dict[str, dict[str, Any]] = {
    "small": {"node_type": "cache.t4g.micro", "nodes": 1},
    "medium": {"node_type": "cache.t4g.medium", "nodes": 2},
    "large": {"node_type": "cache.r7g.large", "nodes": 2},
}

# Fargate CPU units (1024 = 1 vCPU) and memory in MiB, in combinations Fargate accepts.
FARGATE: dict[str, dict[str, Any]] = {
    "small": {"cpu": 256, "memory": 512, "tasks": 1},
    "medium": {"cpu": 1024, "memory": 2048, "tasks": 2},
    "large": {"cpu": 2048, "memory": 4096, "tasks": 3},
}

# Usage the estimate assumes where nothing is provisioned by size.
S3: dict[str, dict[str, Any]] = {"small": {"storage_gb": 10}, "medium": {"storage_gb": 100},
                                 "large": {"storage_gb": 1000}}
SQS: dict[str, dict[str, Any]] = {"small": {"requests_millions": 1}, "medium": {"requests_millions": 10},
                                  "large": {"requests_millions": 100}}
ECR: dict[str, dict[str, Any]] = {"small": {"storage_gb": 5}, "medium": {"storage_gb": 20},
                                  "large": {"storage_gb": 100}}
SECRETS: dict[str, dict[str, Any]] = {size: {"secrets": 1} for size in ("small", "medium", "large")}

SIZE_TABLE: dict[str, dict[str, dict[str, Any]]] = per_kind(registry=ECR, secret=SECRETS, bucket=S3, queue=SQS,
                                                             redis=ELASTICACHE, database=RDS, service=FARGATE)


def tier(kind: str, size: str) -> dict[str, Any]:
    return SIZE_TABLE[kind][size]


def backups_days(environment: str, size: str) -> int:
    """Automated backups (point-in-time recovery): a week in prod and for Multi-AZ, one day elsewhere."""
    return 7 if environment == "prod" or RDS[size]["multi_az"] else 1


# The README's words for what a size buys, filled from that size's tier.
LABELS: dict[str, str] = per_kind(registry=STORED_ESTIMATE, secret="1 secret", bucket=STORED_ESTIMATE,
                                  queue="~{requests_millions}M requests/month (estimate)",
                                  redis="ElastiCache {node_type}, {node_count}",
                                  database="RDS {instance_class}, {storage_gb} GB gp3{ha}",
                                  service="Fargate {vcpu:g} vCPU, {memory} MiB, {tasks} task(s)")


def _node_count(tier: dict[str, Any]) -> str:
    nodes = tier.get("nodes", 1)
    return "1 node" if nodes == 1 else f"{nodes} nodes, failover"


def size_table_markdown() -> str:
    return markdown_table("component (AWS)", SIZE_TABLE, LABELS, vcpu=lambda t: t.get("cpu", 0) / 1024,
                          ha=lambda t: ", Multi-AZ" if t.get("multi_az") else "", node_count=_node_count)
