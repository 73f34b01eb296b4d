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
