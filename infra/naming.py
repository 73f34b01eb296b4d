"""GCP naming and labelling rules, kept in one place so every builder stays within the limits."""

from __future__ import annotations

import hashlib
import re

from core.spec import InfraSpec

MANAGED_BY = "infrabot"
_LABEL_MAX = 63


def short_hash(*parts: str, length: int = 6) -> str:
    """Stable across runs and machines, so physical names never drift between previews and applies."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def slug(text: str) -> str:
    """Lowercase letters, digits and single hyphens, starting with a letter."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"x-{cleaned}".rstrip("-")
    return cleaned


def fit(base: str, max_len: int, min_len: int = 1, *, filler: str = "app") -> str:
    """Shortens `base` to `max_len`, keeping it unique with a hash of the full text when cut."""
    name = slug(base)
    if len(name) > max_len:
        digest = short_hash(name, length=4)
        name = f"{name[: max_len - 5].rstrip('-')}-{digest}"
    while len(name) < min_len:
        name = f"{name}-{filler}"[:max_len]
    return name.rstrip("-")


def label_value(text: str) -> str:
    """GCP label values: lowercase, [a-z0-9_-], at most 63 characters (international letters dropped)."""
    value = re.sub(r"[^a-z0-9_-]", "_", text.lower())[:_LABEL_MAX]
    return value or "unknown"


def labels_for(spec: InfraSpec) -> dict[str, str]:
    return {
        "app": label_value(spec.app),
        "env": label_value(spec.environment),
        "managed-by": MANAGED_BY,
        "requested-by": label_value(spec.requested_by),
    }


def numbered(base: str, index: int) -> str:
    """`bucket` for the first of a kind, `bucket-2`, `bucket-3` for the ones added after it.

    The first one never takes a number, so adding a sibling later leaves its name (and so the
    resource) alone.
    """
    return base if index == 1 else f"{base}-{index}"


def legacy_numbered(base: str, index: int, count: int) -> str:
    """The name earlier versions gave: `bucket-1` for the first one when there were several."""
    return base if count == 1 else f"{base}-{index}"


# The field holding each resource's name in GCP, for resources whose name follows the logical one.
# A renamed resource keeps the physical name it was created with (see BuildContext.rename).
PHYSICAL_NAME: dict[str, str] = {
    "gcp:storage/bucket:Bucket": "name",
    "gcp:pubsub/topic:Topic": "name",
    "gcp:pubsub/subscription:Subscription": "name",
    "gcp:redis/instance:Instance": "name",
    "gcp:cloudrunv2/service:Service": "name",
    "gcp:serviceaccount/account:Account": "accountId",
    "gcp:secretmanager/secret:Secret": "secretId",
    "gcp:artifactregistry/repository:Repository": "repositoryId",
}


class SpecScope:
    """What every cloud's build context derives from its spec alone; the contexts differ only in resources."""

    spec: InfraSpec

    @property
    def region(self) -> str:
        return self.spec.region

    @property
    def prod(self) -> bool:
        return self.spec.environment == "prod"

    @property
    def prefix(self) -> str:
        return slug(f"{self.spec.app}-{self.spec.environment}")
