"""Memorystore for Redis in private-service-access mode on the app network, with AUTH and TLS.

The AUTH string and the server CA only exist once the instance does; both go into Secret Manager
and reach the service as secret references, never as plain environment values or stack outputs.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra import naming, sizes
from infra.components import apis
from infra.components.context import BuildContext
from infra.components.network import ensure_network
from infra.components.secret import accessor_grant, make_secret, secret_env

REDIS_NAME_MAX = 40


def _first_ca(certs: list[dict[str, str]] | None) -> str:
    return (certs or [{}])[0].get("cert", "")


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = ctx.base("redis", index, total)
    tier = sizes.tier("redis", ctx.size(component))
    net = ensure_network(ctx)
    instance = gcp.redis.Instance(
        ctx.name(base),
        name=naming.fit(ctx.name(base), REDIS_NAME_MAX),
        region=ctx.region,
        tier=tier["tier"],
        memory_size_gb=tier["memory_gb"],
        redis_version="REDIS_7_2",
        connect_mode="PRIVATE_SERVICE_ACCESS",
        authorized_network=net.network_id,
        reserved_ip_range=net.peering_range,
        auth_enabled=True,
        transit_encryption_mode="SERVER_AUTHENTICATION",
        deletion_protection=ctx.prod,
        labels=ctx.labels,
        opts=ctx.opts(needs=(apis.REDIS,), additional_secret_outputs=["authString"]),
    )
    auth = make_secret(ctx, ctx.name(base, "auth"))
    auth_version = gcp.secretmanager.SecretVersion(
        ctx.name(base, "auth-v"),
        secret=auth.id,
        secret_data=pulumi.Output.secret(instance.auth_string),
        opts=ctx.opts(),
    )
    ca = make_secret(ctx, ctx.name(base, "ca"))
    ca_version = gcp.secretmanager.SecretVersion(
        ctx.name(base, "ca-v"),
        secret=ca.id,
        secret_data=instance.server_ca_certs.apply(_first_ca),
        opts=ctx.opts(),
    )
    ctx.grants.append(accessor_grant(auth, (base, "auth-access")))
    ctx.grants.append(accessor_grant(ca, (base, "ca-access")))
    ctx.service_depends_on.extend([auth_version, ca_version])

    prefix = "REDIS" if index == 1 else f"REDIS_{index}"
    ctx.env.extend(
        [
            {"name": f"{prefix}_HOST", "value": instance.host},
            # 6378 with TLS on: the port comes from the instance, not a constant.
            {"name": f"{prefix}_PORT", "value": instance.port.apply(str)},
            {"name": f"{prefix}_TLS", "value": "true"},
            secret_env(f"{prefix}_AUTH", auth),
            secret_env(f"{prefix}_CA_CERT", ca),
        ]
    )
    ctx.export(f"{base}_host", instance.host)
    ctx.export(f"{base}_port", instance.port)
    ctx.export(f"{base}_auth_secret", auth.name)
