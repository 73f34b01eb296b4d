"""The chat rendering of a plan, and the JSON for the CLI."""

from __future__ import annotations

import json

from core.plan import PlanResult, ResourceChange, summarize
from core.spec import Component, InfraSpec
from infra.offline import OfflineEngine
from infra.plan_cli import plan_json
from infra.pricing import PRICES_AS_OF
from infra.summary import OFFLINE_ENGINE, PULUMI_ENGINE, readable_type, render_plan


def _plan(changes: list[tuple[str, str, str]], *, simulated: bool = True, cost: float | None = 12.5) -> PlanResult:
    resources = [ResourceChange(type=t, name=n, op=op) for t, n, op in changes]  # type: ignore[arg-type]
    return PlanResult(
        engine="offline" if simulated else "pulumi",
        simulated=simulated,
        resources=resources,
        summary=summarize(resources),
        monthly_cost_usd=cost,
    )


MIXED = [
    ("gcp:storage/bucket:Bucket", "shop-staging-bucket", "create"),
    ("gcp:cloudrunv2/service:Service", "shop-staging-svc", "update"),
    ("gcp:redis/instance:Instance", "shop-staging-redis", "replace"),
    ("gcp:sql/databaseInstance:DatabaseInstance", "shop-staging-pg", "delete"),
    ("gcp:pubsub/topic:Topic", "shop-staging-queue", "same"),
]


def test_destructive_changes_come_first_with_a_warning() -> None:
    lines = render_plan(_plan(MIXED))
    assert lines[0] == "Plan: 1 to create, 1 to update, 1 to replace, 1 to delete"
    warning = next(i for i, line in enumerate(lines) if line.startswith("WARNING"))
    delete = next(i for i, line in enumerate(lines) if "delete Cloud SQL instance shop-staging-pg" in line)
    replace = next(i for i, line in enumerate(lines) if "replace Memorystore Redis shop-staging-redis" in line)
    create = next(i for i, line in enumerate(lines) if "create Storage bucket shop-staging-bucket" in line)
    update = next(i for i, line in enumerate(lines) if "update Cloud Run service shop-staging-svc" in line)
    assert warning < min(delete, replace) and max(delete, replace) < min(create, update)
    assert "1 resource(s) unchanged." in lines
    assert not any("shop-staging-queue" in line for line in lines)
    assert any(PRICES_AS_OF in line and "$12.50/month" in line for line in lines)
    assert lines[-1] == f"Engine: {OFFLINE_ENGINE}"


def test_no_warning_without_destructive_changes_and_engine_names() -> None:
    lines = render_plan(_plan(MIXED[:2], simulated=False, cost=None))
    assert not any(line.startswith("WARNING") for line in lines)
    assert not any("Estimated cost" in line for line in lines)
    assert lines[-1] == f"Engine: {PULUMI_ENGINE}"


def test_no_changes_message() -> None:
    lines = render_plan(_plan([MIXED[-1]]))
    assert "No changes: the infrastructure already matches this request." in lines


def test_readable_types() -> None:
    assert readable_type("gcp:sql/databaseInstance:DatabaseInstance") == "Cloud SQL instance"
    assert readable_type("gcp:compute/firewall:Firewall") == "Firewall"
    assert readable_type("gcp:foo/barBaz:BarBaz") == "Bar Baz"


def test_plan_json_shape() -> None:
    spec = InfraSpec(app="shop", components=[Component(kind="bucket"), Component(kind="secret")])
    result = plan_json(spec, OfflineEngine())
    assert set(result) == {"engine", "resources", "summary", "monthly_cost_usd"}
    assert result["engine"] == "offline"
    assert set(result["summary"]) == {"create", "update", "delete", "replace"}
    # No service, so no grants; the two APIs they call are enabled first.
    assert result["summary"]["create"] == len(result["resources"]) == 4
    assert all(set(r) == {"type", "name", "op"} for r in result["resources"])
    assert {r["name"] for r in result["resources"]} == {
        "shop-dev-bucket", "shop-dev-secret", "shop-dev-api-storage", "shop-dev-api-secretmanager"
    }
    assert isinstance(result["monthly_cost_usd"], float)
    json.dumps(result)
