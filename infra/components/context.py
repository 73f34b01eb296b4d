"""Shared state while one program is being built: names, labels, the network, the APIs, and the
wiring that services pick up from the components built before them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from core.spec import Component, InfraSpec
from infra import naming
from infra.components import apis

# (logical name, IAM member such as "serviceAccount:x@p.iam.gserviceaccount.com", options) -> binding
GrantFactory = Callable[[str, pulumi.Input[str], pulumi.ResourceOptions], pulumi.Resource]


@dataclass
class Grant:
    """An IAM role a service's own account needs on a resource another builder made."""

    # Appended to the service's logical name, as separate name parts so renames can be aliased.
    parts: tuple[str, ...]
    role: str
    make: GrantFactory


@dataclass(frozen=True)
class Network:
    """The shared environment network, by reference (see infra/components/network.py)."""

    network_id: str
    subnetwork_id: str
    peering_range: str


@dataclass
class BuiltService:
    base: str
    service: gcp.cloudrunv2.Service
    account: gcp.serviceaccount.Account


@dataclass
class BuildContext(naming.SpecScope):
    spec: InfraSpec
    project: str
    provider: gcp.Provider | None = None
    public_services: bool = False
    grants: list[Grant] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)
    # Resources a service must wait for before its first revision can start (secret versions, grants).
    service_depends_on: list[pulumi.Resource] = field(default_factory=list)
    network: Network | None = None
    services: list[BuiltService] = field(default_factory=list)
    # Work that needs the services to exist first (a push subscription needs the service's URL).
    after_services: list[Callable[[], None]] = field(default_factory=list)
    # Name parts renamed since an earlier version of the program: new part -> old part.
    renamed_parts: dict[str, str] = field(default_factory=dict)
    # Logical names that were different before: new name -> old name, for aliases and the offline diff.
    aliases: dict[str, str] = field(default_factory=dict)
    enabled_apis: dict[str, gcp.projects.Service] = field(default_factory=dict)
    # Resources made once per program however many components ask for them, by key.
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        return naming.labels_for(self.spec)

    def name(self, *parts: str) -> str:
        """Logical (Pulumi) name: `{app}-{env}-{parts}`; also what the plan shows."""
        logical = "-".join([self.prefix, *parts])
        old = "-".join([self.prefix, *(self.renamed_parts.get(p, p) for p in parts)])
        if old != logical:
            self.aliases[logical] = old
        return logical

    def rename(self, new: str, old: str) -> None:
        self.renamed_parts[new] = old

    def base(self, short: str, index: int, total: int) -> str:
        """The name part of the `index`th of `total` components: the first keeps its unnumbered name when
        siblings are added, and stacks that an earlier version numbered from the start are aliased."""
        base = naming.numbered(short, index)
        if index == 1 and total > 1:
            self.rename(base, naming.legacy_numbered(short, index, total))
        return base

    def api(self, service: str) -> gcp.projects.Service:
        """The API, enabled once per program however many components need it."""
        if service not in self.enabled_apis:
            self.enabled_apis[service] = apis.enable(
                self.name(f"api-{apis.short(service)}"), self.project, service, self.provider
            )
        return self.enabled_apis[service]

    def opts(self, *, needs: Sequence[str] = (), **kwargs: Any) -> pulumi.ResourceOptions:
        """Options with the provider, and a dependency on every API in `needs` being enabled first."""
        depends_on = [self.api(service) for service in needs]
        depends_on.extend(kwargs.pop("depends_on", None) or [])
        return pulumi.ResourceOptions(provider=self.provider, depends_on=depends_on or None, **kwargs)

    def size(self, component: Component) -> str:
        return self.spec.size_of(component)

    def count_of(self, kind: str) -> int:
        return sum(c.count for c in self.spec.components if c.kind == kind)

    def export(self, key: str, value: pulumi.Input[Any]) -> None:
        pulumi.export(key.replace("-", "_"), value)


def alias_transformation(ctx: BuildContext) -> Callable[[pulumi.ResourceTransformationArgs], Any]:
    """Gives every renamed resource an alias to its old logical name, so Pulumi keeps it in place,
    and has it keep the physical name it was created with (a new name would replace it)."""

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        old = ctx.aliases.get(args.name)
        if old is None:
            return None
        field = naming.PHYSICAL_NAME.get(args.type_)
        extra = pulumi.ResourceOptions(aliases=[pulumi.Alias(name=old)], ignore_changes=[field] if field else None)
        merged = pulumi.ResourceOptions.merge(args.opts, extra)
        return pulumi.ResourceTransformationResult(props=args.props, opts=merged)

    return transform
