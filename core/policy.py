"""Who may do what, and which requests are allowed at all. Pure rules, configured from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.spec import SIZES, InfraSpec

ACTIONS: tuple[str, ...] = ("request", "approve", "apply", "destroy")


@dataclass
class Guardrails:
    allowed_regions: list[str] | None = None
    max_size: dict[str, str] = field(default_factory=dict)
    allowed_components: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Roles:
    """action -> environment -> principals: "*", a platform user id, or "role:NAME"."""

    rules: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def allows(self, action: str, environment: str, user: str, roles: tuple[str, ...]) -> bool:
        by_env = self.rules.get(action)
        if not by_env:
            return True
        principals = by_env.get(environment, by_env.get("*"))
        if principals is None:
            return True
        return "*" in principals or user in principals or any(f"role:{r}" in principals for r in roles)


@dataclass
class Policy:
    guardrails: Guardrails = field(default_factory=Guardrails)
    roles: Roles = field(default_factory=Roles)
    approval_environments: tuple[str, ...] = ("prod",)

    def check_spec(self, spec: InfraSpec) -> str | None:
        g = self.guardrails
        if g.allowed_regions and spec.region not in g.allowed_regions:
            return f"region {spec.region} is not allowed here; allowed: {', '.join(g.allowed_regions)}"
        limit = g.max_size.get(spec.environment)
        if limit:
            for component in spec.components:
                size = spec.size_of(component)
                if SIZES.index(size) > SIZES.index(limit):
                    return f"{size} {component.kind} is above the largest size for {spec.environment} ({limit})"
        allowed = g.allowed_components.get(spec.environment)
        if allowed is not None:
            for component in spec.components:
                if component.kind not in allowed:
                    return f"{component.kind} is not allowed in {spec.environment}"
        return None

    def refuse(self, action: str, environment: str, user: str, roles: tuple[str, ...]) -> str | None:
        if self.roles.allows(action, environment, user, roles):
            return None
        return f"you are not allowed to {action} in {environment}"

    def needs_second_person(self, environment: str) -> bool:
        return environment in self.approval_environments
