"""The one status card per request that every adapter renders and edits in place."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.messages import Button


@dataclass
class StatusCard:
    request_id: str
    job_id: str
    phase: str
    title: str
    engine: str
    simulated: bool
    done: int = 0
    total: int = 0
    elapsed_seconds: float = 0.0
    lines: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    buttons: list[Button] = field(default_factory=list)
    version: int = 0
    # When the job was created (epoch seconds): a request's card moves from job to job, and a later job's
    # card is newer than any version of an earlier one.
    job_started: float = 0.0

    @property
    def engine_label(self) -> str:
        return f"{self.engine} engine" + (" (simulated, no cloud changes)" if self.simulated else "")
