"""The offline engine: preview, simulated apply, re-preview, destroy, idempotency, plan hashes."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from core.ports import Engine
from core.spec import KINDS, Component, InfraSpec
from infra import mocks
from infra.offline import DeletionProtectedError, OfflineEngine
from infra.state import FileStateStore
from tests.support import eventually

FULL = ("service", "postgres", "redis", "bucket", "queue", "secret", "registry")
KNOWN_PASSWORD = "generated-Pa55word-for-the-test"


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    async def __call__(self, done: int, total: int, message: str) -> None:
        self.calls.append((done, total, message))


def spec_of(*kinds: str, env: str = "staging", size: str = "small") -> InfraSpec:
    return InfraSpec(
        app="shop",
        environment=env,
        size=size,
        components=[Component(kind=k) for k in kinds],
        requested_by="amy",
    )


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OfflineEngine:
    # The mocked RandomPassword draws from this, so the test knows the password to look for.
    monkeypatch.setattr(mocks.secrets, "token_urlsafe", lambda n: KNOWN_PASSWORD)
    return OfflineEngine(FileStateStore(tmp_path / "state"), project="acme-test")


def test_offline_engine_satisfies_the_port() -> None:
    engine: Engine = OfflineEngine()
    assert engine.name == "offline" and engine.simulated is True


async def test_preview_plans_every_resource_as_create(engine: OfflineEngine) -> None:
    progress = Progress()
    spec = spec_of(*FULL)
    plan = await engine.preview(spec, progress)
    assert plan.engine == "offline" and plan.simulated
    assert plan.spec_fingerprint == spec.fingerprint()
    assert {r.op for r in plan.resources} == {"create"}
    assert plan.summary == {"create": len(plan.resources), "update": 0, "delete": 0, "replace": 0}
    assert len(plan.resources) == 42
    assert not any(r.type.startswith("pulumi:providers") for r in plan.resources)
    assert plan.monthly_cost_usd and plan.monthly_cost_usd > 0
    assert progress.calls[0][:2] == (0, 1) and progress.calls[-1][:2] == (1, 1)


async def test_same_spec_twice_gives_same_plan_hash(engine: OfflineEngine) -> None:
    first = await engine.preview(spec_of(*FULL), Progress())
    second = await engine.preview(spec_of(*FULL), Progress())
    other = await engine.preview(spec_of(*FULL, size="medium"), Progress())
    assert first.plan_hash == second.plan_hash
    assert first.resources == second.resources
    assert other.plan_hash != first.plan_hash


async def test_apply_then_preview_shows_no_changes(engine: OfflineEngine, tmp_path: Path) -> None:
    spec = spec_of(*FULL)
    progress = Progress()
    result = await engine.apply(spec, progress)
    assert result.simulated and result.engine == "offline"
    assert result.summary["create"] == 42
    assert [c[0] for c in progress.calls] == list(range(43))
    assert "simulated create: Cloud SQL instance shop-staging-pg" in {c[2] for c in progress.calls}
    assert result.outputs["svc_url"].endswith(".run.app")
    assert result.outputs["pg_connection_name"].startswith("acme-test:us-central1:shop-staging-pg")
    assert result.outputs["pg_password_secret"] == "projects/acme-test/secrets/shop-staging-pg-password"

    plan = await engine.preview(spec, Progress())
    assert {r.op for r in plan.resources} == {"same"}
    assert plan.summary == {"create": 0, "update": 0, "delete": 0, "replace": 0}

    # A job that runs twice: the second apply changes nothing.
    again = await engine.apply(spec, Progress())
    assert again.summary == {"create": 0, "update": 0, "delete": 0, "replace": 0}

    state_text = (tmp_path / "state" / "shop-staging.json").read_text()
    assert KNOWN_PASSWORD not in state_text
    assert KNOWN_PASSWORD not in json.dumps(result.outputs)


async def test_changes_after_apply_are_diffed(engine: OfflineEngine) -> None:
    await engine.apply(spec_of("service", "postgres", "redis", "registry"), Progress())
    plan = await engine.preview(spec_of("service", "postgres", "redis", "bucket", size="medium"), Progress())
    ops = {r.name: r.op for r in plan.resources}
    assert ops["shop-staging-bucket"] == "create"
    assert ops["shop-staging-api-storage"] == "create"
    assert ops["shop-staging-svc-bucket-objects"] == "create"
    assert ops["shop-staging-registry"] == "delete"
    # The API stays in the plan's deletions, but disable_on_destroy=False leaves it on in GCP.
    assert ops["shop-staging-api-artifactregistry"] == "delete"
    assert ops["shop-staging-redis"] == "replace"  # BASIC -> STANDARD_HA cannot change in place
    assert ops["shop-staging-pg"] == "update"  # a bigger tier is an in-place update
    assert plan.summary == {"create": 3, "update": 2, "delete": 2, "replace": 1}


async def test_destroy_lists_removed_resources_and_forgets_them(engine: OfflineEngine) -> None:
    spec = spec_of("bucket", "queue")
    applied = await engine.apply(spec, Progress())
    progress = Progress()
    destroyed = await engine.destroy(spec, progress)
    assert destroyed.simulated
    assert destroyed.summary["delete"] == applied.summary["create"] == 10
    removed = {c.name: c.type for c in destroyed.removed}
    assert removed["shop-staging-bucket"] == "gcp:storage/bucket:Bucket"
    assert removed["shop-staging-queue-dlq"] == "gcp:pubsub/topic:Topic"
    messages = [c[2] for c in progress.calls[1:]]
    assert len(messages) == 10 and all(m.startswith("simulated delete: ") for m in messages)
    # IAM bindings go before the topic/subscription they are attached to.
    assert messages.index("simulated delete: Topic access grant shop-staging-queue-dlq-agent-pub") < messages.index(
        "simulated delete: Pub/Sub topic shop-staging-queue-dlq"
    )

    plan = await engine.preview(spec, Progress())
    assert {r.op for r in plan.resources} == {"create"}
    nothing = await engine.destroy(spec, Progress())
    assert nothing.summary["delete"] == 0 and nothing.outputs == {}


async def test_prod_destroy_is_refused_like_deletion_protection_would(engine: OfflineEngine) -> None:
    spec = spec_of("service", "postgres", env="prod")
    await engine.apply(spec, Progress())
    with pytest.raises(DeletionProtectedError, match="Cloud SQL instance shop-prod-pg"):
        await engine.destroy(spec, Progress())
    plan = await engine.preview(spec, Progress())
    assert {r.op for r in plan.resources} == {"same"}, "a refused destroy must leave the state alone"


async def test_without_state_store_every_plan_is_a_fresh_create() -> None:
    engine = OfflineEngine(project="acme-test")
    spec = spec_of("bucket")
    await engine.apply(spec, Progress())
    plan = await engine.preview(spec, Progress())
    assert {r.op for r in plan.resources} == {"create"}
    destroyed = await engine.destroy(spec, Progress())
    assert [c.name for c in destroyed.removed] == ["shop-staging-api-storage", "shop-staging-bucket"]


async def test_concurrent_and_repeated_previews_stay_separate(engine: OfflineEngine) -> None:
    specs = [spec_of("bucket"), spec_of("queue"), spec_of("redis"), spec_of("secret")] * 3
    plans = await asyncio.gather(*(engine.preview(s, Progress()) for s in specs))
    for spec, plan in zip(specs, plans, strict=True):
        kind = spec.components[0].kind
        assert plan.spec_fingerprint == spec.fingerprint()
        assert any(r.name == f"shop-staging-{kind}" for r in plan.resources), (kind, plan.resources)
    assert {p.plan_hash for p in plans[:4]} == {p.plan_hash for p in plans[4:8]}
    assert len({p.plan_hash for p in plans[:4]}) == 4


def test_file_state_store_roundtrip(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    assert store.get("shop/dev") is None
    store.put("shop/dev", {"resources": {"a": 1}})
    store.put("shop/dev", {"resources": {"b": 2}})
    assert store.get("shop/dev") == {"resources": {"b": 2}}
    assert [p.name for p in tmp_path.iterdir()] == ["shop_dev.json"]
    store.delete("shop/dev")
    store.delete("shop/dev")
    assert store.get("shop/dev") is None


def test_warm_up_evaluates_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import offline

    monkeypatch.setattr(offline, "_WARMED", threading.Event())
    calls: list[InfraSpec] = []
    engine = OfflineEngine()
    real = engine._evaluate

    def counted(spec: InfraSpec, *, preview: bool) -> tuple[mocks.Evaluation, dict[str, str]]:
        calls.append(spec)
        return real(spec, preview=preview)

    monkeypatch.setattr(engine, "_evaluate", counted)
    engine.warm()
    engine.warm()
    OfflineEngine().warm()
    assert len(calls) == 1 and offline._WARMED.is_set()
    assert {c.kind for c in calls[0].components} == set(KINDS), "every kind's modules are loaded"


async def test_a_worker_warms_its_engine_in_the_background(worker: object) -> None:
    from arq.worker import Worker

    assert isinstance(worker, Worker)

    async def warming() -> list[asyncio.Task[None]]:
        return [t for t in worker.ctx.get("background", []) if "to_thread" in repr(t.get_coro())]

    assert await eventually(warming), "the worker starts the engine's warm-up without waiting for it"


async def test_a_step_time_makes_preview_and_apply_take_it_per_resource_reporting_each(tmp_path: Path) -> None:
    """OFFLINE_STEP_SECONDS: demos and fault tests see applies that take time and report as they go. The
    default (what `make run` uses) stays instant."""
    from config.settings import Settings

    assert Settings(_env_file=None).offline_step_seconds == 0  # type: ignore[call-arg]
    step = 0.05
    engine = OfflineEngine(FileStateStore(tmp_path / "state"), step_seconds=step)
    spec = spec_of("bucket")
    progress = Progress()
    started = asyncio.get_running_loop().time()
    plan = await engine.preview(spec, progress)
    n = len(plan.resources)
    assert asyncio.get_running_loop().time() - started >= n * step
    assert [c[0] for c in progress.calls if c[1] == n + 1] == list(range(1, n + 1)), "one report per resource"

    progress = Progress()
    started = asyncio.get_running_loop().time()
    await engine.apply(spec, progress, plan)
    assert asyncio.get_running_loop().time() - started >= n * step
    assert [c[0] for c in progress.calls] == list(range(0, n + 1)), "one report per resource as it is made"
