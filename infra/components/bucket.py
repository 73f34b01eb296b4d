"""Cloud Storage bucket: private, uniform access, globally unique but stable name."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra import naming
from infra.components.context import BuildContext, Grant

BUCKET_NAME_MAX = 63


def bucket_name(ctx: BuildContext, index: int, total: int) -> str:
    """`{app}-{env}-{hash}[-{n}]`: the hash of project, app and env keeps it unique worldwide."""
    digest = naming.short_hash(ctx.project, ctx.spec.app, ctx.spec.environment)
    suffix = digest if total == 1 else f"{digest}-{index}"
    head = naming.slug(f"{ctx.spec.app}-{ctx.spec.environment}")[: BUCKET_NAME_MAX - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def _object_admin(bucket: gcp.storage.Bucket, suffix: str) -> Grant:
    role = "roles/storage.objectAdmin"

    def make(name: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return gcp.storage.BucketIAMMember(name, bucket=bucket.name, role=role, member=member, opts=opts)

    return Grant(suffix=suffix, role=role, make=make)


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("bucket", index, total)
    bucket = gcp.storage.Bucket(
        ctx.name(base),
        name=bucket_name(ctx, index, total),
        location=ctx.region.upper(),
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": ctx.prod},
        # Outside prod a destroy should succeed even when objects are left in the bucket.
        force_destroy=not ctx.prod,
        labels=ctx.labels,
        opts=ctx.opts(),
    )
    ctx.grants.append(_object_admin(bucket, f"{base}-objects"))
    ctx.env.append({"name": "BUCKET" if total == 1 else f"BUCKET_{index}", "value": bucket.name})
    ctx.export(f"{base}_name", bucket.name)
    ctx.export(f"{base}_url", bucket.url)
