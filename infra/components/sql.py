"""Cloud SQL (Postgres or MySQL) on private IP, with a database, a user and its password secret.

Password choice: the stack config secret `dbPassword` wins when set (the Pulumi engine can set it
once per stack, and changing it rotates the password). Without it a password is generated with
`secrets.token_urlsafe` and `ignore_changes` keeps the first value, so later runs never rotate it by
accident. Either way it only travels as a Pulumi secret: into the SQL user and a Secret Manager
version, never into a stack output, a log or the plan.
"""

from __future__ import annotations

import re
import secrets

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra import naming, sizes
from infra.components.context import BuildContext, Grant
from infra.components.network import ensure_network
from infra.components.secret import accessor_grant, make_secret

DB_PASSWORD_CONFIG = "dbPassword"
VERSIONS = {"postgres": "POSTGRES_16", "mysql": "MYSQL_8_0"}
SHORT = {"postgres": "pg", "mysql": "mysql"}


def new_db_password() -> str:
    return secrets.token_urlsafe(24)


def db_password() -> tuple[pulumi.Output[str], bool]:
    """The password and whether it came from config (only then may a change propagate)."""
    configured = pulumi.Config().get_secret(DB_PASSWORD_CONFIG)
    if configured is not None:
        return configured, True
    return pulumi.Output.secret(new_db_password()), False


def sql_identifier(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())[:32] or "app"


def _env_prefix(ctx: BuildContext, kind: str, index: int, total: int) -> str:
    both = ctx.count_of("postgres") and ctx.count_of("mysql")
    base = ("PG" if kind == "postgres" else "MYSQL") if both else "DB"
    return base if total == 1 else f"{base}_{index}"


def _cloudsql_client(ctx: BuildContext) -> Grant:
    role = "roles/cloudsql.client"

    def make(name: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return gcp.projects.IAMMember(name, project=ctx.project, role=role, member=member, opts=opts)

    # One suffix for every instance: the role is project-wide, so a service needs one binding.
    return Grant(suffix="cloudsql-client", role=role, make=make)


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    kind = component.kind
    base = naming.numbered(SHORT[kind], index, total)
    tier = sizes.tier(kind, ctx.size(component))
    net = ensure_network(ctx)

    backup: dict[str, object] = {"enabled": ctx.prod}
    if ctx.prod:
        backup["start_time"] = "03:00"
        backup["point_in_time_recovery_enabled" if kind == "postgres" else "binary_log_enabled"] = True

    # The physical name is left to Pulumi's auto-naming: Cloud SQL blocks reuse of a deleted
    # instance's name for about a week, and the random suffix sidesteps that on re-creation.
    instance = gcp.sql.DatabaseInstance(
        ctx.name(base),
        database_version=VERSIONS[kind],
        region=ctx.region,
        deletion_protection=ctx.prod,
        settings={
            "tier": tier["tier"],
            "edition": "ENTERPRISE",
            "availability_type": tier["availability"],
            "disk_size": tier["disk_gb"],
            "disk_type": "PD_SSD",
            "disk_autoresize": True,
            "deletion_protection_enabled": ctx.prod,
            "user_labels": ctx.labels,
            "ip_configuration": {
                "ipv4_enabled": False,
                "private_network": net.network.id,
                "ssl_mode": "ENCRYPTED_ONLY",
            },
            "backup_configuration": backup,
        },
        opts=ctx.opts(depends_on=[net.connection]),
    )
    db_name = sql_identifier(ctx.spec.app)
    gcp.sql.Database(ctx.name(base, "db"), name=db_name, instance=instance.name, opts=ctx.opts())

    password, configured = db_password()
    ignore = [] if configured else ["password"]
    gcp.sql.User(
        ctx.name(base, "user"),
        name=db_name,
        instance=instance.name,
        password=password,
        # Postgres users that own objects cannot be dropped through the API; the instance owns them anyway.
        deletion_policy="ABANDON" if kind == "postgres" else None,
        opts=ctx.opts(ignore_changes=ignore),
    )
    secret = make_secret(ctx, ctx.name(base, "password"))
    version = gcp.secretmanager.SecretVersion(
        ctx.name(base, "password-v"),
        secret=secret.id,
        secret_data=password,
        opts=ctx.opts(ignore_changes=[] if configured else ["secret_data"]),
    )

    ctx.grants.append(_cloudsql_client(ctx))
    ctx.grants.append(accessor_grant(secret, f"{base}-password-access"))
    ctx.service_depends_on.append(version)

    prefix = _env_prefix(ctx, kind, index, total)
    ctx.env.extend(
        [
            {"name": f"{prefix}_CONNECTION_NAME", "value": instance.connection_name},
            {"name": f"{prefix}_HOST", "value": instance.private_ip_address},
            {"name": f"{prefix}_NAME", "value": db_name},
            {"name": f"{prefix}_USER", "value": db_name},
            {
                "name": f"{prefix}_PASSWORD",
                "value_source": {"secret_key_ref": {"secret": secret.secret_id, "version": "latest"}},
            },
        ]
    )
    ctx.export(f"{base}_connection_name", instance.connection_name)
    ctx.export(f"{base}_instance", instance.name)
    ctx.export(f"{base}_password_secret", secret.name)
