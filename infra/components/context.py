"""Shared state while one program is being built: names, labels, the network, and the wiring that
services pick up from the components built before them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from core.spec import Component, InfraSpec
from infra import naming

# (logical name, IAM member such as "serviceAccount:x@p.iam.gserviceaccount.com", options) -> binding
GrantFactory = Callable[[str, pulumi.Input[str], pulumi.ResourceOptions], pulumi.Resource]


@dataclass
class Grant:
    """An IAM role a service's own account needs on a resource another builder made."""

    suffix: str  # appended to the service's logical name, keeps binding names unique and readable
    role: str
    make: GrantFactory


@dataclass
class Network:
    network: gcp.compute.Network
    subnetwork: gcp.compute.Subnetwork
    peering_range: gcp.compute.GlobalAddress
    connection: gcp.servicenetworking.Connection


@dataclass
class BuildContext:
    spec: InfraSpec
    project: str
    provider: gcp.Provider | None = None
    public_services: bool = False
    grants: list[Grant] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)
    # Resources a service must wait for before its first revision can start (secret versions, grants).
    service_depends_on: list[pulumi.Resource] = field(default_factory=list)
    network: Network | None = None

    @property
    def region(self) -> str:
        return self.spec.region

    @property
    def prod(self) -> bool:
        return self.spec.environment == "prod"

    @property
    def labels(self) -> dict[str, str]:
        return naming.labels_for(self.spec)

    @property
    def prefix(self) -> str:
        return naming.slug(f"{self.spec.app}-{self.spec.environment}")

    def name(self, *parts: str) -> str:
        """Logical (Pulumi) name: `{app}-{env}-{parts}`; also what the plan shows."""
        return "-".join([self.prefix, *parts])

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider, **kwargs)

    def size(self, component: Component) -> str:
        return self.spec.size_of(component)

    def count_of(self, kind: str) -> int:
        return sum(c.count for c in self.spec.components if c.kind == kind)

    def export(self, key: str, value: pulumi.Input[Any]) -> None:
        pulumi.export(key.replace("-", "_"), value)
