"""Offline stand-in for Pulumi's diff: compares the mocked inputs of this run with the last
simulated apply. Fields that force a new resource on GCP make it a `replace`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.plan import ResourceChange
from infra.mocks import MockedResource
from infra.naming import PHYSICAL_NAME

# Generated secrets differ on every run and are pinned by ignore_changes in the real program.
VOLATILE_INPUTS = frozenset({"password", "secretData"})
EVERYTHING = "*"
REPLACE_ON: dict[str, frozenset[str]] = {
    "gcp:storage/bucket:Bucket": frozenset({"name", "location"}),
    "gcp:sql/databaseInstance:DatabaseInstance": frozenset({"name", "region"}),
    "gcp:sql/database:Database": frozenset({"name", "instance"}),
    "gcp:sql/user:User": frozenset({"name", "instance"}),
    "gcp:redis/instance:Instance": frozenset(
        {"name", "region", "tier", "connectMode", "authorizedNetwork", "reservedIpRange", "transitEncryptionMode"}
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
    "gcp:projects/service:Service": frozenset({"service", "project"}),
    "gcp:projects/serviceIdentity:ServiceIdentity": frozenset({"service", "project"}),
    "aws:rds/instance:Instance": frozenset({"identifierPrefix", "engine", "dbName", "username", "storageEncrypted"}),
    "aws:s3/bucket:Bucket": frozenset({"bucket"}),
    "aws:elasticache/replicationGroup:ReplicationGroup": frozenset({"replicationGroupId", "atRestEncryptionEnabled"}),
    "aws:ecr/repository:Repository": frozenset({"name"}),
    "aws:ec2/vpc:Vpc": frozenset({"cidrBlock"}),
    "aws:ec2/subnet:Subnet": frozenset({"cidrBlock", "availabilityZone", "vpcId"}),
    "aws:secretsmanager/secret:Secret": frozenset({"namePrefix"}),
    "random:index/randomPassword:RandomPassword": frozenset({"length", "special", "keepers"}),
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
    return (bool(inputs.get("deletionProtection")) or bool(settings.get("deletionProtectionEnabled"))
            or bool(inputs.get("enableDeletionProtection")))


def _hashes(resource: MockedResource, stable: dict[str, Any]) -> tuple[str, str]:
    fields = _replace_fields(resource)
    forcing = stable if fields is None else {k: v for k, v in stable.items() if k in fields}
    return _digest(stable), _digest(forcing)


def record(resource: MockedResource, alias: str | None = None) -> dict[str, Any]:
    """What the state keeps per resource: hashes, never input values (they may hold secrets).

    The `unnamed` hashes leave out the physical name, which a renamed (aliased) resource keeps from
    when it was created, as the program's `ignore_changes` does in a real run.
    """
    stable = {k: v for k, v in resource.inputs.items() if k not in VOLATILE_INPUTS}
    unnamed = {k: v for k, v in stable.items() if k != PHYSICAL_NAME.get(resource.type)}
    full, forcing = _hashes(resource, stable)
    full_unnamed, forcing_unnamed = _hashes(resource, unnamed)
    out = {
        "type": resource.type,
        "name": resource.name,
        "hash": full,
        "replace_hash": forcing,
        "hash_unnamed": full_unnamed,
        "replace_hash_unnamed": forcing_unnamed,
        "protected": _protected(resource.inputs),
    }
    if alias:
        out["alias"] = alias
    return out


def snapshot(resources: list[MockedResource], aliases: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    aliases = aliases or {}
    return {key(r.type, r.name): record(r, aliases.get(r.name)) for r in resources if is_cloud_resource(r)}


def _op(before: dict[str, Any], now: dict[str, Any], suffix: str = "") -> str:
    if before.get(f"replace_hash{suffix}") != now[f"replace_hash{suffix}"]:
        return "replace"
    if before.get(f"hash{suffix}") != now[f"hash{suffix}"]:
        return "update"
    return "same"


def diff(current: dict[str, dict[str, Any]], previous: dict[str, dict[str, Any]] | None) -> list[ResourceChange]:
    previous = previous or {}
    changes: list[ResourceChange] = []
    claimed: set[str] = set()
    for k, now in current.items():
        before = previous.get(k)
        if before is not None:
            op = _op(before, now)
        elif now.get("alias") and key(now["type"], now["alias"]) in previous:
            # Renamed with an alias: Pulumi adopts the old resource instead of replacing it.
            old_key = key(now["type"], now["alias"])
            claimed.add(old_key)
            op = _op(previous[old_key], now, "_unnamed")
        else:
            op = "create"
        changes.append(ResourceChange(type=now["type"], name=now["name"], op=op))
    for k, before in previous.items():
        if k not in current and k not in claimed:
            changes.append(ResourceChange(type=before["type"], name=before["name"], op="delete"))
    return sorted(changes, key=lambda c: (c.name, c.type))


_DELETE_LAST = (
    "gcp:servicenetworking/connection:Connection",
    "gcp:compute/globalAddress:GlobalAddress",
    "gcp:compute/subnetwork:Subnetwork",
    "gcp:compute/network:Network",
    # Last of all (and only from the state: disable_on_destroy=False leaves the API on).
    "gcp:projects/service:Service",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
)
_DELETE_FIRST = ("IAMMember", "IamMember", "gcp:cloudrunv2/service:Service", "aws:ecs/service:Service",
                 "aws:iam/rolePolicy:RolePolicy")


def deletion_rank(change: ResourceChange) -> tuple[int, str]:
    """Dependents before what they depend on, roughly as Pulumi orders a destroy."""
    if any(marker in change.type for marker in _DELETE_FIRST):
        return (0, change.name)
    if change.type in _DELETE_LAST:
        return (2 + _DELETE_LAST.index(change.type), change.name)
    return (1, change.name)
