"""The pending request a thread is building up, merged turn by turn from parsed utterances."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core.spec import DEFAULT_ENVIRONMENT, DEFAULT_REGION, DEFAULT_SIZE, Component, InfraSpec
from core.understanding.model import Parsed


@dataclass
class Draft:
    app: str | None = None
    environment: str | None = None
    region: str | None = None
    size: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Draft:
        return cls(**data) if data else cls()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_spec(cls, spec: InfraSpec) -> Draft:
        return cls(
            app=spec.app,
            environment=spec.environment,
            region=spec.region,
            size=spec.size,
            components=[c.model_dump() for c in spec.components],
        )

    def merge(self, parsed: Parsed) -> bool:
        """Applies what the user just said; returns True when anything changed."""
        before = self.as_dict()
        for name in ("app", "environment", "region", "size"):
            value = getattr(parsed, name)
            if value:
                setattr(self, name, value)
        by_kind = {c["kind"]: dict(c) for c in self.components}
        for component in parsed.components:
            if component.kind in by_kind and not parsed.remove:
                existing = by_kind[component.kind]
                existing["size"] = component.size or existing.get("size")
                existing["count"] = max(existing.get("count", 1), component.count)
            else:
                by_kind[component.kind] = component.model_dump()
        for kind in parsed.remove:
            by_kind.pop(kind, None)
        self.components = list(by_kind.values())
        return self.as_dict() != before

    def missing(self) -> list[str]:
        gaps = []
        if not self.app:
            gaps.append("app")
        if not self.components:
            gaps.append("components")
        return gaps

    def to_spec(self, requested_by: str) -> InfraSpec:
        return InfraSpec(
            app=self.app or "",
            environment=self.environment or DEFAULT_ENVIRONMENT,  # type: ignore[arg-type]
            region=self.region or DEFAULT_REGION,
            size=self.size or DEFAULT_SIZE,  # type: ignore[arg-type]
            components=[Component(**c) for c in self.components],
            requested_by=requested_by,
        )

    def defaults_note(self) -> str:
        parts = []
        if not self.environment:
            parts.append(f"environment {DEFAULT_ENVIRONMENT}")
        if not self.region:
            parts.append(f"region {DEFAULT_REGION}")
        if not self.size:
            parts.append(f"size {DEFAULT_SIZE}")
        return ", ".join(parts)
