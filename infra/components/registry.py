"""Artifact Registry Docker repository for the app's images."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra import naming
from infra.components.context import BuildContext, Grant


def _reader(repo: gcp.artifactregistry.Repository, suffix: str) -> Grant:
    role = "roles/artifactregistry.reader"

    def make(name: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return gcp.artifactregistry.RepositoryIamMember(
            name, repository=repo.name, location=repo.location, role=role, member=member, opts=opts
        )

    return Grant(suffix=suffix, role=role, make=make)


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("registry", index, total)
    repo = gcp.artifactregistry.Repository(
        ctx.name(base),
        repository_id=naming.fit(ctx.name(base), 63),
        location=ctx.region,
        format="DOCKER",
        description=f"Container images for {ctx.spec.app} ({ctx.spec.environment})",
        labels=ctx.labels,
        opts=ctx.opts(),
    )
    ctx.grants.append(_reader(repo, f"{base}-read"))
    url = pulumi.Output.concat(ctx.region, "-docker.pkg.dev/", ctx.project, "/", repo.repository_id)
    ctx.env.append({"name": "REGISTRY" if total == 1 else f"REGISTRY_{index}", "value": url})
    ctx.export(f"{base}_url", url)
