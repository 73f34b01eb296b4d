"""The Pulumi program for an app on AWS: the same component kinds as on GCP, built with pulumi-aws."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from config.aws_service import ServiceOptions
from core.spec import Component, InfraSpec
from infra.aws.builders import BUILDERS
from infra.aws.context import AwsContext
from infra.aws.network import NETWORK_KINDS, ensure_vpc


def instances(spec: InfraSpec, kind: str) -> list[Component]:
    return [c for c in spec.components if c.kind == kind for _ in range(c.count)]


def make_aws_program(spec: InfraSpec, service: ServiceOptions | None = None) -> Callable[[], None]:
    def program() -> None:
        provider = aws.Provider("aws", region=spec.region)
        ctx = AwsContext(spec=spec, provider=provider, service=service or ServiceOptions())
        if ctx.has(*NETWORK_KINDS):
            ensure_vpc(ctx)
        for kind, build in BUILDERS.items():
            found = instances(spec, kind)
            for index, component in enumerate(found, start=1):
                build(ctx, component, index, len(found))
        pulumi.export("cloud", "aws")
        pulumi.export("region", spec.region)

    return program
