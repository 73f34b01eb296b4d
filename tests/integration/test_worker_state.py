"""A worker on the real engine refuses Pulumi state on its own disk unless told it is alone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from config.credentials import CLOUD_CREDENTIAL_VARS
from config.local_services import REPO_ROOT
from config.settings import Settings
from infra.errors import EngineConfigError
from jobs.worker.main import refuse_local_state

INFRABOT = str(REPO_ROOT / ".venv" / "bin" / "infrabot")


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize("url", [None, "file:///var/lib/pulumi", "file://~", "/var/lib/pulumi"])
def test_local_backends_are_refused_on_the_pulumi_engine(url: str | None) -> None:
    with pytest.raises(EngineConfigError, match="PULUMI_BACKEND_URL=gs://"):
        refuse_local_state(settings(engine="pulumi", pulumi_backend_url=url))


@pytest.mark.parametrize("values", [
    {"engine": "pulumi", "pulumi_backend_url": "gs://team-state"},
    {"engine": "pulumi", "pulumi_backend_url": "https://api.pulumi.com"},
    {"engine": "pulumi", "pulumi_backend_url": "file:///var/lib/pulumi", "allow_local_pulumi_state": True},
    {"engine": "offline"},
])
def test_shared_backends_the_offline_engine_and_the_local_opt_in_start(values: dict[str, object]) -> None:
    refuse_local_state(settings(**values))


def test_infrabot_worker_stops_with_one_line_before_starting_anything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in CLOUD_CREDENTIAL_VARS}
    env |= {"DATA_DIR": str(tmp_path / "data"), "ENGINE": "pulumi", "PULUMI_BACKEND_URL": "file:///tmp/state",
            "PULUMI_CONFIG_PASSPHRASE": "only-the-worker-sees-this",
            "REDIS_URL": "redis://127.0.0.1:1/0", "MONGODB_URL": "mongodb://127.0.0.1:1/"}
    env.pop("ALLOW_LOCAL_PULUMI_STATE", None)
    done = subprocess.run([INFRABOT, "worker"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("infrabot worker: refusing to start: Pulumi state would live on this machine")
    assert "ALLOW_LOCAL_PULUMI_STATE=true" in done.stderr and "Traceback" not in done.stderr


def test_make_run_allows_local_state() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "ALLOW_LOCAL_PULUMI_STATE=true .venv/bin/infrabot run" in run
