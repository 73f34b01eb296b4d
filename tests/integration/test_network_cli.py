"""The shared-network set-up command: shows the plan, applies only when asked, never a destructive one."""

from __future__ import annotations

import pytest

from core.plan import ApplyResult, PlanResult, ResourceChange, summarize
from core.ports import ProgressFn
from core.spec import InfraSpec
from infra import network_cli


class RecordingEngine:
    """A small stand-in of the Engine port: returns a fixed plan and records applies."""

    name = "fake"
    simulated = True

    def __init__(self, changes: list[ResourceChange]) -> None:
        self.changes = changes
        self.applied: list[tuple[InfraSpec, PlanResult | None]] = []

    async def preview(self, spec: InfraSpec, progress: ProgressFn) -> PlanResult:
        return PlanResult(engine=self.name, resources=self.changes, summary=summarize(self.changes),
                          spec_fingerprint=spec.fingerprint())

    async def apply(self, spec: InfraSpec, progress: ProgressFn, approved: PlanResult | None = None) -> ApplyResult:
        self.applied.append((spec, approved))
        return ApplyResult(engine=self.name, summary=summarize(self.changes))

    async def destroy(self, spec: InfraSpec, progress: ProgressFn) -> ApplyResult:
        raise AssertionError("the network command never destroys")


NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"


async def test_plan_only_without_apply(capsys: pytest.CaptureFixture[str]) -> None:
    engine = RecordingEngine([ResourceChange(type=NETWORK, name="infrabot-staging", op="create")])
    assert await network_cli.run(engine, "staging", ["us-central1"], apply=False) == 0
    assert engine.applied == []
    assert "create VPC network infrabot-staging" in capsys.readouterr().out


async def test_apply_uses_the_plan_it_showed_on_the_network_stack() -> None:
    engine = RecordingEngine([ResourceChange(type=SUBNET, name="infrabot-staging-europe-west1", op="create")])
    assert await network_cli.run(engine, "staging", ["us-central1", "europe-west1"], apply=True) == 0
    [(spec, approved)] = engine.applied
    assert spec.stack_name == "infrabot-net-staging" and approved is not None


async def test_a_forgotten_region_is_refused_not_deleted(capsys: pytest.CaptureFixture[str]) -> None:
    engine = RecordingEngine([ResourceChange(type=SUBNET, name="infrabot-staging-europe-west1", op="delete")])
    assert await network_cli.run(engine, "staging", ["us-central1"], apply=True) == 2
    assert engine.applied == []
    assert "refusing" in capsys.readouterr().out


def test_unknown_regions_are_refused_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert network_cli.main(["staging", "--region", "mars-north1"]) == 2
    assert "no subnet range is assigned to region 'mars-north1'" in capsys.readouterr().err
