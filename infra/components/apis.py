"""The Google APIs a component needs, enabled by the program itself.

A fresh project has most of them off, and the first call to a disabled one fails with
SERVICE_DISABLED. Each API is a `projects.Service` with `disable_on_destroy=False`: several stacks
share one project, so destroying one app must never switch an API off under the others (and
enabling an API that is already on is a no-op, so every stack may declare it).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

COMPUTE = "compute.googleapis.com"
SERVICE_NETWORKING = "servicenetworking.googleapis.com"
SQL_ADMIN = "sqladmin.googleapis.com"
REDIS = "redis.googleapis.com"
RUN = "run.googleapis.com"
IAM = "iam.googleapis.com"
PUBSUB = "pubsub.googleapis.com"
SECRET_MANAGER = "secretmanager.googleapis.com"
ARTIFACT_REGISTRY = "artifactregistry.googleapis.com"
STORAGE = "storage.googleapis.com"
# Project-level IAM bindings go through it, and new projects do not have it on (Service Usage they do).
RESOURCE_MANAGER = "cloudresourcemanager.googleapis.com"


def short(api: str) -> str:
    return api.split(".", 1)[0]


def enable(
    logical: str, project: str, api: str, provider: pulumi.ProviderResource | None
) -> gcp.projects.Service:
    return gcp.projects.Service(
        logical,
        project=project,
        service=api,
        disable_on_destroy=False,
        # Turning an API off would also break things this stack does not own.
        disable_dependent_services=False,
        opts=pulumi.ResourceOptions(provider=provider),
    )
