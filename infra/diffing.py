"""Offline stand-in for Pulumi's diff: compares the mocked inputs of this run with the last
simulated apply. Fields that force a new resource on GCP make it a `replace`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.plan import ResourceChange
from infra.mocks import MockedResource

# Generated secrets differ on every run and are pinned by ignore_changes in the real program.
VOLATILE_INPUTS = frozenset({"password", "secretData"})
EVERYTHING = "*"
REPLACE_ON: dict[str, frozenset[str]] = {
    "gcp:storage/bucket:Bucket": frozenset({"name", "location"}),
    "gcp:sql/databaseInstance:DatabaseInstance": frozenset({"name", "region"}),
    "gcp:sql/database:Database": frozenset({"name", "instance"}),
    "gcp:sql/user:User": frozenset({"name", "instance"}),
    "gcp:redis/instance:Instance": frozenset(
        {"name", "region", "tier", "connectMode", "authorizedNetwork", "reservedIpRange"}
    ),
    "gcp:serviceaccount/account:Account": frozenset({"accountId"}),
    "gcp:cloudrunv2/service:Service": frozenset({"name", "location"}),
    "gcp:pubsub/topic:Topic": frozenset({"name"}),
    "gcp:pubsub/subscription:Subscription": frozenset({"name", "topic"}),
    "gcp:secretmanager/secret:Secret": frozenset({"secretId", "replication"}),
    "gcp:secretmanager/secretVersion:SecretVersion": frozenset({"secret"}),
    "gcp:artifactregistry/repository:Repository": frozenset({"repositoryId", "format", "location"}),
    "gcp:compute/network:Network": frozenset({"name", "autoCreateSubnetworks"}),
    "gcp:compute/subnetwork:Subnetwork": frozenset({"name", "network", "region"}),
    "gcp:compute/globalAddress:GlobalAddress": frozenset({"name", "network", "prefixLength", "purpose"}),
    "gcp:servicenetworking/connection:Connection": frozenset({"network", "service"}),
}


def _digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def key(resource_type: str, name: str) -> str:
    return f"{resource_type}::{name}"


def is_cloud_resource(resource: MockedResource) -> bool:
    """Providers are Pulumi plumbing, not something the chat plan should count."""
    return not resource.type.startswith("pulumi:providers:")


def _replace_fields(resource: MockedResource) -> frozenset[str] | None:
    if "IAMMember" in resource.type or "IamMember" in resource.type:
        return None  # IAM member bindings are immutable: any change is a replacement
    return REPLACE_ON.get(resource.type, frozenset())


def _protected(inputs: dict[str, Any]) -> bool:
    settings = inputs.get("settings") if isinstance(inputs.get("settings"), dict) else {}
    return bool(inputs.get("deletionProtection")) or bool(settings.get("deletionProtectionEnabled"))


def record(resource: MockedResource) -> dict[str, Any]:
    """What the state keeps per resource: hashes, never input values (they may hold secrets)."""
    stable = {k: v for k, v in resource.inputs.items() if k not in VOLATILE_INPUTS}
    fields = _replace_fields(resource)
    forcing = stable if fields is None else {k: v for k, v in stable.items() if k in fields}
    return {
        "type": resource.type,
        "name": resource.name,
        "hash": _digest(stable),
        "replace_hash": _digest(forcing),
        "protected": _protected(resource.inputs),
    }


def snapshot(resources: list[MockedResource]) -> dict[str, dict[str, Any]]:
    return {key(r.type, r.name): record(r) for r in resources if is_cloud_resource(r)}


def diff(current: dict[str, dict[str, Any]], previous: dict[str, dict[str, Any]] | None) -> list[ResourceChange]:
    previous = previous or {}
    changes: list[ResourceChange] = []
    for k, now in current.items():
        before = previous.get(k)
        if before is None:
            op = "create"
        elif before["replace_hash"] != now["replace_hash"]:
            op = "replace"
        elif before["hash"] != now["hash"]:
            op = "update"
        else:
            op = "same"
        changes.append(ResourceChange(type=now["type"], name=now["name"], op=op))
    for k, before in previous.items():
        if k not in current:
            changes.append(ResourceChange(type=before["type"], name=before["name"], op="delete"))
    return sorted(changes, key=lambda c: (c.name, c.type))


_DELETE_LAST = (
    "gcp:servicenetworking/connection:Connection",
    "gcp:compute/globalAddress:GlobalAddress",
    "gcp:compute/subnetwork:Subnetwork",
    "gcp:compute/network:Network",
)
_DELETE_FIRST = ("IAMMember", "IamMember", "gcp:cloudrunv2/service:Service")


def deletion_rank(change: ResourceChange) -> tuple[int, str]:
    """Dependents before what they depend on, roughly as Pulumi orders a destroy."""
    if any(marker in change.type for marker in _DELETE_FIRST):
        return (0, change.name)
    if change.type in _DELETE_LAST:
        return (2 + _DELETE_LAST.index(change.type), change.name)
    return (1, change.name)
