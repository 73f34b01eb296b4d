"""Who may do what, and which requests are allowed at all. Pure rules, configured from settings.

Actions, each granted per environment (or "*" for any environment without its own rule):

* ``request``: ask for a plan, or change a request that is still being planned or waiting.
* ``apply``: set an approved plan going, i.e. press Approve / say `apply` on any plan.
* ``approve``: sign off a plan for somebody else. Pressing Approve both approves and applies, so
  it needs ``apply`` always, plus ``approve`` whenever the presser is not an author of the request
  and always in environments that need a second person (prod by default), where an author may not
  approve at all. Authors are the requester and everyone whose words changed the spec.
* ``destroy``: ask to destroy a stack. In a second-person environment the destroy then waits for
  someone else, who needs ``destroy`` and ``approve``.

A rule may also name a cloud, `aws:prod` or `gcp:*`; the most specific one applies, in the order
cloud:environment, environment, cloud:*, *.

An action with no rules, or an environment without a rule, is open to everyone. A principal is
"*", a platform user id ("U123", or "slack:U123" to match on one platform only) or
"role:WORKSPACE/ROLE" (a Slack user group or Discord role, by id, within the Slack team or Discord
guild it belongs to, e.g. "role:T0123ABCD/S0456EFGH" or "role:112233/445566"). Role names are never
matched: anyone can name a role anything in a guild of their own. Adapters give each actor's roles in
the same WORKSPACE/ROLE form, for the workspace the actor is in only. Web chat users are names typed
into the page, so only "web:NAME" matches them, never a bare id. An empty list means nobody.

A refusal is spans (core/markup.py), so a reply can show a command to say as code; logs and audit rows take
its plain text (core.markup.plain).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TypeVar

from core.markup import Code, Inline, spans
from core.spec import CLOUDS, DEFAULT_CLOUD, DEFAULT_ENVIRONMENT, SIZES, InfraSpec
from core.understanding.clouds import cloud_label

ACTIONS: tuple[str, ...] = ("request", "approve", "apply", "destroy")
# Platforms whose user ids are whatever the person typed: a bare id there proves nothing.
SELF_ASSERTED_PLATFORMS: tuple[str, ...] = ("web",)
ANY_ENVIRONMENT = "*"
T = TypeVar("T")

_WHAT: dict[str, str] = {
    "request": "request changes",
    "approve": "approve other people's plans",
    "apply": "apply plans",
    "destroy": "destroy stacks",
}


def _per_env(table: dict[str, T], environment: str) -> T | None:
    return table.get(environment, table.get(ANY_ENVIRONMENT))


def _rule_for(table: dict[str, T], environment: str, cloud: str) -> T | None:
    """Role rules may name a cloud (`aws:prod`, `gcp:*`): the most specific rule wins, in the order
    cloud:environment, environment, cloud:*, *."""
    keys = [f"{cloud}:{environment}", environment, f"{cloud}:{ANY_ENVIRONMENT}", ANY_ENVIRONMENT] if cloud else [
        environment, ANY_ENVIRONMENT]
    return next((table[k] for k in keys if k in table), None)


# Kinds whose smallest sizes are unfit for production: shared-core Cloud SQL, BASIC (no HA) Redis.
FLOOR_KINDS: tuple[str, ...] = ("postgres", "mysql", "redis")
DEFAULT_MAX_MONTHLY_COST_USD: dict[str, float] = {"dev": 500.0, "staging": 2000.0, "prod": 10000.0}
DEFAULT_MAX_COMPONENTS = 20


@dataclass
class Guardrails:
    allowed_regions: list[str] | None = None
    max_size: dict[str, str] = field(default_factory=dict)
    allowed_components: dict[str, list[str]] = field(default_factory=dict)
    # Per environment, the smallest size a database or cache gets; smaller asks are raised to it.
    min_size: dict[str, str] = field(default_factory=dict)
    max_monthly_cost_usd: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_MONTHLY_COST_USD))
    # Every instance of every component, across kinds: one request never builds more than this.
    max_components: int = DEFAULT_MAX_COMPONENTS
    # Per environment, the clouds its stacks may be on (e.g. prod only on gcp); unset: every enabled cloud.
    allowed_clouds: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Roles:
    """action -> environment -> principals."""

    rules: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def allows(
        self, action: str, environment: str, user: str, roles: tuple[str, ...], platform: str = "", cloud: str = ""
    ) -> bool:
        by_env = self.rules.get(action)
        if not by_env:
            return True
        principals = _rule_for(by_env, environment, cloud)
        if principals is None:
            return True
        wanted = {p for p in principals if p.startswith("role:")}
        return (
            "*" in principals
            or (user in principals and platform not in SELF_ASSERTED_PLATFORMS)
            or (bool(platform) and f"{platform}:{user}" in principals)
            or any(f"role:{r}" in wanted for r in roles)
        )


@dataclass
class Policy:
    guardrails: Guardrails = field(default_factory=Guardrails)
    roles: Roles = field(default_factory=Roles)
    approval_environments: tuple[str, ...] = ("prod",)
    # CLOUDS / DEFAULT_CLOUD: the clouds requests may target, and the one a request gets unless it names one.
    clouds: tuple[str, ...] = CLOUDS
    default_cloud: str = DEFAULT_CLOUD

    def fit(self, spec: InfraSpec) -> InfraSpec:
        """`spec` with databases and caches raised to the environment's floor (prod: medium by default).

        Raised rather than refused: "a postgres in prod" should get a production-grade database, and
        the plan shows the size it will build.
        """
        floor = _per_env(self.guardrails.min_size, spec.environment)
        if not floor:
            return spec
        components = []
        for component in spec.components:
            size = spec.size_of(component)
            if component.kind in FLOOR_KINDS and SIZES.index(size) < SIZES.index(floor):
                component = component.model_copy(update={"size": floor})
            components.append(component)
        return spec.model_copy(update={"components": components})

    def clouds_in(self, environment: str) -> list[str]:
        """The enabled clouds `environment`'s stacks may be on, in CLOUDS order."""
        allowed = _per_env(self.guardrails.allowed_clouds, environment)
        return [c for c in self.clouds if allowed is None or c in allowed]

    def default_cloud_for(self, environment: str | None) -> str:
        """DEFAULT_CLOUD, unless the environment may not use it: then the first cloud it may use, so a
        request that names no cloud lands where it is allowed instead of being refused."""
        usable = self.clouds_in(environment or DEFAULT_ENVIRONMENT)
        return self.default_cloud if self.default_cloud in usable or not usable else usable[0]

    def check_cloud(self, spec: InfraSpec) -> Inline | None:
        """Why `spec`'s cloud may not be used, or None. The worker checks this again before any change."""
        label = cloud_label(spec.cloud)
        if spec.cloud not in self.clouds:
            enabled = ", ".join(cloud_label(c) for c in self.clouds)
            return spans(f"{label} is not enabled here (enabled: {enabled})")
        usable = self.clouds_in(spec.environment)
        if spec.cloud not in usable:
            there = " or ".join(cloud_label(c) for c in usable)
            hint = (" (say ", Code(f"on {usable[0]}"), " to plan it there)") if usable else ()
            return spans(f"{spec.environment} stacks may not be on {label} here; {spec.environment} may use "
                         f"{there or 'no cloud'}", *hint)
        return None

    def check_spec(self, spec: InfraSpec, monthly_cost_usd: float | None = None) -> Inline | None:
        """The first guardrail `spec` breaks, said with the figures; `monthly_cost_usd` is its estimate."""
        g = self.guardrails
        cloud = self.check_cloud(spec)
        if cloud:
            return cloud
        if g.allowed_regions:
            # `aws:eu-west-1` / `gcp:us-central1` allow a region on that cloud only; a bare id on either.
            allowed = [r.split(":", 1)[1] if r.startswith(f"{spec.cloud}:") else r for r in g.allowed_regions
                       if ":" not in r or r.startswith(f"{spec.cloud}:")]
            if spec.region not in allowed:
                return spans(f"region {spec.region} is not allowed here; allowed: "
                             f"{', '.join(allowed) or 'none on ' + spec.cloud}")
        limit = _per_env(g.max_size, spec.environment)
        if limit:
            for component in spec.components:
                size = spec.size_of(component)
                if SIZES.index(size) > SIZES.index(limit):
                    return spans(f"{size} {component.kind} is above the largest size allowed in "
                                 f"{spec.environment} ({limit})")
        allowed = _per_env(g.allowed_components, spec.environment)
        if allowed is not None:
            for component in spec.components:
                if component.kind not in allowed:
                    kinds = ", ".join(allowed) or "nothing"
                    return spans(f"{component.kind} is not allowed in {spec.environment} (allowed there: {kinds})")
        total = sum(c.count for c in spec.components)
        if total > g.max_components:
            return spans(f"that is {total} components, and one request may build at most {g.max_components}")
        cap = _per_env(g.max_monthly_cost_usd, spec.environment)
        if cap is not None and monthly_cost_usd is not None and monthly_cost_usd > cap:
            return spans(f"its estimated cost of about ${monthly_cost_usd:,.2f}/month is above the "
                         f"${cap:,.2f}/month limit for {spec.environment}")
        return None

    def refuse(
        self, action: str, environment: str, user: str, roles: tuple[str, ...], platform: str = "", cloud: str = ""
    ) -> Inline | None:
        if self.roles.allows(action, environment, user, roles, platform, cloud):
            return None
        where = f"{environment} on {cloud_label(cloud)}" if cloud and self._per_cloud(action) else environment
        return spans(f"you are not allowed to {_WHAT.get(action, action)} in {where}")

    def _per_cloud(self, action: str) -> bool:
        return any(":" in key for key in self.roles.rules.get(action, {}))

    def needs_second_person(self, environment: str) -> bool:
        return environment in self.approval_environments

    def refuse_approval(
        self,
        action: str,
        environment: str,
        user: str,
        roles: tuple[str, ...],
        authors: Collection[str],
        platform: str = "",
        owner: str | None = None,
        cloud: str = "",
    ) -> Inline | None:
        """Pressing Approve: `action` is "apply" for a plan, "destroy" for a pending destroy.

        `authors` (the requester and anyone whose words changed it) may never be the second person;
        only `owner` (the original requester; every author when not given) approves without `approve`.
        """
        refusal = self.refuse(action, environment, user, roles, platform, cloud)
        if refusal:
            return refusal
        second = self.needs_second_person(environment)
        if second and user in authors:
            who = "whoever asked for it" if action == "destroy" else "the requester"
            return spans(f"{environment} changes need approval from someone other than {who}")
        owns = user == owner if owner is not None else user in authors
        if second or not owns:
            return self.refuse("approve", environment, user, roles, platform, cloud)
        return None
