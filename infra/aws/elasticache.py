"""ElastiCache (Redis OSS) replication group in the private subnets: TLS in transit, encrypted at
rest, and an AUTH token kept in Secrets Manager for the service to receive as an ECS secret."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from core.spec import Component
from infra import naming
from infra.aws import sizes
from infra.aws.context import AwsContext
from infra.aws.network import data_security_group, ensure_vpc
from infra.aws.secrets import make_secret

PORT = 6379
REPLICATION_GROUP_MAX = 40
# ElastiCache AUTH tokens: 16-128 printable characters; letters and digits avoid the forbidden ones.
TOKEN_LENGTH = 48


def build(ctx: AwsContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("redis", index)
    t = sizes.tier("redis", ctx.size(component))
    vpc = ensure_vpc(ctx)
    subnets = aws.elasticache.SubnetGroup(ctx.name(base, "subnets"), subnet_ids=vpc.private_subnet_ids,
                                          tags=ctx.tags, opts=ctx.opts())
    sg = data_security_group(ctx, base, PORT, "redis")
    token = random.RandomPassword(ctx.name(base, "auth-gen"), length=TOKEN_LENGTH, special=False)
    auth = pulumi.Output.secret(token.result)
    failover = t["nodes"] > 1
    group = aws.elasticache.ReplicationGroup(
        ctx.name(base),
        replication_group_id=naming.fit(ctx.name(base), REPLICATION_GROUP_MAX),
        description=f"infrabot: {ctx.prefix} redis",
        engine="redis",
        engine_version="7.1",
        node_type=t["node_type"],
        num_cache_clusters=t["nodes"],
        automatic_failover_enabled=failover,
        multi_az_enabled=failover,
        port=PORT,
        subnet_group_name=subnets.name,
        security_group_ids=[sg],
        at_rest_encryption_enabled=True,
        transit_encryption_enabled=True,
        auth_token=auth,
        snapshot_retention_limit=7 if ctx.prod else 0,
        tags=ctx.tags,
        opts=ctx.opts(ignore_changes=["authToken"]),
    )
    secret = make_secret(ctx, ctx.name(base, "auth"))
    aws.secretsmanager.SecretVersion(ctx.name(base, "auth-v"), secret_id=secret.id, secret_string=auth,
                                     opts=ctx.opts(ignore_changes=["secretString"]))
    prefix = "REDIS" if index == 1 else f"REDIS_{index}"
    ctx.env.extend([
        {"name": f"{prefix}_HOST", "value": group.primary_endpoint_address},
        {"name": f"{prefix}_PORT", "value": str(PORT)},
        {"name": f"{prefix}_TLS", "value": "true"},
    ])
    ctx.secrets.append({"name": f"{prefix}_AUTH", "valueFrom": secret.arn})
    ctx.secret_arns.append(secret.arn)
    ctx.export(f"{base}_host", group.primary_endpoint_address)
    ctx.export(f"{base}_auth_secret", secret.arn)
