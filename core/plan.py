"""Engine results as the core sees them, independent of Pulumi."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field

Op = Literal["create", "update", "delete", "replace", "same"]
OPS: tuple[str, ...] = ("create", "update", "delete", "replace")


class ResourceChange(BaseModel):
    type: str
    name: str
    op: Op


class PlanResult(BaseModel):
    engine: str
    resources: list[ResourceChange]
    summary: dict[str, int]
    monthly_cost_usd: float | None = None
    simulated: bool = False
    spec_fingerprint: str = ""
    # Engine-specific proof of exactly what was previewed (for the pulumi engine, the update plan saved by
    # `preview --save-plan`), kept with the request so an apply can be held to it. Never plaintext secrets.
    artifact: str | None = None

    @property
    def plan_hash(self) -> str:
        """What an approval is bound to: the spec and every planned change."""
        body = {
            "spec": self.spec_fingerprint,
            "resources": sorted((r.type, r.name, r.op) for r in self.resources),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


class PlanOutOfDate(Exception):
    """The stack or program moved on since the approved preview; applying it would not be what was seen."""


class ApplyResult(BaseModel):
    engine: str
    summary: dict[str, int]
    outputs: dict[str, str] = Field(default_factory=dict)
    simulated: bool = False
    removed: list[ResourceChange] = Field(default_factory=list)


def summarize(resources: list[ResourceChange]) -> dict[str, int]:
    counts = {op: 0 for op in OPS}
    for r in resources:
        if r.op in counts:
            counts[r.op] += 1
    return counts
