"""Memorystore for Redis in private-service-access mode on the app network."""

from __future__ import annotations

import pulumi_gcp as gcp

from core.spec import Component
from infra import naming, sizes
from infra.components.context import BuildContext
from infra.components.network import ensure_network

REDIS_NAME_MAX = 40


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("redis", index, total)
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
        authorized_network=net.network.id,
        reserved_ip_range=net.peering_range.name,
        transit_encryption_mode="DISABLED",
        deletion_protection=ctx.prod,
        labels=ctx.labels,
        opts=ctx.opts(depends_on=[net.connection]),
    )
    prefix = "REDIS" if total == 1 else f"REDIS_{index}"
    ctx.env.extend(
        [
            {"name": f"{prefix}_HOST", "value": instance.host},
            {"name": f"{prefix}_PORT", "value": instance.port.apply(str)},
        ]
    )
    ctx.export(f"{base}_host", instance.host)
    ctx.export(f"{base}_port", instance.port)
