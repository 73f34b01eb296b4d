"""Job phases and the durable status record workers write and chat adapters relay."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    APPLYING = "applying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL: frozenset[Phase] = frozenset(
    {Phase.AWAITING_APPROVAL, Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELLED}
)

# What a card calls each phase, on every platform; adapters add only their own emoji or colour, keyed by
# the Phase itself. Only plan jobs run in RUNNING (apply and destroy go to APPLYING).
PHASE_LABELS: dict[Phase, str] = {
    Phase.QUEUED: "Queued",
    Phase.RUNNING: "Planning",
    Phase.AWAITING_APPROVAL: "Plan ready, waiting for approval",
    Phase.APPLYING: "Applying",
    Phase.SUCCEEDED: "Done",
    Phase.FAILED: "Failed",
    Phase.CANCELLED: "Cancelled",
}

# A card's title by job kind and phase; `{stack}` is the stack's name.
CARD_TITLES: dict[tuple[str, Phase], str] = {
    ("plan", Phase.QUEUED): "Queued: planning {stack}",
    ("plan", Phase.RUNNING): "Planning {stack}",
    ("plan", Phase.AWAITING_APPROVAL): "Plan ready for {stack}: waiting for approval",
    ("plan", Phase.FAILED): "Planning {stack} failed",
    ("plan", Phase.CANCELLED): "Plan for {stack} cancelled",
    ("apply", Phase.QUEUED): "Approved: {stack} is queued to apply",
    ("apply", Phase.APPLYING): "Applying {stack}",
    ("apply", Phase.SUCCEEDED): "Done: {stack} is ready",
    ("apply", Phase.FAILED): "Applying {stack} failed",
    ("destroy", Phase.QUEUED): "Queued: destroying {stack}",
    ("destroy", Phase.APPLYING): "Destroying {stack}",
    ("destroy", Phase.SUCCEEDED): "Destroyed {stack}",
    ("destroy", Phase.FAILED): "Destroying {stack} failed",
    ("destroy", Phase.CANCELLED): "Destroy of {stack} cancelled",
}


def as_phase(phase: str) -> Phase | None:
    """A card carries its phase as text; None for one this version does not know (a newer worker's)."""
    try:
        return Phase(phase)
    except ValueError:
        return None


def phase_label(phase: str) -> str:
    known = as_phase(phase)
    return PHASE_LABELS[known] if known else phase.replace("_", " ").capitalize()


def card_title(kind: str, phase: str, stack: str) -> str:
    known = as_phase(phase)
    template = CARD_TITLES.get((kind, known)) if known else None
    return (template or "{stack}: " + phase.replace("_", " ")).format(stack=stack)


@dataclass
class JobStatus:
    """One job's state as stored in MongoDB; `version` grows with every change."""

    job_id: str
    kind: str
    request_id: str
    thread: dict[str, str]
    phase: Phase
    version: int
    engine: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    relayed_version: int = 0
    spec: dict[str, Any] = field(default_factory=dict)
    plan_hash: str | None = None
    revision: int = 0
    # Why this job exists when it is not the user's doing (e.g. the approved plan went out of date): shown
    # on its card above the result.
    note: str = ""
    # Runs that reached the engine; a job that keeps stopping its worker is given up after a few.
    attempts: int = 0

    @property
    def finished(self) -> bool:
        return self.phase in TERMINAL
