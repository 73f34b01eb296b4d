"""PulumiEngine against the real pulumi CLI, on programs made of dynamic resources (tests/pulumi_programs.py).

A file:// backend in a temp dir and a passphrase secrets provider; no provider plugin, no cloud.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

from core.plan import PlanOutOfDate, ResourceChange
from infra import errors
from infra.pulumi_engine import EngineConfigError, PulumiEngine
from tests.pulumi_cli import DB_PASSWORD, PASSPHRASE, Progress, make_engine, spec, use_cli_env

BUCKET = "pulumi-python:dynamic/storage:Bucket"
DB = "pulumi-python:dynamic/sql:DatabaseInstance"
TOPIC = "pulumi-python:dynamic/pubsub:Topic"
NOTHING = {"create": 0, "update": 0, "delete": 0, "replace": 0}


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cli_env(monkeypatch)


@pytest.fixture
def engine(tmp_path: Path) -> PulumiEngine:
    return make_engine(tmp_path)


def state_text(tmp_path: Path) -> str:
    return "\n".join(p.read_text() for p in (tmp_path / "state").rglob("*.json"))


async def test_preview_saves_an_update_plan_and_reports_the_changes(engine: PulumiEngine, tmp_path: Path) -> None:
    progress = Progress()
    plan = await engine.preview(spec("bucket", "queue"), progress)

    assert plan.engine == "pulumi" and plan.simulated is False
    assert sorted(plan.resources, key=lambda r: r.name) == [
        ResourceChange(type=BUCKET, name="shop-dev-bucket", op="create"),
        ResourceChange(type=TOPIC, name="shop-dev-queue", op="create"),
    ]
    # The stack root and the dynamic provider are Pulumi's bookkeeping, not shown to people.
    assert plan.summary == {"create": 2, "update": 0, "delete": 0, "replace": 0}
    assert plan.spec_fingerprint == spec("bucket", "queue").fingerprint()
    assert sorted(progress.messages[:2]) == ["plan: create Bucket shop-dev-bucket", "plan: create Topic shop-dev-queue"]
    assert progress.messages[-1] == "plan ready: 2 to create"
    artifact = json.loads(plan.artifact or "")
    assert artifact["base_version"] == ""  # a new stack has had no update
    saved = json.loads(artifact["update_plan"])
    assert any(urn.endswith("::shop-dev-bucket") for urn in saved["resourcePlans"])
    project = yaml.safe_load((tmp_path / "work" / "shop-dev" / "Pulumi.yaml").read_text())
    assert project["name"] == "infrabot" and project["backend"]["url"] == f"file://{tmp_path / 'state'}"
    config = yaml.safe_load((tmp_path / "work" / "shop-dev" / "Pulumi.shop-dev.yaml").read_text())["config"]
    assert config["gcp:project"] == "demo" and config["gcp:region"] == "us-central1"


async def test_applying_the_approved_plan_then_nothing_left_to_do(engine: PulumiEngine) -> None:
    plan = await engine.preview(spec("bucket", "queue"), Progress())
    progress = Progress()
    result = await engine.apply(spec("bucket", "queue"), progress, plan)

    assert result.engine == "pulumi" and result.simulated is False
    assert result.summary == {"create": 2, "update": 0, "delete": 0, "replace": 0}
    assert set(result.outputs) == {"bucket_id", "queue_id", "region"} and result.outputs["region"] == "us-central1"
    assert "creating Bucket shop-dev-bucket" in progress.messages
    assert "created Topic shop-dev-queue" in progress.messages
    assert progress.messages[-1] == "finished: 2 created"
    assert progress.calls[-1][:2] == (2, 2)

    again = await engine.preview(spec("bucket", "queue"), Progress())
    assert {r.op for r in again.resources} == {"same"} and again.summary == NOTHING
    assert (await engine.apply(spec("bucket", "queue"), Progress(), again)).summary == NOTHING


async def test_changed_spec_shows_update_replace_create_and_delete(engine: PulumiEngine) -> None:
    await engine.apply(spec("bucket", "queue"), Progress())
    moved = spec("bucket", "postgres").model_copy(update={"region": "europe-west1"})
    plan = await engine.preview(moved, Progress())

    # A new region replaces the bucket (REPLACE_ON), the queue goes, the database comes.
    assert {r.name: r.op for r in plan.resources} == {
        "shop-dev-bucket": "replace", "shop-dev-queue": "delete", "shop-dev-postgres": "create",
    }
    assert plan.summary == {"create": 1, "update": 0, "delete": 1, "replace": 1}

    progress = Progress()
    result = await engine.apply(moved, progress, plan)
    assert result.summary == {"create": 1, "update": 0, "delete": 1, "replace": 1}
    assert progress.messages.count("replacing Bucket shop-dev-bucket") == 1
    assert progress.messages.count("replaced Bucket shop-dev-bucket") == 1

    bigger = moved.model_copy(update={"size": "large"})
    plan = await engine.preview(bigger, Progress())
    assert {r.name: r.op for r in plan.resources} == {"shop-dev-bucket": "update", "shop-dev-postgres": "update"}


async def test_a_plan_the_stack_moved_on_from_is_refused(engine: PulumiEngine, tmp_path: Path) -> None:
    # Thread A previews a bucket; thread B then applies bucket + postgres on the same stack.
    old = await engine.preview(spec("bucket"), Progress())
    newer = spec("bucket", "postgres")
    await engine.apply(newer, Progress(), await engine.preview(newer, Progress()))

    with pytest.raises(PlanOutOfDate) as caught:
        await engine.apply(spec("bucket"), Progress(), old)

    assert "changed since it was previewed" in str(caught.value) and "fresh plan" in str(caught.value)
    # The database A's approver never saw deleted is still there.
    fresh = await engine.preview(spec("bucket"), Progress())
    assert {r.name: r.op for r in fresh.resources}["shop-dev-postgres"] == "delete"


async def test_a_changed_program_cannot_use_an_old_plan(engine: PulumiEngine) -> None:
    await engine.apply(spec("bucket"), Progress())
    plan = await engine.preview(spec("bucket", size="medium"), Progress())
    await engine.apply(spec("bucket", size="large"), Progress())

    with pytest.raises(PlanOutOfDate):
        await engine.apply(spec("bucket", size="medium"), Progress(), plan)


async def test_plans_without_a_saved_plan_or_for_another_spec_are_refused(engine: PulumiEngine) -> None:
    plan = await engine.preview(spec("bucket"), Progress())
    with pytest.raises(PlanOutOfDate, match="no saved Pulumi update plan"):
        await engine.apply(spec("bucket"), Progress(), plan.model_copy(update={"artifact": None}))
    with pytest.raises(PlanOutOfDate, match="changed after its plan was approved"):
        await engine.apply(spec("bucket", "queue"), Progress(), plan)
    # Nothing was applied by the refusals.
    assert {r.op for r in (await engine.preview(spec("bucket"), Progress())).resources} == {"create"}


async def test_secret_config_stays_encrypted_in_config_plan_state_and_outputs(
    engine: PulumiEngine, tmp_path: Path
) -> None:
    plan = await engine.preview(spec("postgres"), Progress())
    result = await engine.apply(spec("postgres"), Progress(), plan)

    config = yaml.safe_load((tmp_path / "work" / "shop-dev" / "Pulumi.shop-dev.yaml").read_text())["config"]
    assert set(config["infrabot:dbRootPassword"]) == {"secure"}
    # The plan is kept with the request in MongoDB: it must never carry the plaintext.
    assert DB_PASSWORD not in (plan.artifact or "") and PASSPHRASE not in (plan.artifact or "")
    assert "secure" in (plan.artifact or "") or "ciphertext" in (plan.artifact or "")
    assert result.outputs["db_password"] == "[secret]"
    assert DB_PASSWORD not in json.dumps(result.model_dump())
    assert DB_PASSWORD not in state_text(tmp_path)


async def test_destroy_reports_what_was_removed(engine: PulumiEngine) -> None:
    await engine.apply(spec("bucket", "queue"), Progress())
    progress = Progress()
    result = await engine.destroy(spec("bucket", "queue"), progress)

    assert result.summary == {"create": 0, "update": 0, "delete": 2, "replace": 0}
    assert sorted((c.name, c.type) for c in result.removed) == [("shop-dev-bucket", BUCKET), ("shop-dev-queue", TOPIC)]
    assert "deleted Bucket shop-dev-bucket" in progress.messages
    assert progress.messages[-1] == "finished: 2 deleted"
    assert {r.op for r in (await engine.preview(spec("bucket", "queue"), Progress())).resources} == {"create"}


async def test_a_failing_resource_is_one_plain_line_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(tmp_path)
    caplog.set_level(logging.DEBUG)
    progress = Progress()

    with pytest.raises(errors.EngineFailed) as caught:
        # The test provider refuses a database in region "fail" and names its password in the error, as
        # a careless provider might.
        await engine.apply(spec("bucket", "postgres", size="large").model_copy(update={"region": "fail"}), progress)

    message = str(caught.value)
    assert message.startswith("DatabaseInstance shop-dev-postgres: RuntimeError: quota exceeded")
    assert "\n" not in message
    # The CLI masks the secret input as [secret]; the engine's own scrub ([redacted]) is the backstop.
    assert DB_PASSWORD not in message and ("[secret]" in message or "[redacted]" in message)
    detail = caught.value.detail  # type: ignore[attr-defined]
    assert DB_PASSWORD not in detail and PASSPHRASE not in detail
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert all(DB_PASSWORD not in m and PASSPHRASE not in m for m in progress.messages)
    assert DB_PASSWORD not in caplog.text and PASSPHRASE not in caplog.text


async def test_wrong_passphrase_is_reported_without_either_passphrase(engine: PulumiEngine, tmp_path: Path) -> None:
    await engine.apply(spec("postgres"), Progress())
    wrong = "not-the-right-one-99"
    intruder = make_engine(tmp_path, passphrase=wrong)

    with pytest.raises(errors.EngineFailed) as caught:
        await intruder.preview(spec("postgres"), Progress())

    assert "passphrase" in str(caught.value)
    assert wrong not in str(caught.value) and PASSPHRASE not in str(caught.value)
    assert DB_PASSWORD not in str(caught.value)


async def test_failing_progress_callback_does_not_fail_the_change(engine: PulumiEngine) -> None:
    async def broken(done: int, total: int, message: str) -> None:
        raise RuntimeError("chat is down")

    assert (await engine.apply(spec("bucket"), broken)).summary["create"] == 1


def test_passphrase_and_project_are_required() -> None:
    with pytest.raises(EngineConfigError, match="PULUMI_CONFIG_PASSPHRASE"):
        PulumiEngine.from_env({"GCP_PROJECT": "demo"})
    with pytest.raises(EngineConfigError, match="GCP_PROJECT"):
        PulumiEngine.from_env({"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
    engine = PulumiEngine.from_env({"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "GOOGLE_CLOUD_PROJECT": "demo"})
    assert engine.name == "pulumi" and engine.simulated is False
    assert engine.backend_url.startswith("file://") and engine.backend_url.endswith("/.data/pulumi-state")
    assert PASSPHRASE not in repr(engine)


def test_pulumi_command_must_be_a_cli_layout(tmp_path: Path) -> None:
    odd = tmp_path / "my-pulumi"
    odd.write_text("")
    with pytest.raises(EngineConfigError, match="PULUMI_COMMAND"):
        PulumiEngine(passphrase=PASSPHRASE, gcp_project="demo", pulumi_command=str(odd))


def test_from_settings_keeps_state_under_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import SecretStr

    from config.settings import Settings

    for name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "GCP_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=str(tmp_path / "data"),
        gcp_project="acme-prod",
        pulumi_config_passphrase=SecretStr(PASSPHRASE),
    )
    engine = PulumiEngine.from_settings(settings, environ={})
    assert engine.gcp_project == "acme-prod"
    assert engine.backend_url == (tmp_path / "data" / "pulumi-state").as_uri()
    assert PASSPHRASE not in repr(engine)

    with pytest.raises(EngineConfigError, match="PULUMI_CONFIG_PASSPHRASE"):
        PulumiEngine.from_settings(Settings(_env_file=None, data_dir=str(tmp_path)), environ={})  # type: ignore[call-arg]
