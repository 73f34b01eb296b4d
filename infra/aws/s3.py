"""S3 bucket: every kind of public access blocked, encrypted, versioned in prod."""

from __future__ import annotations

import pulumi_aws as aws

from core.spec import Component
from infra import naming
from infra.aws.context import AwsContext

BUCKET_NAME_MAX = 63
NONCURRENT_DAYS = 30


def bucket_name(ctx: AwsContext, index: int) -> str:
    """`{app}-{env}-{hash}[-{n}]`: bucket names are global, so the region and app are hashed in."""
    digest = naming.short_hash("aws", ctx.region, ctx.spec.app, ctx.spec.environment)
    suffix = digest if index == 1 else f"{digest}-{index}"
    head = naming.slug(f"{ctx.spec.app}-{ctx.spec.environment}")[: BUCKET_NAME_MAX - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def build(ctx: AwsContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("bucket", index)
    bucket = aws.s3.Bucket(
        ctx.name(base),
        bucket=bucket_name(ctx, index),
        # Outside prod a destroy should succeed even with objects left in the bucket.
        force_destroy=not ctx.prod,
        tags=ctx.tags,
        opts=ctx.opts(),
    )
    aws.s3.BucketPublicAccessBlock(
        ctx.name(base, "public-block"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=ctx.opts(),
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        ctx.name(base, "sse"),
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
        opts=ctx.opts(),
    )
    if ctx.prod:
        aws.s3.BucketVersioning(ctx.name(base, "versioning"), bucket=bucket.id,
                                versioning_configuration={"status": "Enabled"}, opts=ctx.opts())
        aws.s3.BucketLifecycleConfiguration(
            ctx.name(base, "lifecycle"),
            bucket=bucket.id,
            rules=[{"id": "noncurrent", "status": "Enabled", "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS}}],
            opts=ctx.opts(),
        )
    ctx.allow(f"Bucket{index}List", ["s3:ListBucket"], [bucket.arn])
    ctx.allow(f"Bucket{index}Objects", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
              [bucket.arn.apply(lambda arn: f"{arn}/*")])
    ctx.env.append({"name": "BUCKET" if index == 1 else f"BUCKET_{index}", "value": bucket.bucket})
    ctx.export(f"{base}_name", bucket.bucket)
    ctx.export(f"{base}_arn", bucket.arn)
