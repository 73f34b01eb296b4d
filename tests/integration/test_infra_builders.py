"""Each component builder evaluated under Pulumi's mock runtime: types and the arguments that matter."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.runtime.rpc import _special_secret_sig

from core.spec import Component, InfraSpec
from infra.mocks import Evaluation, MockedResource, evaluate
from infra.program import make_program

PROJECT = "acme-test"
SA = "gcp:serviceaccount/account:Account"
RUN = "gcp:cloudrunv2/service:Service"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS = "gcp:redis/instance:Instance"
BUCKET = "gcp:storage/bucket:Bucket"
TOPIC = "gcp:pubsub/topic:Topic"
SUB = "gcp:pubsub/subscription:Subscription"
SECRET = "gcp:secretmanager/secret:Secret"
VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
NETWORK = "gcp:compute/network:Network"
RANGE = "gcp:compute/globalAddress:GlobalAddress"
PSA = "gcp:servicenetworking/connection:Connection"


def run(*kinds: str, env: str = "dev", config: dict[str, str] | None = None, **extra: Any) -> Evaluation:
    spec = InfraSpec(
        app="shop",
        environment=env,
        components=[Component(kind=k) for k in kinds],
        requested_by="Bob",
        **extra,
    )
    return evaluate(make_program(spec), project=PROJECT, region=spec.region, stack=spec.stack_name, config=config)


def of_type(ev: Evaluation, token: str) -> list[MockedResource]:
    return [r for r in ev.resources if r.type == token]


def one(ev: Evaluation, token: str) -> MockedResource:
    found = of_type(ev, token)
    assert len(found) == 1, f"expected one {token}, got {[r.name for r in found]}"
    return found[0]


def named(ev: Evaluation, name: str) -> MockedResource:
    return next(r for r in ev.resources if r.name == name)


def env_vars(ev: Evaluation) -> dict[str, dict[str, Any]]:
    container = one(ev, RUN).inputs["template"]["containers"][0]
    return {e["name"]: e for e in container.get("envs", [])}


EXPECTED_LABELS = {"app": "shop", "env": "dev", "managed-by": "infrabot", "requested-by": "bob"}


@pytest.mark.parametrize("env, protected", [("dev", False), ("staging", False), ("prod", True)])
def test_service_deletion_protection_only_in_prod(env: str, protected: bool) -> None:
    ev = run("service", env=env)
    service = one(ev, RUN)
    assert service.inputs["deletionProtection"] is protected
    assert service.inputs["labels"]["env"] == env


def test_service_has_its_own_account_and_placeholder_image() -> None:
    ev = run("service")
    account = one(ev, SA)
    assert 6 <= len(account.inputs["accountId"]) <= 30
    service = one(ev, RUN)
    template = service.inputs["template"]
    assert template["serviceAccount"] == f"{account.inputs['accountId']}@{PROJECT}.iam.gserviceaccount.com"
    assert template["containers"][0]["image"] == "us-docker.pkg.dev/cloudrun/container/hello"
    assert template["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
    assert template["scaling"]["maxInstanceCount"] == 3
    assert service.inputs["labels"] == EXPECTED_LABELS
    # No private network is needed for a lone service, and nobody gets public access by default.
    assert "vpcAccess" not in template
    assert not of_type(ev, NETWORK)
    assert not of_type(ev, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember")


def test_public_invoker_is_opt_in() -> None:
    spec = InfraSpec(app="shop", components=[Component(kind="service")])
    ev = evaluate(make_program(spec, public_services=True), project=PROJECT, region=spec.region, stack="s")
    member = one(ev, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert member.inputs["member"] == "allUsers"
    assert member.inputs["role"] == "roles/run.invoker"


@pytest.mark.parametrize("kind, version", [("postgres", "POSTGRES_16"), ("mysql", "MYSQL_8_4")])
def test_sql_instance_private_ip_database_user(kind: str, version: str) -> None:
    ev = run(kind)
    instance = one(ev, SQL)
    settings = instance.inputs["settings"]
    assert instance.inputs["databaseVersion"] == version
    assert instance.inputs["deletionProtection"] is False
    assert settings["tier"] == "db-f1-micro"
    assert settings["edition"] == "ENTERPRISE"
    assert settings["ipConfiguration"]["ipv4Enabled"] is False
    assert settings["ipConfiguration"]["privateNetwork"] == f"projects/{PROJECT}/global/networks/infrabot-dev"
    assert settings["userLabels"] == EXPECTED_LABELS
    assert settings["backupConfiguration"]["enabled"] is False
    instance_name = instance.outputs["name"]
    assert one(ev, "gcp:sql/database:Database").inputs == {"name": "shop", "instance": instance_name}
    user = one(ev, "gcp:sql/user:User")
    assert user.inputs["instance"] == instance_name
    # The password reaches the provider only as a Pulumi secret.
    assert _is_secret(user.inputs["password"])


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and _special_secret_sig in value.values()


def test_sql_prod_has_backups_and_deletion_protection() -> None:
    ev = run("postgres", env="prod")
    instance = one(ev, SQL)
    settings = instance.inputs["settings"]
    assert instance.inputs["deletionProtection"] is True
    assert settings["deletionProtectionEnabled"] is True
    assert settings["backupConfiguration"]["enabled"] is True
    assert settings["backupConfiguration"]["pointInTimeRecoveryEnabled"] is True
    mysql = one(run("mysql", env="prod"), SQL).inputs["settings"]["backupConfiguration"]
    assert mysql["binaryLogEnabled"] is True


def test_sql_size_maps_to_tier() -> None:
    spec = InfraSpec(app="shop", components=[Component(kind="postgres", size="large")])
    ev = evaluate(make_program(spec), project=PROJECT, region=spec.region, stack="s")
    settings = one(ev, SQL).inputs["settings"]
    assert settings["tier"] == "db-custom-8-30720"
    assert settings["availabilityType"] == "REGIONAL"
    assert settings["diskSize"] == 200


def test_db_password_is_a_random_resource_stored_in_secret_manager_and_never_exported() -> None:
    # A password in stack config is no longer read: the only source is the RandomPassword resource.
    ev = run("service", "postgres", config={"infrabot:dbPassword": "Known-Pa55word-xyz"})
    generated = one(ev, "random:index/randomPassword:RandomPassword")
    assert generated.inputs["length"] >= 32 and generated.inputs["special"] is False
    user = one(ev, "gcp:sql/user:User")
    version = one(ev, VERSION)
    assert _is_secret(user.inputs["password"])
    assert _is_secret(version.inputs["secretData"])
    assert user.inputs["password"]["value"] == generated.outputs["result"]
    assert version.inputs["secretData"]["value"] == generated.outputs["result"]
    assert "Known-Pa55word-xyz" not in json.dumps([r.inputs for r in ev.resources], default=str)
    secret = named(ev, "shop-dev-pg-password")
    assert version.inputs["secret"] == secret.outputs["id"]
    assert generated.outputs["result"] not in json.dumps(ev.outputs)
    assert ev.outputs["pg_password_secret"] == f"projects/{PROJECT}/secrets/shop-dev-pg-password"
    # The service reads it through a Secret Manager reference, not a literal value.
    password_env = env_vars(ev)["DB_PASSWORD"]
    assert "value" not in password_env
    assert password_env["valueSource"]["secretKeyRef"] == {
        "secret": "shop-dev-pg-password",
        "version": "latest",
    }


def test_redis_private_service_access_on_shared_network() -> None:
    ev = run("redis", "postgres", env="prod")
    redis = one(ev, REDIS)
    network = f"projects/{PROJECT}/global/networks/infrabot-prod"
    assert redis.inputs["connectMode"] == "PRIVATE_SERVICE_ACCESS"
    assert redis.inputs["authorizedNetwork"] == network
    assert redis.inputs["reservedIpRange"] == "infrabot-prod-psa"
    assert redis.inputs["tier"] == "BASIC" and redis.inputs["memorySizeGb"] == 1  # the floor is policy's job
    assert redis.inputs["deletionProtection"] is True
    assert redis.inputs["labels"]["env"] == "prod"
    # One network for both, and the app owns none of it: Cloud SQL private IP uses the same VPC.
    assert one(ev, SQL).inputs["settings"]["ipConfiguration"]["privateNetwork"] == network
    assert not of_type(ev, NETWORK) and not of_type(ev, RANGE) and not of_type(ev, PSA)


def test_bucket_private_uniform_and_versioned_in_prod() -> None:
    dev = one(run("bucket"), BUCKET).inputs
    prod = one(run("bucket", env="prod"), BUCKET).inputs
    for bucket in (dev, prod):
        assert bucket["uniformBucketLevelAccess"] is True
        assert bucket["publicAccessPrevention"] == "enforced"
        assert 3 <= len(bucket["name"]) <= 63
    assert dev["versioning"] == {"enabled": False} and dev["forceDestroy"] is True
    assert prod["versioning"] == {"enabled": True} and prod["forceDestroy"] is False
    assert dev["labels"] == EXPECTED_LABELS
    assert dev["name"] != prod["name"]
    assert dev["name"] == one(run("bucket"), BUCKET).inputs["name"], "bucket name must be stable"


def test_bucket_name_depends_on_project() -> None:
    spec = InfraSpec(app="shop", components=[Component(kind="bucket")])
    names = {
        one(evaluate(make_program(spec), project=p, region=spec.region, stack="s"), BUCKET).inputs["name"]
        for p in ("proj-a", "proj-b")
    }
    assert len(names) == 2


def test_queue_dead_letter_policy_and_agent_permissions() -> None:
    ev = run("queue")
    topic, dlq = named(ev, "shop-dev-queue"), named(ev, "shop-dev-queue-dlq")
    assert {r.name for r in of_type(ev, TOPIC)} == {topic.name, dlq.name}
    sub = named(ev, "shop-dev-queue-sub")
    assert sub.inputs["topic"] == topic.outputs["id"]
    policy = sub.inputs["deadLetterPolicy"]
    assert policy["deadLetterTopic"] == dlq.outputs["id"]
    assert policy["maxDeliveryAttempts"] == 5
    assert named(ev, "shop-dev-queue-dlq-sub").inputs["topic"] == dlq.outputs["id"]
    assert topic.inputs["labels"] == EXPECTED_LABELS
    agent_pub = named(ev, "shop-dev-queue-dlq-agent-pub").inputs
    agent_sub = named(ev, "shop-dev-queue-sub-agent").inputs
    assert agent_pub["topic"] == "shop-dev-queue-dlq" and agent_pub["role"] == "roles/pubsub.publisher"
    assert agent_sub["subscription"] == "shop-dev-queue-sub" and agent_sub["role"] == "roles/pubsub.subscriber"
    assert agent_pub["member"].startswith("serviceAccount:service-")
    assert agent_pub["member"].endswith("@gcp-sa-pubsub.iam.gserviceaccount.com")


def test_secret_and_registry() -> None:
    ev = run("secret", "registry")
    secret = one(ev, SECRET)
    assert secret.inputs["replication"] == {"auto": {}}
    assert secret.inputs["labels"] == EXPECTED_LABELS
    assert not of_type(ev, VERSION), "an app secret starts empty; the team sets its value"
    repo = one(ev, "gcp:artifactregistry/repository:Repository")
    assert repo.inputs["format"] == "DOCKER"
    assert repo.inputs["location"] == "us-central1"
    assert ev.outputs["registry_url"] == f"us-central1-docker.pkg.dev/{PROJECT}/{repo.inputs['repositoryId']}"
    assert ev.outputs["secret_name"] == f"projects/{PROJECT}/secrets/{secret.inputs['secretId']}"


def test_explicit_provider_carries_project_and_region() -> None:
    ev = run("bucket", region="europe-west1")
    provider = one(ev, "pulumi:providers:gcp")
    assert provider.inputs["project"] == PROJECT
    assert provider.inputs["region"] == "europe-west1"
    assert one(ev, BUCKET).inputs["location"] == "EUROPE-WEST1"
