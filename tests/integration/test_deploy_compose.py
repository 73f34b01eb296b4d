"""deploy/compose.yaml and the Dockerfile, read as data: which env files and secrets reach which service,
healthchecks, persistence, and the two image targets. (No Docker engine runs here; see README.)"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from config.credentials import CLOUD_CREDENTIAL_VARS
from config.local_services import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
CHAT = ("web", "slack", "discord")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def env_files(service: dict[str, Any]) -> list[str]:
    return [e["path"] if isinstance(e, dict) else e for e in service.get("env_file", [])]


def example_vars(path: str) -> set[str]:
    text = (DEPLOY / f"{path}.example").read_text()
    return {line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_services_profiles_and_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "mongodb", "web", "worker", "slack", "discord"}
    assert services["slack"]["profiles"] == ["slack"] and services["discord"]["profiles"] == ["discord"]
    assert all("profiles" not in services[s] for s in ("redis", "mongodb", "web", "worker"))
    assert services["redis"]["image"].startswith("redis:") and "appendonly" in " ".join(services["redis"]["command"])
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    mongo = services["mongodb"]
    assert mongo["image"].startswith("mongo:") and "--replSet" in mongo["command"]
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])
    assert any(v.endswith(":/data/db") for v in mongo["volumes"])
    assert services["worker"]["build"]["target"] == "worker"
    for chat in CHAT:
        assert services[chat]["build"]["target"] == "chat" and services[chat]["command"] == ["infrabot", chat]
    assert services["worker"]["command"] == ["infrabot", "worker"]


def test_every_service_has_a_healthcheck_and_apps_wait_for_healthy_stores(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"], name
    for name in ("web", "worker", *CHAT):
        depends = compose["services"][name]["depends_on"]
        assert depends == {"redis": {"condition": "service_healthy"}, "mongodb": {"condition": "service_healthy"}}
        test = " ".join(compose["services"][name]["healthcheck"]["test"])
        assert "/readyz" in test, name


def test_cloud_credentials_reach_the_worker_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert env_files(services["worker"]) == ["env/common.env", "env/worker.env"]
    assert services["worker"]["secrets"] == ["gcp-credentials"]
    assert services["worker"]["environment"]["GOOGLE_APPLICATION_CREDENTIALS"].startswith("/run/secrets/")
    for chat in CHAT:
        service = services[chat]
        assert "env/worker.env" not in env_files(service), chat
        assert "secrets" not in service, chat
        assert not set(service.get("environment") or {}) & set(CLOUD_CREDENTIAL_VARS), chat
        for path in env_files(service):
            assert not example_vars(path) & set(CLOUD_CREDENTIAL_VARS), (chat, path)
    assert example_vars("env/worker.env") & set(CLOUD_CREDENTIAL_VARS)
    # The file every service reads carries no secret at all.
    assert not example_vars("env/common.env") & {*CLOUD_CREDENTIAL_VARS, "SLACK_BOT_TOKEN", "DISCORD_TOKEN"}
    assert env_files(services["discord"]) == ["env/common.env", "env/discord.env"]
    assert env_files(services["slack"]) == ["env/common.env", "env/slack.env"]
    assert "env/discord.env" not in env_files(services["web"]) + env_files(services["slack"])


def test_stores_are_addressed_as_compose_services_with_a_replica_set() -> None:
    common = dict(line.split("=", 1) for line in (DEPLOY / "env/common.env.example").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert common["REDIS_URL"].startswith("redis://redis:")
    assert common["MONGODB_URL"].startswith("mongodb://mongodb:") and "replicaSet=rs0" in common["MONGODB_URL"]


def test_stop_grace_outlasts_the_shutdown_grace(compose: dict[str, Any]) -> None:
    grace = float(dict(line.split("=", 1) for line in (DEPLOY / "env/common.env.example").read_text().splitlines()
                       if line and not line.startswith("#"))["SHUTDOWN_GRACE_SECONDS"])
    for name in ("web", "worker", *CHAT):
        period = compose["services"][name]["stop_grace_period"]
        assert float(period.rstrip("s")) > grace, name


def stages(dockerfile: str) -> dict[str, str]:
    parts = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    return {part.split("\n", 1)[0].split(" AS ")[-1].strip(): part for part in parts}


def test_dockerfile_worker_has_pinned_pulumi_chat_has_none_both_non_root() -> None:
    found = stages((REPO_ROOT / "Dockerfile").read_text())
    assert list(found)[-1] == "chat", "a plain `docker build .` gives the chat image"
    pulumi_version = re.search(r"ARG PULUMI_VERSION=(\d+\.\d+\.\d+)", found["pulumi"])
    assert pulumi_version and "sha256sum -c" in found["pulumi"]
    gcp_plugin = re.search(r"ARG PULUMI_GCP_PLUGIN_VERSION=(\S+)", found["worker"])
    pinned = re.search(r'"pulumi-gcp==([\d.]+)"', (REPO_ROOT / "pyproject.toml").read_text())
    assert gcp_plugin and pinned and gcp_plugin.group(1) == pinned.group(1), "plugin matches the Python SDK"
    random_plugin = re.search(r"ARG PULUMI_RANDOM_PLUGIN_VERSION=(\S+)", found["worker"])
    pinned_random = re.search(r'"pulumi-random==([\d.]+)"', (REPO_ROOT / "pyproject.toml").read_text())
    assert random_plugin and pinned_random and random_plugin.group(1) == pinned_random.group(1)
    assert "pulumi plugin install resource gcp" in found["worker"]
    assert "pulumi plugin install resource random" in found["worker"]
    assert "COPY --from=pulumi" in found["worker"] and 'CMD ["infrabot", "worker"]' in found["worker"]
    assert "pulumi" not in found["chat"].lower() and 'CMD ["infrabot", "web"]' in found["chat"]
    for name in ("worker", "chat"):
        assert "USER infrabot" in found[name], name
        assert "STOPSIGNAL SIGTERM" in found[name] and "/livez" in found[name]
    assert "useradd" in found["base"] and "COPY telemetry telemetry" in found["build"]


def test_packages_the_image_copies_are_every_package() -> None:
    copied = set(re.findall(r"^COPY (\w+) \1$", (REPO_ROOT / "Dockerfile").read_text(), flags=re.M))
    packages = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"}
    assert copied == packages
