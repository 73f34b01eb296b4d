"""The offline engine: the real program evaluated under Pulumi's mock runtime.

Nothing here talks to GCP. `apply` and `destroy` are simulations: with a state store they record
what "exists" so that a later preview shows what would really change, and re-applying the same
spec changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from typing import Any

from config.aws_service import ServiceOptions
from core.plan import ApplyResult, PlanOutOfDate, PlanResult, ResourceChange, summarize
from core.ports import ProgressFn
from core.spec import KINDS, Component, InfraSpec
from infra import diffing
from infra.errors import EngineFailed
from infra.mocks import Evaluation, evaluate
from infra.pricing import estimate_monthly_cost
from infra.program import DEFAULT_GCP_PROJECT, PULUMI_PROJECT, make_program
from infra.state import StateStore
from infra.summary import resource_label

SECRET_MASK = "[secret]"


class DeletionProtectedError(EngineFailed):
    """Raised by a simulated destroy that the real one would refuse too."""


def state_digest(resources: dict[str, dict[str, Any]] | None) -> str:
    body = json.dumps(resources or {}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _ops(changes: list[ResourceChange]) -> list[tuple[str, str, str]]:
    return sorted((c.type, c.name, c.op) for c in changes)


def check_approved(
    spec: InfraSpec, approved: PlanResult, changes: list[ResourceChange], base: str, *, engine: str
) -> None:
    """Raises PlanOutOfDate unless applying now would do exactly what `approved` showed."""
    stack = spec.stack_name
    if approved.engine != engine:
        raise PlanOutOfDate(f"the approved plan for {stack} was made by another engine, so nothing was applied")
    if approved.spec_fingerprint != spec.fingerprint():
        raise PlanOutOfDate(
            f"the request for {stack} changed after its plan was approved, so nothing was applied; "
            "here is a fresh plan to approve"
        )
    seen = json.loads(approved.artifact).get("base_state") if approved.artifact else None
    if seen != base or _ops(changes) != _ops(approved.resources):
        raise PlanOutOfDate(
            f"the plan is out of date: {stack} changed since it was previewed, so nothing was applied; "
            "here is a fresh plan to approve"
        )


_WARMING = threading.Lock()
_WARMED = threading.Event()


class OfflineEngine:
    name = "offline"
    simulated = True

    def __init__(
        self,
        state: StateStore | None = None,
        *,
        project: str | None = None,
        public_services: bool = False,
        step_seconds: float = 0.0,
        aws_service: ServiceOptions | None = None,
    ) -> None:
        self.state = state
        # Time spent per resource in preview and apply (OFFLINE_STEP_SECONDS), so runs look like real ones.
        self.step_seconds = step_seconds
        self.project = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or DEFAULT_GCP_PROJECT
        self.public_services = public_services
        self.aws_service = aws_service

    def warm(self) -> None:
        """Blocking, once per process: the first evaluation imports the provider SDK's modules (seconds of CPU),
        which would otherwise be paid by whoever asks for the first plan."""
        with _WARMING:
            if _WARMED.is_set():
                return
            self._evaluate(InfraSpec(app="warmup", environment="dev", components=[
                Component(kind=kind) for kind in KINDS]), preview=True)
            _WARMED.set()

    def evaluate(self, spec: InfraSpec, *, preview: bool = True) -> Evaluation:
        """Blocking: runs the program under mocks. Use from a worker thread in async code."""
        return self._evaluate(spec, preview=preview)[0]

    def _evaluate(self, spec: InfraSpec, *, preview: bool) -> tuple[Evaluation, dict[str, str]]:
        aliases: dict[str, str] = {}
        evaluation = evaluate(
            make_program(spec, public_services=self.public_services, aliases=aliases, aws_service=self.aws_service),
            project=self.project,
            region=spec.region,
            stack=spec.stack_name,
            project_name=PULUMI_PROJECT,
            preview=preview,
        )
        return evaluation, aliases

    def _previous(self, spec: InfraSpec) -> dict[str, dict[str, Any]] | None:
        if self.state is None:
            return None
        doc = self.state.get(spec.stack_name)
        return None if doc is None else doc.get("resources", {})

    def _plan(self, spec: InfraSpec, *, preview: bool) -> tuple[list[ResourceChange], Evaluation, dict, str]:
        """(changes, evaluation, the new snapshot, a digest of the state the changes were diffed against)."""
        previous = self._previous(spec)
        evaluation, aliases = self._evaluate(spec, preview=preview)
        current = diffing.snapshot(evaluation.resources, aliases)
        return diffing.diff(current, previous), evaluation, current, state_digest(previous)

    async def preview(self, spec: InfraSpec, progress: ProgressFn) -> PlanResult:
        await progress(0, 1, "Evaluating the Pulumi program offline (mocks, no cloud access)")
        changes, _, _, base = await asyncio.to_thread(self._plan, spec, preview=True)
        if self.step_seconds:
            for done, change in enumerate(changes, start=1):
                await asyncio.sleep(self.step_seconds)
                await progress(done, len(changes) + 1, f"previewed {resource_label(change.type, change.name)}")
        summary = summarize(changes)
        counts = ", ".join(f"{summary[op]} to {op}" for op in ("create", "update", "replace", "delete"))
        await progress(1, 1, f"Plan ready: {counts}")
        return PlanResult(
            engine=self.name,
            simulated=True,
            resources=changes,
            summary=summary,
            monthly_cost_usd=estimate_monthly_cost(spec),
            spec_fingerprint=spec.fingerprint(),
            artifact=json.dumps({"base_state": base}),
        )

    async def apply(
        self, spec: InfraSpec, progress: ProgressFn, approved: PlanResult | None = None
    ) -> ApplyResult:
        """With `approved`, applies only if a fresh diff is exactly that plan (the same rule as `up --plan`)."""
        changes, evaluation, current, base = await asyncio.to_thread(self._plan, spec, preview=False)
        if approved is not None:
            check_approved(spec, approved, changes, base, engine=self.name)
        todo = [c for c in changes if c.op != "same"]
        total = len(todo)
        await progress(0, total, f"Simulated apply (offline engine): {total} changes, no cloud changes")
        for done, change in enumerate(todo, start=1):
            await asyncio.sleep(self.step_seconds)
            await progress(done, total, f"simulated {change.op}: {resource_label(change.type, change.name)}")
        outputs = {
            k: SECRET_MASK if k in evaluation.secret_outputs else str(v)
            for k, v in evaluation.outputs.items()
            if v is not None
        }
        if self.state is not None:
            doc = {
                "stack": spec.stack_name,
                "spec_fingerprint": spec.fingerprint(),
                "resources": current,
                "outputs": outputs,
                "applied_at": datetime.now(UTC).isoformat(),
            }
            await asyncio.to_thread(self.state.put, spec.stack_name, doc)
        return ApplyResult(engine=self.name, summary=summarize(changes), outputs=outputs, simulated=True)

    async def destroy(self, spec: InfraSpec, progress: ProgressFn) -> ApplyResult:
        existing = await asyncio.to_thread(self._existing, spec)
        protected = [r for r in existing if r.get("protected")]
        if protected:
            names = ", ".join(resource_label(r["type"], r["name"]) for r in protected)
            raise DeletionProtectedError(
                f"nothing was removed: deletion protection is on for {names}. Production databases and "
                "services keep it on so they cannot be deleted by accident; a platform admin has to switch "
                "it off before this stack can be destroyed"
            )
        removed = [ResourceChange(type=r["type"], name=r["name"], op="delete") for r in existing]
        total = len(removed)
        await progress(0, total, f"Simulated destroy (offline engine): {total} resources, no cloud changes")
        for done, change in enumerate(sorted(removed, key=diffing.deletion_rank), start=1):
            await progress(done, total, f"simulated delete: {resource_label(change.type, change.name)}")
        if self.state is not None:
            await asyncio.to_thread(self.state.delete, spec.stack_name)
        return ApplyResult(
            engine=self.name,
            summary=summarize(removed),
            removed=removed,
            simulated=True,
        )

    def _existing(self, spec: InfraSpec) -> list[dict[str, Any]]:
        if self.state is not None:
            return sorted((self._previous(spec) or {}).values(), key=lambda r: (r["name"], r["type"]))
        # Without memory, assume everything the spec describes exists.
        evaluation = self.evaluate(spec, preview=False)
        return sorted(diffing.snapshot(evaluation.resources).values(), key=lambda r: (r["name"], r["type"]))
