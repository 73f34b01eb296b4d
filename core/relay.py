"""Carries durable job status from MongoDB to each platform's status card."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from core.cards import StatusCard
from core.chat import StatusSink
from core.flow import plan_buttons
from core.messages import ThreadRef
from core.ports import JobStore, RequestStore
from core.status import JobStatus, Phase

log = logging.getLogger("infrabot.relay")

_TITLES: dict[tuple[str, Phase], str] = {
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
}


def build_card(status: JobStatus, request: dict[str, Any] | None) -> StatusCard:
    stack = (request or {}).get("stack") or status.spec.get("app", "?")
    title = _TITLES.get((status.kind, status.phase), "{stack}: " + status.phase.replace("_", " "))
    start = status.started_at or status.created_at
    end = status.finished_at or datetime.now(UTC)
    elapsed = (end - start).total_seconds() if start else 0.0
    waiting = (
        status.kind == "plan"
        and status.phase == Phase.AWAITING_APPROVAL
        and (request or {}).get("status") == "awaiting_approval"
    )
    result = status.result or {}
    return StatusCard(
        request_id=status.request_id,
        job_id=status.job_id,
        phase=str(status.phase),
        title=title.format(stack=stack),
        engine=status.engine or result.get("engine", ""),
        simulated=bool(result.get("simulated", status.engine == "offline")),
        done=status.done,
        total=status.total,
        elapsed_seconds=max(elapsed, 0.0),
        # A failure's message is its error, which the card shows once on its own line.
        lines=list(result.get("lines", []))
        or ([status.message] if status.message not in ("", status.error) else []),
        resources=list(result.get("resource_lines", [])),
        outputs=dict(result.get("outputs", {})),
        error=status.error,
        buttons=plan_buttons(status.request_id, status.plan_hash) if waiting else [],
        version=status.version,
    )


class StatusRelay:
    def __init__(self, jobs: JobStore, requests: RequestStore, poll_seconds: float = 2.0) -> None:
        self.jobs = jobs
        self.requests = requests
        self.poll_seconds = poll_seconds
        self.sinks: dict[str, StatusSink] = {}
        self.wakeup = asyncio.Event()
        self._lock = asyncio.Lock()

    def register(self, platform: str, sink: StatusSink) -> None:
        self.sinks[platform] = sink

    def poke(self) -> None:
        self.wakeup.set()

    async def pump(self) -> int:
        """One pass over every job whose latest version has not reached its card yet."""
        if not self.sinks:
            return 0
        shown = 0
        async with self._lock:
            for status in await self.jobs.unrelayed(list(self.sinks)):
                request = await self.requests.get(status.request_id)
                if request and request.get("latest_job") not in (None, status.job_id):
                    # A newer job owns the card; showing this one would move it backwards.
                    await self.jobs.mark_relayed(status.job_id, status.version)
                    continue
                thread = ThreadRef.from_dict(status.thread)
                try:
                    await self.sinks[thread.platform].show(thread, build_card(status, request))
                except Exception:
                    log.warning("could not update card for %s v%d; will retry", status.job_id,
                                status.version, exc_info=True)
                    continue
                await self.jobs.mark_relayed(status.job_id, status.version)
                shown += 1
        return shown

    async def run(self) -> None:
        """Relays on every wake-up, and every few seconds anyway so a lost signal costs little."""
        while True:
            try:
                await self.pump()
            except Exception:
                log.exception("status relay pass failed")
            try:
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
            self.wakeup.clear()
