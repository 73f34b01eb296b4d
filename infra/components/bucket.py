"""Cloud Storage bucket: private, uniform access, globally unique but stable name."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra import naming
from infra.components import apis
from infra.components.context import BuildContext, Grant

BUCKET_NAME_MAX = 63
# Versioned (prod) buckets: noncurrent versions go after this many days, and beyond this many newer
# versions, so overwrites stay recoverable for a while without storage growing for ever.
NONCURRENT_DAYS = 30
NEWER_VERSIONS_KEPT = 5


def bucket_name(ctx: BuildContext, index: int) -> str:
    """`{app}-{env}-{hash}[-{n}]`: the hash of project, app and env keeps it unique worldwide."""
    digest = naming.short_hash(ctx.project, ctx.spec.app, ctx.spec.environment)
    suffix = digest if index == 1 else f"{digest}-{index}"
    head = naming.slug(f"{ctx.spec.app}-{ctx.spec.environment}")[: BUCKET_NAME_MAX - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def lifecycle_rules(prod: bool) -> list[dict[str, object]]:
    if not prod:
        return []
    return [
        {"action": {"type": "Delete"}, "condition": {"days_since_noncurrent_time": NONCURRENT_DAYS}},
        {"action": {"type": "Delete"}, "condition": {"num_newer_versions": NEWER_VERSIONS_KEPT}},
    ]


def _object_admin(bucket: gcp.storage.Bucket, parts: tuple[str, ...]) -> Grant:
    role = "roles/storage.objectAdmin"

    def make(name: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return gcp.storage.BucketIAMMember(name, bucket=bucket.name, role=role, member=member, opts=opts)

    return Grant(parts=parts, role=role, make=make)


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = ctx.base("bucket", index, total)
    bucket = gcp.storage.Bucket(
        ctx.name(base),
        name=bucket_name(ctx, index),
        location=ctx.region.upper(),
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": ctx.prod},
        lifecycle_rules=lifecycle_rules(ctx.prod),
        # Outside prod a destroy should succeed even when objects are left in the bucket.
        force_destroy=not ctx.prod,
        labels=ctx.labels,
        opts=ctx.opts(needs=(apis.STORAGE,)),
    )
    ctx.grants.append(_object_admin(bucket, (base, "objects")))
    ctx.env.append({"name": "BUCKET" if index == 1 else f"BUCKET_{index}", "value": bucket.name})
    ctx.export(f"{base}_name", bucket.name)
    ctx.export(f"{base}_url", bucket.url)
