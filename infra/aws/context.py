"""Shared state while one AWS program is being built: names, tags, the VPC, and the wiring
(task-role statements, environment variables, ECS secrets) that services pick up from the
components built before them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from config.aws_service import ServiceOptions
from core.spec import Component, InfraSpec
from infra import naming


@dataclass(frozen=True)
class Vpc:
    vpc_id: pulumi.Output[str]
    cidr: str
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    # The tasks' security group, made with the network when the app has a service, so databases and
    # caches can admit exactly it.
    app_security_group_id: pulumi.Output[str] | None


@dataclass
class AwsContext(naming.SpecScope):
    spec: InfraSpec
    provider: aws.Provider | None = None
    # IAM statements for the service's task role, each naming this app's own resources only.
    statements: list[dict[str, Any]] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)
    # ECS secrets ({"name", "valueFrom"}): the execution role may read exactly these ARNs.
    secrets: list[dict[str, Any]] = field(default_factory=list)
    secret_arns: list[pulumi.Output[str]] = field(default_factory=list)
    vpc: Vpc | None = None
    shared: dict[str, Any] = field(default_factory=dict)
    service: ServiceOptions = field(default_factory=ServiceOptions)

    @property
    def tags(self) -> dict[str, str]:
        # AWS tag values allow far more than GCP labels; the same cleaned values keep both clouds alike.
        return naming.labels_for(self.spec)

    def name(self, *parts: str) -> str:
        return "-".join([self.prefix, *parts])

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider, **kwargs)

    def size(self, component: Component) -> str:
        return self.spec.size_of(component)

    def has(self, *kinds: str) -> bool:
        return any(c.kind in kinds for c in self.spec.components)

    def allow(self, sid: str, actions: list[str], resources: list[pulumi.Input[str]]) -> None:
        self.statements.append({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources})

    def export(self, key: str, value: pulumi.Input[Any]) -> None:
        pulumi.export(key.replace("-", "_"), value)
