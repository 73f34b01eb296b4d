"""Builds the guardrails and role rules from settings and an optional policy file.

Each value comes from, in order: its environment variable (or `.env`), the `POLICY_FILE`, the
built-in default. Defaults: every region and component is allowed, dev is capped at `medium`,
databases and caches in prod are at least `medium`, nobody is restricted by role, and prod needs a
second person to approve.

    ALLOWED_REGIONS=us-central1,aws:eu-west-1          # empty: every region; gcp:/aws: pin a cloud
    CLOUDS=gcp,aws                                     # the clouds requests may target (default both)
    DEFAULT_CLOUD=gcp                                  # the cloud of a request that names none
    MAX_SIZE=dev=medium,staging=large,prod=large       # merged over the dev=medium default
    MIN_SIZE=prod=large                                # databases/caches raised to it; default prod=medium
    ALLOWED_COMPONENTS=prod=service,postgres,bucket;staging=service,postgres,bucket,redis
    APPROVAL_ENVIRONMENTS=prod                         # where the approver must not be the requester
    ROLE_RULES={"approve": {"prod": ["role:T0123ABCD/S0456EFGH", "U123"]}, "destroy": {"*": ["role:1122/3344"]}}
    # ROLE_RULES environments may name a cloud: {"approve": {"aws:prod": ["role:T0123ABCD/S0999AWSOPS"]}}
    MAX_MONTHLY_COST_USD=dev=500,staging=2000,prod=10000  # merged over these defaults
    MAX_COMPONENTS=20                                  # every instance of every kind, per request
    ALLOWED_CLOUDS=prod=gcp;*=gcp,aws                  # per environment; unset: every enabled cloud
    POLICY_FILE=policy.yaml                            # the same keys in YAML or JSON; `roles` for ROLE_RULES
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.policy import (
    ACTIONS,
    DEFAULT_MAX_COMPONENTS,
    DEFAULT_MAX_MONTHLY_COST_USD,
    Guardrails,
    Policy,
    Roles,
)
from core.spec import CLOUDS, DEFAULT_CLOUD, ENVIRONMENTS, KINDS, SIZES

if TYPE_CHECKING:
    from config.settings import Settings

DEFAULT_MAX_SIZE: dict[str, str] = {"dev": "medium"}
# Small in prod would mean a shared-core Cloud SQL tier and BASIC (no failover) Memorystore.
DEFAULT_MIN_SIZE: dict[str, str] = {"prod": "medium"}
DEFAULT_APPROVAL_ENVIRONMENTS: tuple[str, ...] = ("prod",)
ANY_ENV = "*"

# GCP `us-central1`, AWS `eu-west-1`; either may carry its cloud as a prefix (`aws:eu-west-1`).
_REGION = re.compile(r"^(?:(?:gcp|aws):)?[a-z]+(?:-[a-z]+)+-?\d+$")
# A Slack team (T…/E…) or Discord guild id, then a Slack user group (S…) or Discord role id.
_ROLE = re.compile(r"role:[A-Z0-9]+/[A-Z0-9]+")
_FILE_KEYS: dict[str, str] = {
    "allowed_regions": "allowed_regions",
    "max_size": "max_size",
    "min_size": "min_size",
    "allowed_components": "allowed_components",
    "approval_environments": "approval_environments",
    "roles": "role_rules",
    "max_monthly_cost_usd": "max_monthly_cost_usd",
    "max_components": "max_components",
    "allowed_clouds": "allowed_clouds",
}


class PolicyConfigError(ValueError):
    """A malformed guardrail or role setting; the message is meant for one start-up line."""


def _environment(name: str, *, wildcard: bool = True) -> str:
    env = name.strip().lower()
    if env in ENVIRONMENTS or (wildcard and env == ANY_ENV):
        return env
    allowed = ", ".join((*ENVIRONMENTS, ANY_ENV) if wildcard else ENVIRONMENTS)
    raise PolicyConfigError(f"unknown environment {name.strip()!r} (use {allowed})")


def _rule_scope(name: str) -> str:
    """A role rule's environment, optionally on one cloud: `prod`, `*`, `aws:prod`, `gcp:*`."""
    cloud, sep, env = name.strip().lower().rpartition(":")
    if not sep:
        return _environment(env)
    if cloud not in CLOUDS:
        raise PolicyConfigError(f"unknown cloud {cloud!r} in {name.strip()!r} (use {', '.join(CLOUDS)})")
    return f"{cloud}:{_environment(env)}"


def _items(value: str | list[Any] | tuple[Any, ...]) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;]", value) if part.strip()]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise PolicyConfigError(f"expected a list of names, got {value!r}")


def parse_regions(value: str | list[str]) -> list[str] | None:
    regions = [r.lower() for r in _items(value)]
    for region in regions:
        if not _REGION.match(region):
            raise PolicyConfigError(
                f"{region!r} does not look like a GCP region (e.g. us-central1) or an AWS one (aws:eu-west-1)")
    return regions or None


def _pairs(value: str) -> dict[str, list[str]]:
    """`a=x,y;b=z` (or `a=x,y,b=z`): a token with `=` starts a new key, later tokens extend it."""
    out: dict[str, list[str]] = {}
    key: str | None = None
    for token in _items(value):
        if "=" in token:
            name, _, first = token.partition("=")
            key = _environment(name)
            out.setdefault(key, [])
            token = first.strip()
            if not token:
                continue
        if key is None:
            raise PolicyConfigError(f"{token!r} needs an environment first, like dev={token}")
        out[key].append(token)
    return out


def _sizes(value: str | dict[str, str]) -> dict[str, str]:
    raw = {k: [v] if isinstance(v, str) else v for k, v in value.items()} if isinstance(value, dict) else (
        _pairs(value))
    limits: dict[str, str] = {}
    for env, sizes in raw.items():
        if not isinstance(sizes, list) or len(sizes) != 1:
            raise PolicyConfigError(f"give one size for {env}, like {env}=medium")
        size = str(sizes[0]).strip().lower()
        if size not in SIZES:
            raise PolicyConfigError(f"{size!r} for {env} is not a size ({', '.join(SIZES)})")
        limits[_environment(str(env))] = size
    return limits


def parse_max_size(value: str | dict[str, str]) -> dict[str, str]:
    return {**DEFAULT_MAX_SIZE, **_sizes(value)}


def parse_min_size(value: str | dict[str, str]) -> dict[str, str]:
    """Merged over the prod=medium default; `prod=small` turns the floor off."""
    return {**DEFAULT_MIN_SIZE, **_sizes(value)}


def parse_allowed_components(value: str | dict[str, Any]) -> dict[str, list[str]]:
    raw = {k: _items(v) for k, v in value.items()} if isinstance(value, dict) else _pairs(value)
    allowed: dict[str, list[str]] = {}
    for env, kinds in raw.items():
        for kind in kinds:
            if kind.lower() not in KINDS:
                raise PolicyConfigError(f"{kind!r} for {env} is not a component ({', '.join(KINDS)})")
        allowed[_environment(str(env))] = [k.lower() for k in kinds]
    return allowed


def parse_allowed_clouds(value: str | dict[str, Any]) -> dict[str, list[str]]:
    raw = {k: _items(v) for k, v in value.items()} if isinstance(value, dict) else _pairs(value)
    allowed: dict[str, list[str]] = {}
    for env, clouds in raw.items():
        for cloud in clouds:
            if cloud.lower() not in CLOUDS:
                raise PolicyConfigError(f"{cloud!r} for {env} is not a cloud ({', '.join(CLOUDS)})")
        allowed[_environment(str(env))] = [c.lower() for c in clouds]
    return allowed


def parse_max_monthly_cost(value: str | dict[str, Any]) -> dict[str, float]:
    raw = {k: [str(v)] for k, v in value.items()} if isinstance(value, dict) else _pairs(value)
    caps: dict[str, float] = {}
    for env, figures in raw.items():
        if len(figures) != 1:
            raise PolicyConfigError(f"give one amount for {env}, like {env}=500")
        try:
            cap = float(figures[0])
        except ValueError:
            raise PolicyConfigError(f"{figures[0]!r} for {env} is not an amount in USD") from None
        if not cap >= 0:
            raise PolicyConfigError(f"the limit for {env} must be 0 or more")
        caps[_environment(str(env))] = cap
    return {**DEFAULT_MAX_MONTHLY_COST_USD, **caps}


def parse_max_components(value: str | int) -> int:
    try:
        cap = int(str(value).strip())
    except ValueError:
        raise PolicyConfigError(f"{value!r} is not a whole number") from None
    if cap < 1:
        raise PolicyConfigError("must be at least 1")
    return cap


def parse_approval_environments(value: str | list[str]) -> tuple[str, ...]:
    return tuple(_environment(e, wildcard=False) for e in _items(value))


def parse_role_rules(value: str | dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise PolicyConfigError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise PolicyConfigError('expected an object like {"approve": {"prod": ["role:admins", "U123"]}}')
    rules: dict[str, dict[str, list[str]]] = {}
    for action, by_env in value.items():
        if action not in ACTIONS:
            raise PolicyConfigError(f"unknown action {action!r} (use {', '.join(ACTIONS)})")
        if not isinstance(by_env, dict):
            raise PolicyConfigError(f"{action}: expected environments mapped to lists of users or roles")
        rules[action] = {}
        for env, principals in by_env.items():
            names = [principals] if isinstance(principals, str | int) else principals
            if isinstance(names, list):
                # Discord user ids are numbers; YAML and JSON read them unquoted as such.
                names = [str(n) if isinstance(n, int) and not isinstance(n, bool) else n for n in names]
            try:
                names = _items(names)
            except PolicyConfigError:
                raise PolicyConfigError(f"{action}.{env}: expected a list of user ids or role:NAME") from None
            for name in names:
                if name.startswith("role:") and not _ROLE.fullmatch(name):
                    raise PolicyConfigError(
                        f"{action}.{env}: {name!r}: roles are matched by id within their workspace; write "
                        "role:WORKSPACE_ID/ROLE_ID, e.g. role:T0123ABCD/S0456EFGH for a Slack user group "
                        "or role:GUILD_ID/ROLE_ID for a Discord role")
            rules[action][_rule_scope(str(env))] = names
    return rules


_PARSERS: dict[str, Any] = {
    "allowed_regions": parse_regions,
    "max_size": parse_max_size,
    "min_size": parse_min_size,
    "allowed_components": parse_allowed_components,
    "approval_environments": parse_approval_environments,
    "role_rules": parse_role_rules,
    "max_monthly_cost_usd": parse_max_monthly_cost,
    "max_components": parse_max_components,
    "allowed_clouds": parse_allowed_clouds,
}


def read_policy_file(path: str) -> dict[str, Any]:
    """Parsed and checked file contents, keyed by setting name."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    import yaml

    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if file.suffix.lower() == ".json" else "YAML"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PolicyConfigError(f"{path} is not valid {kind}: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyConfigError(f"{path} must hold a mapping with keys {', '.join(_FILE_KEYS)}")
    out: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in _FILE_KEYS:
            raise PolicyConfigError(f"{path}: unknown key {key!r} (use {', '.join(_FILE_KEYS)})")
        name = _FILE_KEYS[key]
        try:
            out[name] = _PARSERS[name](raw)
        except PolicyConfigError as exc:
            raise PolicyConfigError(f"{path}: {key}: {exc}") from None
    return out


def check_setting(name: str, value: str | None) -> None:
    """For Settings validators: raises PolicyConfigError when `value` would not parse."""
    if value is None:
        return
    if name == "policy_file":
        if value.strip():
            read_policy_file(value)
        return
    _PARSERS[name](value)


def policy_from_settings(settings: Settings) -> Policy:
    from config.settings import SettingsError

    values: dict[str, Any] = {}
    file_name = getattr(settings, "policy_file", None)
    try:
        if file_name:
            values.update(read_policy_file(file_name))
    except PolicyConfigError as exc:
        raise SettingsError(f"infrabot: invalid setting POLICY_FILE: {exc}") from None
    for name, parse in _PARSERS.items():
        raw = getattr(settings, name, None)
        if raw is None:
            continue
        try:
            values[name] = parse(raw)
        except PolicyConfigError as exc:
            raise SettingsError(f"infrabot: invalid setting {name.upper()}: {exc}") from None
    return Policy(
        guardrails=Guardrails(
            allowed_regions=values.get("allowed_regions"),
            max_size=values.get("max_size", dict(DEFAULT_MAX_SIZE)),
            min_size=values.get("min_size", dict(DEFAULT_MIN_SIZE)),
            allowed_components=values.get("allowed_components", {}),
            max_monthly_cost_usd=values.get("max_monthly_cost_usd", dict(DEFAULT_MAX_MONTHLY_COST_USD)),
            max_components=values.get("max_components", DEFAULT_MAX_COMPONENTS),
            allowed_clouds=values.get("allowed_clouds", {}),
        ),
        roles=Roles(values.get("role_rules", {})),
        approval_environments=values.get("approval_environments", DEFAULT_APPROVAL_ENVIRONMENTS),
        clouds=parse_clouds(getattr(settings, "clouds", ",".join(CLOUDS))),
        default_cloud=getattr(settings, "default_cloud", DEFAULT_CLOUD),
    )


def parse_clouds(value: str) -> tuple[str, ...]:
    from config.settings import SettingsError

    clouds = tuple(c.lower() for c in _items(value))
    unknown = [c for c in clouds if c not in CLOUDS]
    if unknown or not clouds:
        raise SettingsError(f"infrabot: invalid setting CLOUDS: {value!r} (known: {', '.join(CLOUDS)})")
    return clouds
