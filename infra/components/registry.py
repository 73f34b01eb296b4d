"""Artifact Registry Docker repository for the app's images.

The runtime service account gets no access to it: Cloud Run's own service agent pulls the image
when a revision is deployed, so the app itself never needs to read the registry.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra import naming
from infra.components import apis
from infra.components.context import BuildContext

KEEP_RECENT = 10
UNTAGGED_AFTER = "1209600s"  # 14 days
ANY_AFTER = "7776000s"  # 90 days


def cleanup_policies() -> list[dict[str, object]]:
    """Keep the newest images whatever their age (KEEP wins over DELETE); untagged ones go after
    two weeks and everything else after three months."""
    return [
        {"id": "keep-recent", "action": "KEEP", "most_recent_versions": {"keep_count": KEEP_RECENT}},
        {
            "id": "delete-untagged",
            "action": "DELETE",
            "condition": {"tag_state": "UNTAGGED", "older_than": UNTAGGED_AFTER},
        },
        {"id": "delete-old", "action": "DELETE", "condition": {"tag_state": "ANY", "older_than": ANY_AFTER}},
    ]


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = ctx.base("registry", index, total)
    repo = gcp.artifactregistry.Repository(
        ctx.name(base),
        repository_id=naming.fit(ctx.name(base), 63),
        location=ctx.region,
        format="DOCKER",
        description=f"Container images for {ctx.spec.app} ({ctx.spec.environment})",
        cleanup_policies=cleanup_policies(),
        cleanup_policy_dry_run=False,
        labels=ctx.labels,
        opts=ctx.opts(needs=(apis.ARTIFACT_REGISTRY,)),
    )
    url = pulumi.Output.concat(ctx.region, "-docker.pkg.dev/", ctx.project, "/", repo.repository_id)
    ctx.env.append({"name": "REGISTRY" if index == 1 else f"REGISTRY_{index}", "value": url})
    ctx.export(f"{base}_url", url)
