"""The typed infrastructure request: what the conversation produces and the engines consume."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["service", "postgres", "mysql", "redis", "bucket", "queue", "secret", "registry"]
KINDS: tuple[str, ...] = ("service", "postgres", "mysql", "redis", "bucket", "queue", "secret", "registry")
Size = Literal["small", "medium", "large"]
SIZES: tuple[str, ...] = ("small", "medium", "large")
Environment = Literal["dev", "staging", "prod"]
Cloud = Literal["gcp", "aws"]
CLOUDS: tuple[str, ...] = ("gcp", "aws")
ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")

DEFAULT_REGION = "us-central1"
DEFAULT_ENVIRONMENT = "dev"
DEFAULT_SIZE = "small"
DEFAULT_CLOUD = "gcp"


class Component(BaseModel):
    kind: Kind
    count: int = Field(default=1, ge=1, le=10)
    size: Size | None = None


class InfraSpec(BaseModel):
    app: str
    cloud: Cloud = DEFAULT_CLOUD
    environment: Environment = DEFAULT_ENVIRONMENT
    region: str = DEFAULT_REGION
    size: Size = DEFAULT_SIZE
    components: list[Component]
    requested_by: str = ""

    @property
    def stack_name(self) -> str:
        # GCP stacks keep the name they had before there was a second cloud.
        base = f"{self.app}-{self.environment}"
        return base if self.cloud == "gcp" else f"{base}-{self.cloud}"

    @property
    def location(self) -> str:
        """`AWS eu-west-1`, `GCP us-central1`: where the stack is, as chat replies say it."""
        return f"{self.cloud.upper()} {self.region}"

    def size_of(self, component: Component) -> str:
        return component.size or self.size

    def fingerprint(self) -> str:
        """Stable hash of what would be built, cloud included; requested_by is left out on purpose."""
        body = self.model_dump(exclude={"requested_by"})
        if body["cloud"] == DEFAULT_CLOUD:
            del body["cloud"]  # GCP fingerprints stay what they were before the cloud was a field
        body["components"] = sorted(body["components"], key=lambda c: (c["kind"], c["count"], c["size"] or ""))
        raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def component_summary(spec: InfraSpec) -> str:
    parts = []
    for c in spec.components:
        count = f"{c.count}× " if c.count > 1 else ""
        size = f" ({c.size})" if c.size else ""
        parts.append(f"{count}{c.kind}{size}")
    return ", ".join(parts)
