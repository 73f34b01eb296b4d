"""`infrabot deploy`: infrabot's own GCP deployment, evaluated offline. The security split is the point."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest

from config.credentials import CLOUD_CREDENTIAL_VARS
from config.local_services import REPO_ROOT
from infra.errors import EngineConfigError
from infra.mocks import Evaluation, MockedResource
from infra.selfdeploy import up
from infra.selfdeploy.layout import DeployConfig
from infra.selfdeploy.preview import evaluate_offline, monthly_cost
from tests.pulumi_cli import use_cli_env
from tests.pulumi_programs import Bucket

INFRABOT = str(REPO_ROOT / ".venv" / "bin" / "infrabot")
PROJECT = "acme-prod"
WORKER = f"serviceAccount:infrabot-worker@{PROJECT}.iam.gserviceaccount.com"
WEB = f"serviceAccount:infrabot-web@{PROJECT}.iam.gserviceaccount.com"
DISCORD = f"serviceAccount:infrabot-discord@{PROJECT}.iam.gserviceaccount.com"

# Written out here, not read from the program: a change to who reads what must change this test too.
READS = {
    WEB: {"infrabot-redis-url", "infrabot-mongodb-url", "infrabot-slack-bot-token", "infrabot-slack-signing-secret"},
    WORKER: {"infrabot-redis-url", "infrabot-mongodb-url", "infrabot-pulumi-config-passphrase"},
    DISCORD: {"infrabot-redis-url", "infrabot-mongodb-url", "infrabot-discord-token"},
}


@pytest.fixture(scope="module")
def full() -> Evaluation:
    return evaluate_offline(DeployConfig(project=PROJECT, discord=True, mongodb="firestore"))


def of_type(evaluation: Evaluation, token: str) -> list[MockedResource]:
    return [r for r in evaluation.resources if r.type == token]


def one(evaluation: Evaluation, token: str, name: str) -> MockedResource:
    [found] = [r for r in of_type(evaluation, token) if r.name == name]
    return found


def mounted(resource: MockedResource) -> dict[str, str]:
    """Env var -> Secret Manager secret, for the one container of a Cloud Run service or worker pool."""
    [container] = resource.inputs["template"]["containers"]
    return {e["name"]: e["valueSource"]["secretKeyRef"]["secret"] for e in container["envs"] if "valueSource" in e}


def plain_env(resource: MockedResource) -> dict[str, Any]:
    [container] = resource.inputs["template"]["containers"]
    return {e["name"]: e["value"] for e in container["envs"] if "value" in e}


def test_only_the_worker_account_has_project_roles(full: Evaluation) -> None:
    grants = of_type(full, "gcp:projects/iAMMember:IAMMember")
    assert grants and {g.inputs["member"] for g in grants} == {WORKER}
    roles = {g.inputs["role"] for g in grants}
    assert {"roles/run.admin", "roles/cloudsql.admin", "roles/storage.admin"} <= roles
    assert "roles/owner" not in roles and "roles/editor" not in roles
    # Nothing else grants the chat accounts anything beyond reading their own secrets.
    for resource in full.resources:
        member = resource.inputs.get("member")
        if member in (WEB, DISCORD):
            assert resource.type == "gcp:secretmanager/secretIamMember:SecretIamMember", resource.name
            assert resource.inputs["role"] == "roles/secretmanager.secretAccessor"


def test_each_secret_is_readable_by_exactly_the_services_that_mount_it(full: Evaluation) -> None:
    readable: dict[str, set[str]] = {}
    for grant in of_type(full, "gcp:secretmanager/secretIamMember:SecretIamMember"):
        readable.setdefault(grant.inputs["member"], set()).add(grant.inputs["secretId"].rsplit("/", 1)[-1])
    assert readable == READS
    web = one(full, "gcp:cloudrunv2/service:Service", "infrabot-web")
    worker = one(full, "gcp:cloudrunv2/workerPool:WorkerPool", "infrabot-worker")
    discord = one(full, "gcp:cloudrunv2/workerPool:WorkerPool", "infrabot-discord")
    assert mounted(web) == {"REDIS_URL": "infrabot-redis-url", "MONGODB_URL": "infrabot-mongodb-url",
                            "SLACK_BOT_TOKEN": "infrabot-slack-bot-token",
                            "SLACK_SIGNING_SECRET": "infrabot-slack-signing-secret"}
    assert mounted(worker) == {"REDIS_URL": "infrabot-redis-url", "MONGODB_URL": "infrabot-mongodb-url",
                               "PULUMI_CONFIG_PASSPHRASE": "infrabot-pulumi-config-passphrase"}
    assert mounted(discord) == {"REDIS_URL": "infrabot-redis-url", "MONGODB_URL": "infrabot-mongodb-url",
                                "DISCORD_TOKEN": "infrabot-discord-token"}
    for service, member in ((web, WEB), (worker, WORKER), (discord, DISCORD)):
        assert f"serviceAccount:{service.inputs['template']['serviceAccount']}" == member
        assert set(mounted(service).values()) == READS[member]
    for chat in (web, discord):
        names = set(mounted(chat)) | set(plain_env(chat))
        assert not names & set(CLOUD_CREDENTIAL_VARS), chat.name


def test_front_is_always_on_and_the_worker_has_no_ingress(full: Evaluation) -> None:
    web = one(full, "gcp:cloudrunv2/service:Service", "infrabot-web")
    template = web.inputs["template"]
    assert template["scaling"]["minInstanceCount"] >= 1
    assert template["containers"][0]["resources"]["cpuIdle"] is False
    assert [s.name for s in of_type(full, "gcp:cloudrunv2/service:Service")] == ["infrabot-web"]
    worker = one(full, "gcp:cloudrunv2/workerPool:WorkerPool", "infrabot-worker")
    assert "ingress" not in worker.inputs and worker.inputs["scaling"]["manualInstanceCount"] >= 1
    assert plain_env(worker)["PULUMI_BACKEND_URL"] == f"gs://{PROJECT}-infrabot-pulumi-state"
    assert "PULUMI_BACKEND_URL" not in plain_env(web)


def test_state_bucket_registry_redis_and_direct_vpc_egress(full: Evaluation) -> None:
    bucket = one(full, "gcp:storage/bucket:Bucket", "infrabot-pulumi-state")
    assert bucket.inputs["publicAccessPrevention"] == "enforced" and bucket.inputs["versioning"]["enabled"]
    state_grant = one(full, "gcp:storage/bucketIAMMember:BucketIAMMember", "infrabot-worker-state")
    assert state_grant.inputs["member"] == WORKER
    assert one(full, "gcp:artifactregistry/repository:Repository", "infrabot-images").inputs["format"] == "DOCKER"
    network = one(full, "gcp:compute/network:Network", "infrabot-vpc")
    network_id = f"projects/{PROJECT}/global/networks/{network.inputs['name']}"
    redis = one(full, "gcp:redis/instance:Instance", "infrabot-redis")
    assert redis.inputs["authorizedNetwork"] == network_id and redis.inputs["authEnabled"]
    for resource in [*of_type(full, "gcp:cloudrunv2/service:Service"),
                     *of_type(full, "gcp:cloudrunv2/workerPool:WorkerPool")]:
        vpc = resource.inputs["template"]["vpcAccess"]
        assert vpc["egress"] == "PRIVATE_RANGES_ONLY" and vpc["networkInterfaces"][0]["network"] == network_id
    # The REDIS_URL secret's value comes from the instance; nothing else gets a version from the program.
    [version] = of_type(full, "gcp:secretmanager/secretVersion:SecretVersion")
    assert version.inputs["secret"].endswith("/infrabot-redis-url")
    firestore = one(full, "gcp:firestore/database:Database", "infrabot-mongodb")
    assert firestore.inputs["databaseEdition"] == "ENTERPRISE"


def test_without_slack_nothing_is_public_and_no_slack_secret_exists() -> None:
    quiet = evaluate_offline(DeployConfig(project=PROJECT, slack=False))
    assert not [r for r in quiet.resources if r.inputs.get("member") == "allUsers"]
    assert not [r for r in of_type(quiet, "gcp:secretmanager/secret:Secret") if "slack" in r.inputs["secretId"]]
    assert not of_type(quiet, "gcp:firestore/database:Database")
    public = evaluate_offline(DeployConfig(project=PROJECT))
    [invoker] = [r for r in public.resources if r.inputs.get("member") == "allUsers"]
    assert invoker.inputs["role"] == "roles/run.invoker" and invoker.inputs["name"] == "infrabot-web"


def test_min_instances_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one instance"):
        DeployConfig(project=PROJECT, web_min_instances=0)


def test_cost_grows_with_what_runs() -> None:
    base = monthly_cost(DeployConfig(project=PROJECT))
    assert 100 < base < 400
    assert monthly_cost(DeployConfig(project=PROJECT, workers=2)) > base
    assert monthly_cost(DeployConfig(project=PROJECT, discord=True)) > base


def deploy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in CLOUD_CREDENTIAL_VARS}
    env |= {"DATA_DIR": str(tmp_path / "data"), "ENGINE": "offline", "LOG_LEVEL": "WARNING"}
    return subprocess.run([INFRABOT, "deploy", *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=180)


def test_deploy_preview_json_is_the_plan_contract(tmp_path: Path) -> None:
    done = deploy(tmp_path, "--preview", "--json", "--project", PROJECT)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert set(plan) == {"engine", "resources", "summary", "monthly_cost_usd"}
    assert plan["engine"] == "offline" and plan["monthly_cost_usd"] == monthly_cost(DeployConfig(project=PROJECT))
    assert set(plan["summary"]) == {"create", "update", "delete", "replace"}
    assert plan["summary"]["create"] == len(plan["resources"]) > 20
    types = {r["type"] for r in plan["resources"]}
    assert {"gcp:cloudrunv2/service:Service", "gcp:cloudrunv2/workerPool:WorkerPool", "gcp:redis/instance:Instance",
            "gcp:storage/bucket:Bucket", "gcp:artifactregistry/repository:Repository"} <= types


def test_deploy_preview_text_and_refusals(tmp_path: Path) -> None:
    text = deploy(tmp_path, "--preview", "--project", PROJECT)
    assert text.returncode == 0, text.stderr
    assert "Cloud Run worker pool infrabot-worker" in text.stdout and "Estimated cost" in text.stdout
    assert "offline engine" in text.stdout
    no_state = deploy(tmp_path, "--project", PROJECT)
    assert no_state.returncode == 2 and "--state-url" in no_state.stderr
    zero = deploy(tmp_path, "--preview", "--web-min-instances", "0")
    assert zero.returncode == 2 and "at least one instance" in zero.stderr


def _own_program() -> None:
    """Stands in for infrabot's GCP program, which needs a provider plugin: it shows the config deploy set."""
    gcp = pulumi.Config("gcp")
    Bucket("state-bucket", {"location": gcp.require("region")})
    pulumi.export("project", gcp.require("project"))
    pulumi.export("region", gcp.require("region"))


def test_deploy_drives_the_real_pulumi_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cli_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    cfg = DeployConfig(project=PROJECT)
    with pytest.raises(EngineConfigError, match="PULUMI_CONFIG_PASSPHRASE"):
        up.deploy(cfg, state.as_uri(), program=_own_program)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "operator-passphrase")
    lines: list[str] = []
    outputs = up.deploy(cfg, state.as_uri(), on_output=lines.append, program=_own_program)
    assert outputs == {"project": PROJECT, "region": "us-central1"}
    assert any("created" in line for line in lines)
    assert "Pulumi.yaml" not in os.listdir(tmp_path), "the stack's work dir is Pulumi's own temp dir"
    again = up.deploy(cfg, state.as_uri(), on_output=lines.append, program=_own_program)
    assert again == outputs  # the same stack, selected again, not a second one
    assert list((state / ".pulumi" / "stacks").rglob("prod.json")), "the stack lives in the given state URL"
