"""PulumiEngine through the real Automation API, driving the stand-in `pulumi` in tests/standin/bin.

The stand-in replays the CLI's own argument shapes, JSON, engine events and error texts, and keeps
real state in a file backend, so these tests exercise the Automation API's parsing and our mapping.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.plan import ResourceChange
from core.spec import Component, InfraSpec
from infra import errors
from infra.pulumi_engine import EngineConfigError, PulumiEngine

STANDIN = Path(__file__).parent / "standin"
SCENARIOS = STANDIN / "scenarios"
PASSPHRASE = "correct-horse-battery-staple-42"
BUCKET = "gcp:storage/bucket:Bucket"
DB = "gcp:sql/databaseInstance:DatabaseInstance"
SECRET = "gcp:secretmanager/secret:Secret"
TOPIC = "gcp:pubsub/topic:Topic"


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    async def __call__(self, done: int, total: int, message: str) -> None:
        self.calls.append((done, total, message))

    @property
    def messages(self) -> list[str]:
        return [m for _, _, m in self.calls]


def nothing() -> None:
    """A stand-in inline program: the stand-in CLI plans from its scenario, not from the program."""


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    monkeypatch.setenv("STANDIN_PYTHON", sys.executable)
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.delenv("STANDIN_PULUMI_VERSION", raising=False)

    def use(scenario: str | Path) -> None:
        path = scenario if isinstance(scenario, Path) else SCENARIOS / f"{scenario}.json"
        monkeypatch.setenv("STANDIN_SCENARIO", str(path))

    use("basic")
    return use


def make_engine(tmp_path: Path, passphrase: str = PASSPHRASE, **kwargs: Any) -> PulumiEngine:
    kwargs.setdefault("program_factory", lambda spec: nothing)
    return PulumiEngine(
        passphrase=passphrase,
        gcp_project="demo",
        backend_url=f"file://{tmp_path / 'state'}",
        pulumi_command=str(STANDIN / "bin" / "pulumi"),
        work_root=tmp_path / "work",
        **kwargs,
    )


@pytest.fixture
def engine(tmp_path: Path, standin: Callable[[str], None]) -> PulumiEngine:
    return make_engine(tmp_path)


def calls(tmp_path: Path) -> list[list[str]]:
    lines = (tmp_path / "calls.jsonl").read_text().splitlines()
    return [json.loads(line)["argv"] for line in lines]


def spec(*kinds: str) -> InfraSpec:
    return InfraSpec(
        app="shop", environment="dev", components=[Component(kind=k) for k in kinds or ("bucket",)]
    )


async def test_preview_maps_engine_events_to_changes_and_progress(
    engine: PulumiEngine, tmp_path: Path
) -> None:
    progress = Progress()
    plan = await engine.preview(spec(), progress)

    assert plan.engine == "pulumi" and plan.simulated is False
    assert plan.resources == [
        ResourceChange(type=BUCKET, name="shop-dev-assets", op="create"),
        ResourceChange(type=DB, name="shop-dev-db", op="create"),
        ResourceChange(type=SECRET, name="shop-dev-db-password", op="create"),
    ]
    # The stack root and the default provider are counted by the engine but not shown to people.
    assert plan.summary == {"create": 3, "update": 0, "delete": 0, "replace": 0}
    assert plan.spec_fingerprint == spec().fingerprint()
    assert progress.messages == [
        "plan: create Bucket shop-dev-assets",
        "plan: create DatabaseInstance shop-dev-db",
        "plan: create Secret shop-dev-db-password",
        "plan ready: 3 to create",
    ]
    assert [(d, t) for d, t, _ in progress.calls] == [(1, 1), (2, 2), (3, 3), (3, 3)]

    argvs = calls(tmp_path)
    preview = next(a for a in argvs if a[0] == "preview")
    assert "--exec-kind" in preview and preview[preview.index("--exec-kind") + 1] == "auto.inline"
    assert any(a.startswith("--client=127.0.0.1:") for a in preview)
    assert preview[preview.index("--event-log") + 1].startswith("tcp://127.0.0.1:")
    assert preview[preview.index("--stack") + 1] == "shop-dev"
    set_all = next(a for a in argvs if a[:2] == ["config", "set-all"])
    assert "gcp:project=demo" in set_all and "gcp:region=us-central1" in set_all
    project = yaml.safe_load((tmp_path / "work" / "shop-dev" / "Pulumi.yaml").read_text())
    assert project["name"] == "infrabot" and project["backend"]["url"] == f"file://{tmp_path / 'state'}"


async def test_older_cli_event_log_file_gives_the_same_plan(
    engine: PulumiEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # CLIs up to 3.205 write events to a file the Automation API tails instead of a gRPC stream.
    monkeypatch.setenv("STANDIN_PULUMI_VERSION", "3.200.0")
    progress = Progress()
    plan = await engine.preview(spec(), progress)

    assert [r.name for r in plan.resources] == ["shop-dev-assets", "shop-dev-db", "shop-dev-db-password"]
    assert progress.messages[-1] == "plan ready: 3 to create"
    preview = next(a for a in calls(tmp_path) if a[0] == "preview")
    assert preview[preview.index("--event-log") + 1].endswith("eventlog.txt")


async def test_apply_returns_outputs_as_text_and_hides_secrets(engine: PulumiEngine) -> None:
    progress = Progress()
    result = await engine.apply(spec(), progress)

    assert result.engine == "pulumi" and result.simulated is False
    assert result.summary == {"create": 3, "update": 0, "delete": 0, "replace": 0}
    assert result.outputs == {
        "bucket_url": "gs://shop-dev-assets-5f1c2a",
        "db_connection": "demo:us-central1:shop-dev-db-91ab",
        "db_password": "[secret]",
        "db_password_ref": "projects/demo/secrets/shop-dev-db-password/versions/latest",
        "service_ports": "[8080, 9090]",
    }
    assert "s3cr3t-db-password" not in json.dumps(result.model_dump())
    assert progress.messages == [
        "creating Bucket shop-dev-assets",
        "created Bucket shop-dev-assets",
        "creating DatabaseInstance shop-dev-db",
        "created DatabaseInstance shop-dev-db",
        "creating Secret shop-dev-db-password",
        "created Secret shop-dev-db-password",
        "finished: 3 created",
    ]
    assert progress.calls[-1][:2] == (3, 3)
    dones = [d for d, _, _ in progress.calls]
    assert dones == sorted(dones)


async def test_running_twice_changes_nothing_the_second_time(engine: PulumiEngine, tmp_path: Path) -> None:
    await engine.apply(spec(), Progress())
    again = await engine.apply(spec(), Progress())
    plan = await engine.preview(spec(), Progress())

    assert again.summary == {"create": 0, "update": 0, "delete": 0, "replace": 0}
    assert {r.op for r in plan.resources} == {"same"}
    assert plan.summary == {"create": 0, "update": 0, "delete": 0, "replace": 0}
    inits = [a for a in calls(tmp_path) if a[:2] == ["stack", "init"]]
    assert len(inits) == 1


async def test_changed_spec_preview_shows_update_replace_delete_create(
    engine: PulumiEngine, standin: Callable[[str], None]
) -> None:
    await engine.apply(spec(), Progress())
    standin("changed")
    progress = Progress()
    plan = await engine.preview(spec(), progress)

    by_name = {r.name: r.op for r in plan.resources}
    # A replacement is three engine steps on one resource; it must show once, as "replace".
    assert by_name == {
        "shop-dev-assets": "update",
        "shop-dev-db": "replace",
        "shop-dev-events": "create",
        "shop-dev-db-password": "delete",
    }
    assert len(plan.resources) == 4
    assert plan.summary == {"create": 1, "update": 1, "delete": 1, "replace": 1}
    assert progress.messages[-1] == "plan ready: 1 to create, 1 to update, 1 to delete, 1 to replace"

    progress = Progress()
    result = await engine.apply(spec(), progress)
    assert result.summary == {"create": 1, "update": 1, "delete": 1, "replace": 1}
    assert progress.messages.count("replacing DatabaseInstance shop-dev-db") == 1
    assert progress.messages.count("replaced DatabaseInstance shop-dev-db") == 1
    assert progress.messages[-1] == "finished: 1 created, 1 updated, 1 deleted, 1 replaced"
    assert progress.calls[-1][:2] == (4, 4)
    assert result.outputs == {"bucket_url": "gs://shop-dev-assets-5f1c2a"}


async def test_destroy_reports_what_was_removed(engine: PulumiEngine) -> None:
    await engine.apply(spec(), Progress())
    progress = Progress()
    result = await engine.destroy(spec(), progress)

    assert result.summary == {"create": 0, "update": 0, "delete": 3, "replace": 0}
    assert [(c.type.rsplit(":", 1)[-1], c.name) for c in result.removed] == [
        ("Secret", "shop-dev-db-password"), ("DatabaseInstance", "shop-dev-db"), ("Bucket", "shop-dev-assets")
    ]
    assert result.outputs == {}
    assert "deleted Bucket shop-dev-assets" in progress.messages
    assert progress.messages[-1] == "finished: 3 deleted"
    plan = await engine.preview(spec(), Progress())
    assert {r.op for r in plan.resources} == {"create"}


async def test_a_change_running_on_the_stack_makes_the_next_one_wait(
    engine: PulumiEngine, standin: Callable[[str | Path], None], tmp_path: Path
) -> None:
    slow = json.loads((SCENARIOS / "basic.json").read_text()) | {"step_delay": 0.4}
    (tmp_path / "slow.json").write_text(json.dumps(slow))
    standin(tmp_path / "slow.json")
    await engine.preview(spec(), Progress())  # creates the stack, so both ups below go straight to locking

    first_step = asyncio.Event()

    async def on_progress(done: int, total: int, message: str) -> None:
        first_step.set()

    running = asyncio.create_task(engine.apply(spec(), on_progress))
    await asyncio.wait_for(first_step.wait(), 10)
    second = make_engine(tmp_path)  # another worker process, same backend

    with pytest.raises(errors.StackBusy) as caught:
        await second.apply(spec(), Progress())

    assert str(caught.value) == "another change is running on shop-dev, you are next"
    assert caught.value.stack == "shop-dev"
    assert (await running).summary["create"] == 3
    # Once the first change is done the stack is free again.
    assert (await second.apply(spec(), Progress())).summary["create"] == 0


async def test_lock_left_by_another_pulumi_process_is_stack_busy(
    engine: PulumiEngine, tmp_path: Path
) -> None:
    await engine.preview(spec(), Progress())
    lock_dir = tmp_path / "state" / ".pulumi" / "locks" / "organization" / "infrabot" / "shop-dev"
    lock_dir.mkdir(parents=True)
    (lock_dir / "0b6c7d8e-1111-2222-3333-444455556666.json").write_text(
        json.dumps({"pid": 4242, "username": "ci", "hostname": "runner", "timestamp": "2025-01-01T00:00:00Z"})
    )

    with pytest.raises(errors.StackBusy):
        await engine.destroy(spec(), Progress())
    # preview does not lock on a file backend, so planning still works meanwhile
    assert len((await engine.preview(spec(), Progress())).resources) == 3


async def test_failed_update_is_one_plain_line_without_the_passphrase(
    engine: PulumiEngine, standin: Callable[[str], None]
) -> None:
    standin("failing")
    progress = Progress()

    with pytest.raises(errors.EngineFailed) as caught:
        await engine.apply(spec(), progress)

    message = str(caught.value)
    assert message == (
        "DatabaseInstance shop-dev-db: googleapi: Error 403: Cloud SQL Admin API has not been used in "
        "project demo before or it is disabled (request had PULUMI_CONFIG_PASSPHRASE=[redacted]), "
        "accessNotConfigured"
    )
    assert "\n" not in message
    assert PASSPHRASE not in message
    assert PASSPHRASE not in caught.value.detail  # type: ignore[attr-defined]
    assert "update failed" in caught.value.detail  # type: ignore[attr-defined]
    # the CLI's full output (CommandError) is not chained on, so a logged traceback cannot leak it
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert all(PASSPHRASE not in m for m in progress.messages)
    assert any(
        m.startswith("error: DatabaseInstance shop-dev-db: googleapi: Error 403") for m in progress.messages
    )
    assert "created Bucket shop-dev-assets" in progress.messages


async def test_wrong_passphrase_is_reported_without_either_passphrase(
    engine: PulumiEngine, tmp_path: Path
) -> None:
    await engine.preview(spec(), Progress())
    wrong = "not-the-right-one-99"
    intruder = make_engine(tmp_path, passphrase=wrong)

    with pytest.raises(errors.EngineFailed) as caught:
        await intruder.preview(spec(), Progress())

    assert (
        str(caught.value)
        == "incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase"
    )
    assert wrong not in str(caught.value) and PASSPHRASE not in str(caught.value)


async def test_database_password_never_goes_through_config_or_the_command_line(
    engine: PulumiEngine, tmp_path: Path
) -> None:
    # The password is a RandomPassword resource in the program's state, so the engine sets no
    # config for it and passes nothing about it to the CLI.
    config_file = tmp_path / "work" / "shop-dev" / "Pulumi.shop-dev.yaml"
    await engine.apply(spec("postgres"), Progress())
    await engine.apply(spec("postgres"), Progress())

    config = (yaml.safe_load(config_file.read_text()) or {}).get("config", {}) if config_file.exists() else {}
    assert not [k for k in config if "password" in k.lower()]
    assert not [a for a in calls(tmp_path) if any("password" in x.lower() for x in a)]


async def test_failing_progress_callback_does_not_fail_the_change(engine: PulumiEngine) -> None:
    async def broken(done: int, total: int, message: str) -> None:
        raise RuntimeError("chat is down")

    assert (await engine.apply(spec(), broken)).summary["create"] == 3


async def test_uses_infra_program_when_no_program_is_given(
    standin: Callable[[str], None], tmp_path: Path
) -> None:
    engine = make_engine(tmp_path, program_factory=None)
    plan = await engine.preview(spec(), Progress())
    assert len(plan.resources) == 3


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


def test_from_settings_reads_the_secret_and_keeps_state_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import SecretStr

    for name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "GCP_PROJECT"):
        monkeypatch.delenv(name, raising=False)

    from config.settings import Settings

    settings = Settings(
        _env_file=None,
        data_dir=str(tmp_path / "data"),
        gcp_project="acme-prod",
        pulumi_config_passphrase=SecretStr(PASSPHRASE),
    )
    engine = PulumiEngine.from_settings(settings, environ={})
    assert engine.gcp_project == "acme-prod"
    assert engine.backend_url == (tmp_path / "data" / "pulumi-state").as_uri()
    assert PASSPHRASE not in repr(engine)

    with pytest.raises(EngineConfigError, match="PULUMI_CONFIG_PASSPHRASE"):
        PulumiEngine.from_settings(Settings(_env_file=None, data_dir=str(tmp_path)), environ={})
