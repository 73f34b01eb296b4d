"""The Pulumi inline program for a whole app, shared by the real and the offline engine."""

from __future__ import annotations

import os
from collections.abc import Callable

import pulumi
import pulumi_gcp as gcp

from config.aws_service import ServiceOptions
from core.spec import Component, InfraSpec
from infra.components import BUILDERS
from infra.components.context import BuildContext, alias_transformation

PULUMI_PROJECT = "infrabot"
DEFAULT_GCP_PROJECT = "infrabot-demo"

__all__ = ["PULUMI_PROJECT", "gcp_project", "make_program"]


def gcp_project() -> str:
    """`gcp:project` config, else GOOGLE_CLOUD_PROJECT, else a demo name that only the offline engine uses."""
    return pulumi.Config("gcp").get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT") or DEFAULT_GCP_PROJECT


def instances(spec: InfraSpec, kind: str) -> list[Component]:
    """Components of one kind expanded by count, so two entries of 1 number like one entry of 2."""
    return [c for c in spec.components if c.kind == kind for _ in range(c.count)]


def make_program(
    spec: InfraSpec, *, public_services: bool = False, aliases: dict[str, str] | None = None,
    aws_service: ServiceOptions | None = None,
) -> Callable[[], None]:
    """`aliases`, when given, is filled with the renamed resources (new logical name -> old one).
    `aws_service` sets up AWS services (image, port, HTTPS); the defaults when None."""
    if spec.cloud == "aws":
        from infra.aws.program import make_aws_program  # imported late: pulumi_aws is large

        return make_aws_program(spec, aws_service or ServiceOptions())

    def program() -> None:
        project = gcp_project()
        provider = gcp.Provider("gcp", project=project, region=spec.region)
        ctx = BuildContext(spec=spec, project=project, provider=provider, public_services=public_services)
        pulumi.runtime.register_stack_transformation(alias_transformation(ctx))
        for kind, build in BUILDERS.items():
            found = instances(spec, kind)
            for index, component in enumerate(found, start=1):
                build(ctx, component, index, len(found))
        for finish in ctx.after_services:
            finish()
        if aliases is not None:
            aliases.update(ctx.aliases)
        pulumi.export("project", project)
        pulumi.export("region", spec.region)

    return program
