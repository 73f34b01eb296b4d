"""Day two on the offline engine with state: apply a spec, change it the way people do, and check
the plan deletes or replaces nothing the change does not imply, and names and env vars stay put."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.plan import PlanResult
from core.spec import Component, InfraSpec
from infra.offline import OfflineEngine
from infra.state import FileStateStore

RUN = "gcp:cloudrunv2/service:Service"


async def quiet(done: int, total: int, message: str) -> None:
    return None


def spec_of(*components: Component, env: str = "staging", size: str = "small") -> InfraSpec:
    return InfraSpec(app="shop", environment=env, size=size, components=list(components), requested_by="amy")


def kinds(*names: str, **counts: int) -> list[Component]:
    return [Component(kind=k, count=counts.get(k, 1)) for k in names]  # type: ignore[arg-type]


@pytest.fixture
def engine(tmp_path: Path) -> OfflineEngine:
    return OfflineEngine(FileStateStore(tmp_path / "state"), project="acme-test")


def destructive(plan: PlanResult) -> dict[str, str]:
    return {c.name: c.op for c in plan.resources if c.op in ("delete", "replace")}


def ops(plan: PlanResult) -> dict[str, str]:
    return {c.name: c.op for c in plan.resources}


def service_env(engine: OfflineEngine, spec: InfraSpec, name: str = "shop-staging-svc") -> dict[str, Any]:
    service = next(r for r in engine.evaluate(spec).resources if r.type == RUN and r.name == name)
    envs = service.inputs["template"]["containers"][0]["envs"]
    return {e["name"]: e.get("value", e.get("valueSource")) for e in envs}


def assert_env_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    """The running app's variables all stay, under the same names, pointing at the same things."""
    assert set(before) <= set(after), f"renamed or dropped: {sorted(set(before) - set(after))}"
    assert {k: after[k] for k in before} == before


async def apply_then_preview(engine: OfflineEngine, before: InfraSpec, after: InfraSpec) -> PlanResult:
    await engine.apply(before, quiet)
    return await engine.preview(after, quiet)


@pytest.mark.parametrize("kind, base, env_name", [
    ("postgres", "pg", "DB_HOST"),
    ("mysql", "mysql", "DB_HOST"),
    ("bucket", "bucket", "BUCKET"),
    ("redis", "redis", "REDIS_HOST"),
    ("queue", "queue", "TOPIC"),
    ("secret", "secret", "APP_SECRET_NAME"),
    ("registry", "registry", "REGISTRY"),
])
async def test_adding_a_second_one_keeps_the_first(engine: OfflineEngine, kind: str, base: str, env_name: str) -> None:
    before = spec_of(*kinds("service", kind))
    after = spec_of(*kinds("service", kind, **{kind: 2}))
    plan = await apply_then_preview(engine, before, after)

    assert destructive(plan) == {}
    changed = ops(plan)
    assert changed[f"shop-staging-{base}"] == "same"
    assert changed[f"shop-staging-{base}-2"] == "create"
    assert changed["shop-staging-svc"] == "update"  # it learns about the second one
    old_env, new_env = service_env(engine, before), service_env(engine, after)
    assert set(old_env) <= set(new_env)
    # Same resource behind each old name: the first one's values do not move to the second.
    assert new_env[env_name] == old_env[env_name]
    second = {"DB_HOST": "DB_2_HOST", "BUCKET": "BUCKET_2", "REDIS_HOST": "REDIS_2_HOST", "TOPIC": "TOPIC_2",
              "APP_SECRET_NAME": "APP_SECRET_2_NAME", "REGISTRY": "REGISTRY_2"}[env_name]
    assert second in new_env and new_env[second] != new_env[env_name]


async def test_adding_a_second_service_leaves_the_first_and_its_queue_consumer(engine: OfflineEngine) -> None:
    before = spec_of(*kinds("service", "postgres", "queue"))
    after = spec_of(*kinds("service", "postgres", "queue", service=2))
    plan = await apply_then_preview(engine, before, after)
    assert destructive(plan) == {}
    changed = ops(plan)
    assert changed["shop-staging-svc"] == changed["shop-staging-svc-sa"] == "same"
    assert changed["shop-staging-queue-sub"] == "same", "the queue keeps pushing to the first service"
    assert changed["shop-staging-svc-2"] == "create"
    assert_env_kept(service_env(engine, before), service_env(engine, after))


async def test_a_second_database_kind_does_not_take_db_names(engine: OfflineEngine) -> None:
    before = spec_of(*kinds("service", "postgres"))
    after = spec_of(*kinds("service", "postgres", "mysql"))
    plan = await apply_then_preview(engine, before, after)
    assert destructive(plan) == {}
    old_env, new_env = service_env(engine, before), service_env(engine, after)
    assert new_env["DB_HOST"] == old_env["DB_HOST"]
    assert "MYSQL_HOST" in new_env


async def test_adding_a_cache_to_an_app_with_a_service(engine: OfflineEngine) -> None:
    before = spec_of(*kinds("service", "bucket"))
    plan = await apply_then_preview(engine, before, spec_of(*kinds("service", "bucket", "redis")))
    assert destructive(plan) == {}
    changed = ops(plan)
    assert changed["shop-staging-redis"] == "create"
    assert changed["shop-staging-bucket"] == "same" and changed["shop-staging-svc"] == "update"
    after = service_env(engine, spec_of(*kinds("service", "bucket", "redis")))
    assert_env_kept(service_env(engine, before), after)
    assert {"REDIS_HOST", "REDIS_PORT", "REDIS_AUTH", "REDIS_CA_CERT"} <= set(after)


async def test_adding_a_cache_next_to_a_database_leaves_the_database_alone(engine: OfflineEngine) -> None:
    before = spec_of(*kinds("service", "postgres"))
    plan = await apply_then_preview(engine, before, spec_of(*kinds("service", "postgres", "redis")))
    assert destructive(plan) == {}
    changed = ops(plan)
    assert changed["shop-staging-pg"] == changed["shop-staging-pg-user"] == "same"
    assert_env_kept(service_env(engine, before), service_env(engine, spec_of(*kinds("service", "postgres", "redis"))))
    # The network is the environment's, so an app plan never creates or deletes one.
    assert not [c for c in plan.resources if c.type.startswith("gcp:compute/") or "servicenetworking" in c.type]


async def test_a_bigger_size_replaces_only_what_cannot_grow_in_place(engine: OfflineEngine) -> None:
    everything = kinds("service", "postgres", "mysql", "redis", "bucket", "queue", "secret", "registry")
    before, after = spec_of(*everything), spec_of(*everything, size="medium")
    plan = await apply_then_preview(engine, before, after)
    # Memorystore cannot change tier (BASIC -> STANDARD_HA) in place; everything else can.
    assert destructive(plan) == {"shop-staging-redis": "replace"}
    changed = ops(plan)
    assert changed["shop-staging-pg"] == changed["shop-staging-mysql"] == "update"
    assert changed["shop-staging-svc"] == "update"
    # Nothing is added by a size change, and the app keeps every variable name.
    assert {n for n, op in changed.items() if op == "create"} == set()
    assert set(service_env(engine, before)) == set(service_env(engine, after))


async def test_adding_a_secret(engine: OfflineEngine) -> None:
    before = spec_of(*kinds("service", "postgres", "bucket"))
    after = spec_of(*kinds("service", "postgres", "bucket", "secret"))
    plan = await apply_then_preview(engine, before, after)
    assert destructive(plan) == {}
    assert ops(plan)["shop-staging-secret"] == "create"
    old_env, new_env = service_env(engine, before), service_env(engine, after)
    assert_env_kept(old_env, new_env)
    assert set(new_env) - set(old_env) == {"APP_SECRET_NAME"}


async def test_a_second_environment_is_a_new_stack_not_a_change(engine: OfflineEngine) -> None:
    components = kinds("service", "postgres", "bucket")
    staging = spec_of(*components)
    await engine.apply(staging, quiet)
    prod = spec_of(*components, env="prod")
    plan = await engine.preview(prod, quiet)
    assert {c.op for c in plan.resources} == {"create"}
    assert all(c.name.startswith("shop-prod-") for c in plan.resources)
    await engine.apply(prod, quiet)
    # Staging is untouched by prod's apply.
    assert {c.op for c in (await engine.preview(staging, quiet)).resources} == {"same"}
    # The app reads the same variable names in either environment; only the values differ.
    assert set(service_env(engine, prod, "shop-prod-svc")) == set(service_env(engine, staging))


async def test_reapplying_after_a_change_is_a_no_op(engine: OfflineEngine) -> None:
    after = spec_of(*kinds("service", "postgres", "bucket", postgres=2, bucket=2))
    await apply_then_preview(engine, spec_of(*kinds("service", "postgres", "bucket")), after)
    await engine.apply(after, quiet)
    assert {c.op for c in (await engine.preview(after, quiet)).resources} == {"same"}


async def test_stacks_numbered_by_earlier_versions_are_adopted_through_aliases(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    """Before, two buckets were `bucket-1` and `bucket-2`; now the first is `bucket` with an alias."""
    spec = spec_of(*kinds("service", "bucket", bucket=2))
    await engine.apply(spec, quiet)
    store = FileStateStore(tmp_path / "state")
    doc = store.get(spec.stack_name)
    assert doc is not None
    legacy: dict[str, Any] = {}
    for key, record in doc["resources"].items():
        for new, old in (("shop-staging-bucket", "shop-staging-bucket-1"),
                         ("shop-staging-svc-bucket-objects", "shop-staging-svc-bucket-1-objects")):
            if record["name"] == new:
                record = {**record, "name": old, "hash": "old-physical-name", "replace_hash": "old-physical-name"}
                key = key.replace(new, old)
        legacy[key] = record
    store.put(spec.stack_name, {**doc, "resources": legacy})

    plan = await engine.preview(spec, quiet)
    assert destructive(plan) == {}
    changed = ops(plan)
    assert changed["shop-staging-bucket"] == "same"
    assert changed["shop-staging-svc-bucket-objects"] == "same"
    assert "shop-staging-bucket-1" not in changed


def test_the_real_engine_gets_the_aliases_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline diff reads the program's alias map; Pulumi itself needs them as resource options,
    which the program's stack transformation adds, with the physical name left as it was created."""
    import pulumi

    from infra.mocks import evaluate
    from infra.program import make_program

    registered: list[Any] = []
    original = pulumi.runtime.register_stack_transformation

    def spy(transform: Any) -> None:
        registered.append(transform)
        original(transform)

    monkeypatch.setattr(pulumi.runtime, "register_stack_transformation", spy)
    spec = spec_of(*kinds("service", "bucket", bucket=2))
    evaluate(make_program(spec), project="acme-test", region=spec.region, stack=spec.stack_name)
    [transform] = registered

    def options(token: str, name: str) -> pulumi.ResourceOptions | None:
        args = pulumi.ResourceTransformationArgs(None, token, name, {}, pulumi.ResourceOptions())  # type: ignore[arg-type]
        result = transform(args)
        return result.opts if result is not None else None

    first = options("gcp:storage/bucket:Bucket", "shop-staging-bucket")
    assert first is not None and [a.name for a in first.aliases or []] == ["shop-staging-bucket-1"]
    assert first.ignore_changes == ["name"]
    grant = options("gcp:storage/bucketIAMMember:BucketIAMMember", "shop-staging-svc-bucket-objects")
    assert grant is not None and [a.name for a in grant.aliases or []] == ["shop-staging-svc-bucket-1-objects"]
    assert options("gcp:storage/bucket:Bucket", "shop-staging-bucket-2") is None

