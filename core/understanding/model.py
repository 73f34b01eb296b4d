"""What the planner extracts from one utterance, and the planner interface."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from core.markup import Inline
from core.spec import Component

INTENTS: tuple[str, ...] = (
    "create", "plan", "apply", "cancel", "status", "list", "destroy", "outputs", "history", "help",
    "unknown",
)


class Parsed(BaseModel):
    intent: str = "unknown"
    app: str | None = None
    cloud: str | None = None
    environment: str | None = None
    region: str | None = None
    size: str | None = None
    components: list[Component] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    template: str | None = None
    affirm: bool = False
    deny: bool = False
    # Approval words without a clear go-ahead ("shall we apply?"): answered, never acted on.
    unclear_approval: bool = False
    # What is wrong with the app name or region said, as spans a reply quotes (the name as code).
    app_problem: Inline | None = None
    region_problem: Inline | None = None
    # The region id behind `region_problem`, so a reply can name the regions of the thread's cloud.
    unknown_region: str | None = None
    suggested_app: str | None = None
    stack: str | None = None
    missing: list[str] = Field(default_factory=list)
    source: str = "rules"  # "llm" when the optional language-model fallback gave this reading

    def contract(self) -> dict[str, Any]:
        """The `infrabot parse` JSON shape documented in README."""
        return {
            "intent": self.intent,
            "app": self.app,
            "cloud": self.cloud,
            "environment": self.environment,
            "region": self.region,
            "components": [
                {"kind": c.kind, "count": c.count, "size": c.size} for c in self.components
            ],
            "missing": list(self.missing),
            "source": self.source,
        }

