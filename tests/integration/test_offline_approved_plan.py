"""The offline engine applies only the plan that was approved, like `pulumi up --plan` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.plan import PlanOutOfDate
from core.spec import Component, InfraSpec
from infra.offline import OfflineEngine
from infra.state import FileStateStore


async def quiet(done: int, total: int, message: str) -> None:
    pass


def spec_of(*kinds: str, size: str = "small") -> InfraSpec:
    return InfraSpec(app="shop", environment="staging", size=size, components=[Component(kind=k) for k in kinds])


@pytest.fixture
def engine(tmp_path: Path) -> OfflineEngine:
    return OfflineEngine(FileStateStore(tmp_path / "state"), project="acme-test")


async def test_the_approved_plan_applies_and_records_state(engine: OfflineEngine) -> None:
    spec = spec_of("bucket", "postgres")
    plan = await engine.preview(spec, quiet)
    assert plan.artifact

    result = await engine.apply(spec, quiet, plan)

    assert result.summary == plan.summary
    again = await engine.preview(spec, quiet)
    assert {r.op for r in again.resources} == {"same"}


async def test_a_stack_that_moved_on_refuses_the_old_plan(engine: OfflineEngine) -> None:
    # Thread A previews a bucket; thread B then applies bucket + postgres on the same stack.
    old = await engine.preview(spec_of("bucket"), quiet)
    newer = spec_of("bucket", "postgres")
    await engine.apply(newer, quiet, await engine.preview(newer, quiet))

    with pytest.raises(PlanOutOfDate, match="changed since it was previewed"):
        await engine.apply(spec_of("bucket"), quiet, old)

    # The database A's approver never saw deleted is still there.
    fresh = await engine.preview(spec_of("bucket"), quiet)
    assert any(r.op == "delete" and "DatabaseInstance" in r.type for r in fresh.resources)


async def test_same_changes_over_a_different_state_are_refused_too(engine: OfflineEngine) -> None:
    # Same ops ("update" the database) but computed against state another apply has since replaced.
    await engine.apply(spec_of("postgres"), quiet, await engine.preview(spec_of("postgres"), quiet))
    stale = await engine.preview(spec_of("postgres", size="large"), quiet)
    medium = spec_of("postgres", size="medium")
    await engine.apply(medium, quiet, await engine.preview(medium, quiet))
    assert sorted((r.name, r.op) for r in stale.resources) == sorted(
        (r.name, r.op) for r in (await engine.preview(spec_of("postgres", size="large"), quiet)).resources
    )

    with pytest.raises(PlanOutOfDate):
        await engine.apply(spec_of("postgres", size="large"), quiet, stale)


async def test_a_plan_for_another_spec_or_engine_is_refused(engine: OfflineEngine) -> None:
    plan = await engine.preview(spec_of("bucket"), quiet)
    with pytest.raises(PlanOutOfDate, match="changed after its plan was approved"):
        await engine.apply(spec_of("bucket", "queue"), quiet, plan)
    with pytest.raises(PlanOutOfDate, match="another engine"):
        await engine.apply(spec_of("bucket"), quiet, plan.model_copy(update={"engine": "pulumi"}))
    forged = plan.model_copy(update={"resources": []})
    with pytest.raises(PlanOutOfDate):
        await engine.apply(spec_of("bucket"), quiet, forged)
    # Nothing of the refused applies reached the state.
    assert {r.op for r in (await engine.preview(spec_of("bucket"), quiet)).resources} == {"create"}
