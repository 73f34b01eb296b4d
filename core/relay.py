"""Carries durable job status from MongoDB to each platform's status card."""

from __future__ import annotations

import asyncio
import logging
import time

from core import observe
from core.cardsink import CardUndeliverable
from core.job import JobStatus, Phase
from core.messages import ThreadRef
from core.ports import JobStore, RelayWork, RequestStore, StatusSink
from core.request import Request, Status
from core.status_card import build_card

log = logging.getLogger("infrabot.relay")


class StatusRelay:
    """Takes jobs off the work list a few at a time and shows each one's newest version on its card.

    A card that fails is put back behind the others with a growing delay; after `max_attempts` failures,
    or at once when the platform says no retry can work, the job is dead-lettered: logged, marked in
    MongoDB and never tried again. Any number of processes may relay: each claims different jobs, and the
    sinks' card lock keeps the rare overlap harmless.
    """

    def __init__(
        self,
        jobs: JobStore,
        requests: RequestStore,
        work: RelayWork,
        poll_seconds: float = 2.0,
        *,
        batch: int = 20,
        max_attempts: int = 6,
        backoff_seconds: float = 2.0,
        resync_seconds: float = 300.0,
    ) -> None:
        self.jobs = jobs
        self.requests = requests
        self.work = work
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.resync_seconds = resync_seconds
        self.sinks: dict[str, StatusSink] = {}
        self.wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._synced_at = float("-inf")
        self._resyncing: asyncio.Task[None] | None = None

    def register(self, platform: str, sink: StatusSink) -> None:
        self.sinks[platform] = sink
        # Card sinks (core/cardsink.py) take it; a wrapper (telemetry) passes it on to the sink it wraps.
        when_overtaken = getattr(sink, "when_overtaken", None)
        if when_overtaken is not None:
            when_overtaken(self.reshow)

    async def reshow(self, request_id: str) -> None:
        """Shows the request's newest state again: a stalled process may have edited its card backwards."""
        request = await self.requests.get(request_id)
        if request is not None and request.latest_job:
            # A new version of the job (no other change): newer than anything recorded, so it is written.
            await self.jobs.update(request.latest_job)
            self.poke()

    def poke(self) -> None:
        self.wakeup.set()

    async def pump(self) -> int:
        """Works through the list until nothing is due; returns how many cards were shown."""
        if not self.sinks:
            return 0
        shown = 0
        async with self._lock:
            await self._resync()
            while ids := await self.work.claim(list(self.sinks), self.batch):
                results = await asyncio.gather(*(self._relay(job_id) for job_id in ids))
                shown += sum(results)
        return shown

    async def _resync(self) -> None:
        """Rebuilds the list from MongoDB when Redis lost it, before anything is claimed from it, and now and
        then anyway, in the background: that pass reads every job whose card is behind (a scan in FerretDB),
        and no card should wait for it. A job it adds that was shown meanwhile costs one read and is dropped."""
        if not await self.work.synced():
            await self._rebuild()
        elif time.monotonic() - self._synced_at > self.resync_seconds and self._resyncing is None:
            self._resyncing = asyncio.create_task(self._rebuild_aside())

    async def _rebuild(self) -> None:
        await self.work.rebuild(await self.jobs.pending_relay())
        self._synced_at = time.monotonic()

    async def _rebuild_aside(self) -> None:
        try:
            await self._rebuild()
            self.poke()
        except Exception:
            log.exception("rebuilding the relay's work list failed; trying again in %.0fs", self.poll_seconds)
        finally:
            self._resyncing = None

    async def _relay(self, job_id: str) -> int:
        try:
            return await self._relay_one(job_id)
        except Exception:
            log.exception("relaying %s failed", job_id)
            await self.work.later(job_id, self.backoff_seconds)
            return 0

    async def _relay_one(self, job_id: str) -> int:
        found = await self.jobs.relay_state(job_id)
        if found is None:
            await self.work.done(job_id)
            return 0
        status, meta = found
        platform = str(status.thread.get("platform", ""))
        if not meta.get("relay_pending") or meta.get("relay_dead"):
            if meta.get("relay_dead") and meta.get("relay_pending"):
                await self.jobs.mark_relayed(job_id, status.version)
            await self.work.done(job_id)
            return 0
        sink = self.sinks.get(platform)
        if sink is None:
            # Another process serves that platform: hand the job to its list.
            await self.work.later(job_id, 0, platform)
            return 0
        request = await self.requests.get(status.request_id)
        if request and request.latest_job not in (None, job_id):
            # A newer job owns the card; showing this one would move it backwards.
            await self.jobs.mark_relayed(job_id, status.version)
            await self.work.done(job_id)
            return 0
        try:
            await sink.show(ThreadRef.from_dict(status.thread), build_card(status, request))
        except CardUndeliverable as exc:
            await self._dead_letter(status, exc.reason)
            return 0
        except Exception as exc:
            attempts = await self.jobs.relay_failed(job_id, status.version)
            if attempts >= self.max_attempts:
                await self._dead_letter(status, f"{attempts} failed attempts, the last: {exc}")
                return 0
            delay = self.backoff_seconds * 2 ** (max(attempts, 1) - 1)
            log.warning("could not update card for %s v%d (attempt %d, next in %.0fs): %s",
                        job_id, status.version, attempts, delay, exc)
            await self.work.later(job_id, delay, platform)
            return 0
        await self._record_shown(status, request)
        await self.jobs.mark_relayed(job_id, status.version)
        await self.work.done(job_id)
        return 1

    async def _record_shown(self, status: JobStatus, request: Request | None) -> None:
        """A typed `apply` approves the plan its thread was last shown: that is the one just delivered."""
        if request is None or status.kind != "plan" or status.phase != Phase.AWAITING_APPROVAL:
            return
        if status.plan_hash and request.shown_plan_hash != status.plan_hash:
            await self.requests.update(request.id, {"shown_plan_hash": status.plan_hash},
                                       expect={"plan.hash": status.plan_hash, "status": Status.AWAITING_APPROVAL})

    async def _dead_letter(self, status: JobStatus, reason: str) -> None:
        given_up = await self.jobs.dead_letter(status.job_id, reason, status.version)
        await self.work.done(status.job_id)
        if not given_up:
            # The job moved on (its newer version is on the list again) or another process showed it.
            log.warning("card for job %s v%d failed (%s), but the job has moved on; not giving up on it",
                        status.job_id, status.version, reason)
            return
        log.error("card for request %s (job %s) can't be shown and is given up: %s",
                  status.request_id, status.job_id, reason)
        observe.dead_letter(ThreadRef.from_dict(status.thread).platform)

    async def run(self) -> None:
        """Relays on every wake-up, and every few seconds anyway so a lost signal costs little."""
        try:
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
        finally:
            if self._resyncing is not None:
                self._resyncing.cancel()
