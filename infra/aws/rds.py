"""RDS Postgres or MySQL in the private subnets, encrypted, with the master password kept by
Secrets Manager (`manage_master_user_password`): no password ever passes through Pulumi, the
state or a log. The service gets it as an ECS secret read from that managed secret."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from core.spec import Component
from infra import naming
from infra.aws import sizes
from infra.aws.context import AwsContext
from infra.aws.network import data_security_group, ensure_vpc
from infra.components.sql import sql_identifier

SHORT = {"postgres": "pg", "mysql": "mysql"}
IDENTIFIER_MAX = 63


def primary_kind(ctx: AwsContext) -> str | None:
    return next((c.kind for c in ctx.spec.components if c.kind in SHORT), None)


def env_prefix(ctx: AwsContext, kind: str, index: int) -> str:
    base = "DB" if kind == primary_kind(ctx) else ("PG" if kind == "postgres" else "MYSQL")
    return base if index == 1 else f"{base}_{index}"


def build(ctx: AwsContext, component: Component, index: int, total: int) -> None:
    kind = component.kind
    base = naming.numbered(SHORT[kind], index)
    size = ctx.size(component)
    t = sizes.tier(kind, size)
    engine, version = sizes.DB_ENGINES[kind]
    port = sizes.DB_PORTS[kind]
    vpc = ensure_vpc(ctx)
    subnets = aws.rds.SubnetGroup(ctx.name(base, "subnets"), subnet_ids=vpc.private_subnet_ids, tags=ctx.tags,
                                  opts=ctx.opts())
    sg = data_security_group(ctx, base, port, kind)
    db_name = sql_identifier(ctx.spec.app)
    identifier = naming.fit(ctx.name(base), IDENTIFIER_MAX)
    instance = aws.rds.Instance(
        ctx.name(base),
        identifier_prefix=f"{identifier[:IDENTIFIER_MAX - 27]}-",
        engine=engine,
        engine_version=version,
        instance_class=t["instance_class"],
        allocated_storage=t["storage_gb"],
        max_allocated_storage=t["storage_gb"] * 4,
        storage_type="gp3",
        storage_encrypted=True,
        db_name=db_name,
        username=db_name[:16],
        manage_master_user_password=True,
        db_subnet_group_name=subnets.name,
        vpc_security_group_ids=[sg],
        publicly_accessible=False,
        multi_az=bool(t["multi_az"]),
        backup_retention_period=sizes.backups_days(ctx.spec.environment, size),
        deletion_protection=ctx.prod,
        # Outside prod a destroy should just go; prod keeps a final snapshot.
        skip_final_snapshot=not ctx.prod,
        final_snapshot_identifier=f"{identifier}-final" if ctx.prod else None,
        copy_tags_to_snapshot=True,
        auto_minor_version_upgrade=True,
        tags=ctx.tags,
        opts=ctx.opts(protect=False),
    )
    secret_arn = instance.master_user_secrets.apply(lambda s: s[0]["secret_arn"] if s else "")
    prefix = env_prefix(ctx, kind, index)
    ctx.env.extend([
        {"name": f"{prefix}_HOST", "value": instance.address},
        {"name": f"{prefix}_PORT", "value": pulumi.Output.from_input(port).apply(str)},
        {"name": f"{prefix}_NAME", "value": db_name},
        {"name": f"{prefix}_USER", "value": db_name[:16]},
    ])
    ctx.secrets.append({"name": f"{prefix}_PASSWORD", "valueFrom": secret_arn.apply(lambda a: f"{a}:password::")})
    ctx.secret_arns.append(secret_arn)
    ctx.export(f"{base}_endpoint", instance.endpoint)
    ctx.export(f"{base}_instance", instance.identifier)
    ctx.export(f"{base}_password_secret", secret_arn)
