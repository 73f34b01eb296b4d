"""Secret Manager secrets: app secrets the team fills in, and the generated ones (database
passwords, the Redis AUTH string and CA)."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra import naming
from infra.components import apis
from infra.components.context import BuildContext, Grant


def make_secret(ctx: BuildContext, logical: str) -> gcp.secretmanager.Secret:
    return gcp.secretmanager.Secret(
        logical,
        secret_id=naming.fit(logical, 255),
        replication={"auto": {}},
        labels=ctx.labels,
        opts=ctx.opts(needs=(apis.SECRET_MANAGER,)),
    )


def accessor_grant(secret: gcp.secretmanager.Secret, parts: tuple[str, ...]) -> Grant:
    role = "roles/secretmanager.secretAccessor"

    def make(name: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return gcp.secretmanager.SecretIamMember(name, secret_id=secret.id, role=role, member=member, opts=opts)

    return Grant(parts=parts, role=role, make=make)


def secret_env(name: str, secret: gcp.secretmanager.Secret) -> dict[str, object]:
    """An environment variable Cloud Run fills from the secret's latest version at start-up."""
    return {"name": name, "value_source": {"secret_key_ref": {"secret": secret.secret_id, "version": "latest"}}}


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = ctx.base("secret", index, total)
    secret = make_secret(ctx, ctx.name(base))
    ctx.grants.append(accessor_grant(secret, (base, "access")))
    # No value is mounted: the secret starts empty and a revision referencing a missing version
    # would fail to start, so the service gets the secret's resource name and reads it at run time.
    env_name = "APP_SECRET" if index == 1 else f"APP_SECRET_{index}"
    ctx.env.append({"name": f"{env_name}_NAME", "value": secret.name})
    ctx.export(f"{base}_name", secret.name)
