"""Cloud SQL (Postgres or MySQL) on private IP, with a database, a user and its password secret.

The password is a `random.RandomPassword` resource: made once by the first apply, kept (encrypted)
in the stack's state, and unchanged by every later run. It never passes through stack config or a
command line, and only travels as a Pulumi secret: into the SQL user and a Secret Manager version,
never into a stack output, a log or the plan.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from core.spec import Component
from infra import naming, sizes
from infra.components import apis
from infra.components.context import BuildContext, Grant
from infra.components.network import ensure_network
from infra.components.secret import accessor_grant, make_secret

VERSIONS = sizes.DB_VERSIONS
SHORT = {"postgres": "pg", "mysql": "mysql"}
PASSWORD_LENGTH = 32
SQL_APIS = (apis.SQL_ADMIN,)


def sql_identifier(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())[:32] or "app"


def primary_kind(ctx: BuildContext) -> str | None:
    """The database kind that owns the plain `DB_*` names: the first one the spec lists.

    Decided by the spec's own order, not by which siblings exist, so adding a MySQL database to a
    Postgres app (or the other way round) never moves `DB_*` to another database.
    """
    return next((c.kind for c in ctx.spec.components if c.kind in SHORT), None)


def env_prefix(ctx: BuildContext, kind: str, index: int) -> str:
    base = "DB" if kind == primary_kind(ctx) else ("PG" if kind == "postgres" else "MYSQL")
    return base if index == 1 else f"{base}_{index}"


def backup_configuration(kind: str, size: str, environment: str) -> dict[str, object]:
    """Backups and the log that point-in-time recovery replays.

    Cloud SQL refuses a REGIONAL (HA) instance without them ("MySQL HA non-replica instances need
    to have binary logging enabled"), so HA turns them on in every environment, not just prod.
    """
    if not sizes.backups_enabled(kind, size, environment):
        return {"enabled": False}
    log = "point_in_time_recovery_enabled" if kind == "postgres" else "binary_log_enabled"
    return {"enabled": True, "start_time": "03:00", log: True}


def _cloudsql_client(ctx: BuildContext, instance: gcp.sql.DatabaseInstance, base: str) -> Grant:
    """`roles/cloudsql.client` on this one instance only, through an IAM condition.

    Cloud SQL supports conditions on `resource.name` (`projects/P/instances/I`), so another app's
    service cannot open a connection to this database even though the binding is on the project.
    """
    role = "roles/cloudsql.client"
    expression = instance.name.apply(
        lambda name: (
            'resource.type == "sqladmin.googleapis.com/Instance" && '
            f'resource.name == "projects/{ctx.project}/instances/{name}"'
        )
    )

    def make(name: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
        needs = pulumi.ResourceOptions(depends_on=[ctx.api(apis.RESOURCE_MANAGER)])
        return gcp.projects.IAMMember(
            name,
            project=ctx.project,
            role=role,
            member=member,
            condition={
                "title": naming.fit(f"cloudsql-client-{base}", 100),
                "description": "infrabot: connect to this app's own Cloud SQL instance only",
                "expression": expression,
            },
            opts=pulumi.ResourceOptions.merge(opts, needs),
        )

    return Grant(parts=(base, "sql-client"), role=role, make=make)


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    kind = component.kind
    base = ctx.base(SHORT[kind], index, total)
    tier = sizes.tier(kind, ctx.size(component))
    net = ensure_network(ctx)

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
                "private_network": net.network_id,
                "ssl_mode": "ENCRYPTED_ONLY",
            },
            "backup_configuration": backup_configuration(kind, ctx.size(component), ctx.spec.environment),
        },
        opts=ctx.opts(
            needs=SQL_APIS,
            # Autoresize grows the disk; sending the starting size again would try to shrink it.
            ignore_changes=["settings.diskSize"],
        ),
    )
    db_name = sql_identifier(ctx.spec.app)
    gcp.sql.Database(ctx.name(base, "db"), name=db_name, instance=instance.name, opts=ctx.opts())

    generated = random.RandomPassword(ctx.name(base, "password-gen"), length=PASSWORD_LENGTH, special=False)
    password = pulumi.Output.secret(generated.result)
    # Stacks made before the password was a resource keep the one they were created with.
    keep_first = ["password"]
    gcp.sql.User(
        ctx.name(base, "user"),
        name=db_name,
        instance=instance.name,
        password=password,
        # Postgres users that own objects cannot be dropped through the API; the instance owns them anyway.
        deletion_policy="ABANDON" if kind == "postgres" else None,
        opts=ctx.opts(ignore_changes=keep_first),
    )
    secret = make_secret(ctx, ctx.name(base, "password"))
    version = gcp.secretmanager.SecretVersion(
        ctx.name(base, "password-v"),
        secret=secret.id,
        secret_data=password,
        opts=ctx.opts(ignore_changes=["secretData"]),
    )

    ctx.grants.append(_cloudsql_client(ctx, instance, base))
    ctx.grants.append(accessor_grant(secret, (base, "password-access")))
    ctx.service_depends_on.append(version)

    prefix = env_prefix(ctx, kind, index)
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
