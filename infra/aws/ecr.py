"""ECR repository for the team's images: scanned on push, tags immutable."""

from __future__ import annotations

import pulumi_aws as aws

from core.spec import Component
from infra import naming
from infra.aws.context import AwsContext


def build(ctx: AwsContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("registry", index)
    repo = aws.ecr.Repository(
        ctx.name(base),
        name=naming.fit(ctx.name(base), 256),
        image_scanning_configuration={"scan_on_push": True},
        image_tag_mutability="IMMUTABLE",
        encryption_configurations=[{"encryption_type": "AES256"}],
        force_delete=not ctx.prod,
        tags=ctx.tags,
        opts=ctx.opts(),
    )
    ctx.env.append({"name": "REGISTRY_URL" if index == 1 else f"REGISTRY_URL_{index}", "value": repo.repository_url})
    ctx.export(f"{base}_url", repo.repository_url)
