"""The rules a real `pulumi up` enforces, checked on the mocked program's resource arguments:
APIs, HA backups, disk size, destroy order, subscriptions, the queue's consumer, Redis AUTH/TLS,
least-privilege grants, subnet size, storage growth."""

from __future__ import annotations

import re

import pytest

from core.spec import Component, InfraSpec
from infra import mocks, shared_network
from infra.components import apis, sql
from infra.components.network import NetworkMissing
from infra.mocks import Evaluation, MockedResource, evaluate
from infra.program import make_program

PROJECT = "acme-test"
API = "gcp:projects/service:Service"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS = "gcp:redis/instance:Instance"
SUB = "gcp:pubsub/subscription:Subscription"
RUN = "gcp:cloudrunv2/service:Service"
FULL = ("service", "postgres", "mysql", "redis", "bucket", "queue", "secret", "registry")


def run(*kinds: str, env: str = "dev", size: str = "small") -> Evaluation:
    spec = InfraSpec(app="shop", environment=env, size=size, components=[Component(kind=k) for k in kinds])
    return evaluate(make_program(spec), project=PROJECT, region=spec.region, stack=spec.stack_name)


def of_type(ev: Evaluation, token: str) -> list[MockedResource]:
    return [r for r in ev.resources if r.type == token]


def one(ev: Evaluation, token: str) -> MockedResource:
    found = of_type(ev, token)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def named(ev: Evaluation, name: str) -> MockedResource:
    return next(r for r in ev.resources if r.name == name)


@pytest.fixture(scope="module")
def full() -> Evaluation:
    return run(*FULL)


# --- APIs -----------------------------------------------------------------------------------------

def test_every_api_a_fresh_project_needs_is_enabled_and_never_disabled(full: Evaluation) -> None:
    enabled = {r.inputs["service"]: r.inputs for r in of_type(full, API)}
    assert set(enabled) == {
        "sqladmin.googleapis.com", "redis.googleapis.com", "run.googleapis.com", "iam.googleapis.com",
        "pubsub.googleapis.com", "secretmanager.googleapis.com", "artifactregistry.googleapis.com",
        "storage.googleapis.com", "cloudresourcemanager.googleapis.com",
    }
    for service in enabled.values():
        assert service["disableOnDestroy"] is False
        assert service["project"] == PROJECT


def test_only_the_apis_the_components_use_are_enabled() -> None:
    assert {r.inputs["service"] for r in of_type(run("bucket"), API)} == {"storage.googleapis.com"}
    assert {r.inputs["service"] for r in of_type(run("queue"), API)} == {"pubsub.googleapis.com"}
    # Resource Manager only for the project-level database grant, which only a service gets.
    assert {r.inputs["service"] for r in of_type(run("postgres"), API)} == {apis.SQL_ADMIN, apis.SECRET_MANAGER}


def test_every_resource_that_calls_an_api_waits_for_it() -> None:
    """Checked on the options Pulumi receives: each resource of a kind depends on its API."""
    import pulumi

    seen: dict[str, list[str]] = {}
    original = pulumi.CustomResource.__init__

    def spy(self: pulumi.CustomResource, t: str, name: str, props: object = None,
            opts: pulumi.ResourceOptions | None = None, *args: object, **kwargs: object) -> None:
        deps = (opts.depends_on if opts and isinstance(opts.depends_on, list) else []) or []
        seen[name] = [getattr(d, "_name", "") for d in deps]
        original(self, t, name, props, opts, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(pulumi.CustomResource, "__init__", spy)
    try:
        run(*FULL)
    finally:
        mp.undo()
    expected = {
        "shop-dev-pg": "shop-dev-api-sqladmin",
        "shop-dev-mysql": "shop-dev-api-sqladmin",
        "shop-dev-redis": "shop-dev-api-redis",
        "shop-dev-svc": "shop-dev-api-run",
        "shop-dev-svc-sa": "shop-dev-api-iam",
        "shop-dev-queue": "shop-dev-api-pubsub",
        "shop-dev-queue-sub": "shop-dev-api-pubsub",
        "shop-dev-pubsub-agent": "shop-dev-api-pubsub",
        "shop-dev-secret": "shop-dev-api-secretmanager",
        "shop-dev-redis-auth": "shop-dev-api-secretmanager",
        "shop-dev-registry": "shop-dev-api-artifactregistry",
        "shop-dev-bucket": "shop-dev-api-storage",
        "shop-dev-svc-pg-sql-client": "shop-dev-api-cloudresourcemanager",
    }
    for resource, api in expected.items():
        assert api in seen[resource], (resource, seen[resource])


def test_pubsub_agent_exists_before_it_is_granted_roles(full: Evaluation) -> None:
    agent = one(full, "gcp:projects/serviceIdentity:ServiceIdentity")
    assert agent.inputs["service"] == apis.PUBSUB
    granted = [r for r in full.resources if r.inputs.get("member") == agent.outputs["member"]]
    assert {r.name for r in granted} == {
        "shop-dev-queue-dlq-agent-pub", "shop-dev-queue-sub-agent", "shop-dev-push-token"
    }


# --- Cloud SQL ------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
@pytest.mark.parametrize("kind, log", [("postgres", "pointInTimeRecoveryEnabled"), ("mysql", "binaryLogEnabled")])
def test_regional_databases_have_backups_and_their_log_in_every_environment(env: str, kind: str, log: str) -> None:
    settings = one(run(kind, env=env, size="large"), SQL).inputs["settings"]
    assert settings["availabilityType"] == "REGIONAL"
    backup = settings["backupConfiguration"]
    assert backup["enabled"] is True and backup[log] is True and backup["startTime"]


def test_zonal_databases_outside_prod_skip_backups() -> None:
    assert one(run("postgres", env="staging", size="medium"), SQL).inputs["settings"]["backupConfiguration"] == {
        "enabled": False
    }


def test_disk_size_is_left_to_autoresize_after_creation() -> None:
    import pulumi

    captured: dict[str, pulumi.ResourceOptions] = {}
    original = pulumi.CustomResource.__init__

    def spy(self: pulumi.CustomResource, t: str, name: str, props: object = None,
            opts: pulumi.ResourceOptions | None = None, *args: object, **kwargs: object) -> None:
        if t == SQL and opts is not None:
            captured[name] = opts
        original(self, t, name, props, opts, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(pulumi.CustomResource, "__init__", spy)
    try:
        ev = run("postgres")
    finally:
        mp.undo()
    assert one(ev, SQL).inputs["settings"]["diskAutoresize"] is True
    assert "settings.diskSize" in (captured["shop-dev-pg"].ignore_changes or [])


def test_mysql_defaults_to_a_version_in_standard_support() -> None:
    assert one(run("mysql"), SQL).inputs["databaseVersion"] == "MYSQL_8_4"
    assert sql.VERSIONS["mysql"] == "MYSQL_8_4"


# --- network and destroy --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared() -> Evaluation:
    program = shared_network.make_network_program(PROJECT, "staging", ["us-central1", "europe-west1"])
    return evaluate(program, project=PROJECT, region="us-central1", stack="infrabot-net-staging")


def test_shared_network_stack_holds_network_subnets_and_peering(shared: Evaluation) -> None:
    net = one(shared, "gcp:compute/network:Network").inputs
    assert net["name"] == "infrabot-staging" and net["autoCreateSubnetworks"] is False
    subnets = {
        r.inputs["region"]: r.inputs["ipCidrRange"] for r in of_type(shared, "gcp:compute/subnetwork:Subnetwork")
    }
    assert subnets == {"us-central1": "10.64.0.0/18", "europe-west1": "10.68.0.0/18"}
    peering = one(shared, "gcp:compute/globalAddress:GlobalAddress").inputs
    assert (peering["name"], peering["address"], peering["prefixLength"]) == (
        "infrabot-staging-psa", "10.200.0.0", 16
    )
    assert {r.inputs["service"] for r in of_type(shared, API)} == {apis.COMPUTE, apis.SERVICE_NETWORKING}
    assert all(r.inputs["disableOnDestroy"] is False for r in of_type(shared, API))


def test_private_services_connection_can_be_deleted_while_producers_linger(shared: Evaluation) -> None:
    connection = one(shared, "gcp:servicenetworking/connection:Connection").inputs
    assert connection["deletionPolicy"] == "REMOVE_PEERING"
    assert connection["reservedPeeringRanges"] == ["infrabot-staging-psa"]


def test_app_destroy_never_touches_the_network() -> None:
    owned = {r.type for r in run(*FULL).resources}
    assert not [t for t in owned if t.startswith("gcp:compute/") or t.startswith("gcp:servicenetworking/")]


def test_subnet_fits_direct_vpc_egress_for_several_of_the_largest_apps() -> None:
    # 10 large services x 50 instances x 2, in blocks of 16, is one app's worst case.
    assert shared_network.largest_app_egress() == 10 * 112
    assert shared_network.subnet_capacity() >= 10 * shared_network.largest_app_egress()
    assert shared_network.egress_addresses_needed(3) == 16
    assert len({shared_network.subnet_cidr(r) for r in shared_network.REGIONS}) == len(shared_network.REGIONS)


def test_a_missing_network_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    original = mocks.InfraMocks.call

    def no_network(self: mocks.InfraMocks, args: object) -> object:
        if getattr(args, "token", "") == "gcp:compute/getNetwork:getNetwork":
            # How the provider reports it: the invoke fails.
            return {}, [("name", "googleapi: Error 404: The resource 'infrabot-dev' was not found")]
        return original(self, args)  # type: ignore[arg-type]

    monkeypatch.setattr(mocks.InfraMocks, "call", no_network)
    with pytest.raises(NetworkMissing, match=re.escape("python -m infra.network_cli dev --region us-central1 --apply")):
        run("postgres")
    run("bucket")  # components without private addressing need no network


# --- Pub/Sub --------------------------------------------------------------------------------------

def test_subscriptions_never_expire_and_dead_letters_are_kept_longest(full: Evaluation) -> None:
    subs = {r.name: r.inputs for r in of_type(full, SUB)}
    assert set(subs) == {"shop-dev-queue-sub", "shop-dev-queue-dlq-sub"}
    for inputs in subs.values():
        assert inputs["expirationPolicy"] == {"ttl": ""}
    assert subs["shop-dev-queue-dlq-sub"]["messageRetentionDuration"] == "2678400s"


def test_queue_pushes_to_the_service_with_an_oidc_token(full: Evaluation) -> None:
    sub = named(full, "shop-dev-queue-sub").inputs
    service = one(full, RUN)
    pusher = named(full, "shop-dev-push-sa")
    push = sub["pushConfig"]
    assert push["pushEndpoint"] == f"{service.outputs['uri']}/pubsub/queue"
    assert push["oidcToken"] == {"serviceAccountEmail": pusher.outputs["email"], "audience": service.outputs["uri"]}
    invoker = named(full, "shop-dev-push-invoker").inputs
    assert invoker["role"] == "roles/run.invoker" and invoker["member"] == pusher.outputs["member"]
    assert invoker["name"] == service.outputs["name"]
    envs = {e["name"]: e.get("value") for e in service.inputs["template"]["containers"][0]["envs"]}
    assert envs["QUEUE_PUSH_PATH"] == "/pubsub/queue"


def test_queue_without_a_service_stays_pull() -> None:
    ev = run("queue")
    assert "pushConfig" not in named(ev, "shop-dev-queue-sub").inputs
    assert not [r for r in ev.resources if r.name == "shop-dev-push-sa"]


# --- Redis ----------------------------------------------------------------------------------------

def test_redis_has_auth_and_tls_and_hands_both_over_through_secret_manager(full: Evaluation) -> None:
    redis = one(full, REDIS)
    assert redis.inputs["authEnabled"] is True
    assert redis.inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    auth_v, ca_v = named(full, "shop-dev-redis-auth-v"), named(full, "shop-dev-redis-ca-v")
    assert auth_v.inputs["secretData"]["value"] == redis.outputs["authString"]
    assert auth_v.inputs["secret"] == named(full, "shop-dev-redis-auth").outputs["id"]
    assert "BEGIN CERTIFICATE" in str(ca_v.inputs["secretData"])
    envs = {e["name"]: e for e in one(full, RUN).inputs["template"]["containers"][0]["envs"]}
    assert envs["REDIS_AUTH"]["valueSource"]["secretKeyRef"] == {"secret": "shop-dev-redis-auth", "version": "latest"}
    assert envs["REDIS_CA_CERT"]["valueSource"]["secretKeyRef"] == {"secret": "shop-dev-redis-ca", "version": "latest"}
    assert envs["REDIS_TLS"]["value"] == "true" and envs["REDIS_PORT"]["value"] == "6378"
    assert redis.outputs["authString"] not in str(full.outputs)


# --- IAM ------------------------------------------------------------------------------------------

def test_cloudsql_client_is_conditioned_on_each_instance(full: Evaluation) -> None:
    grants = [r for r in full.resources if r.inputs.get("role") == "roles/cloudsql.client"]
    instances = {r.name: r.outputs["name"] for r in of_type(full, SQL)}
    assert len(grants) == len(instances) == 2
    expressions = {g.inputs["condition"]["expression"] for g in grants}
    assert expressions == {
        f'resource.type == "sqladmin.googleapis.com/Instance" && resource.name == "projects/{PROJECT}/instances/{n}"'
        for n in instances.values()
    }
    assert all(g.inputs["condition"]["title"] for g in grants)


def test_runtime_account_has_no_registry_access(full: Evaluation) -> None:
    assert not [r for r in full.resources if "artifactregistry.reader" in str(r.inputs.get("role"))]
    assert not [r for r in full.resources if r.type.startswith("gcp:artifactregistry/repositoryIam")]


# --- storage growth -------------------------------------------------------------------------------

def test_prod_buckets_expire_old_versions() -> None:
    prod = one(run("bucket", env="prod"), "gcp:storage/bucket:Bucket").inputs
    assert prod["versioning"] == {"enabled": True}
    conditions = [rule["condition"] for rule in prod["lifecycleRules"]]
    assert all(rule["action"] == {"type": "Delete"} for rule in prod["lifecycleRules"])
    assert {"daysSinceNoncurrentTime": 30} in conditions and {"numNewerVersions": 5} in conditions
    assert not one(run("bucket"), "gcp:storage/bucket:Bucket").inputs.get("lifecycleRules")


def test_registry_has_a_cleanup_policy() -> None:
    repo = one(run("registry"), "gcp:artifactregistry/repository:Repository").inputs
    policies = {p["id"]: p for p in repo["cleanupPolicies"]}
    assert policies["keep-recent"]["action"] == "KEEP"
    assert policies["keep-recent"]["mostRecentVersions"] == {"keepCount": 10}
    assert policies["delete-untagged"]["condition"] == {"tagState": "UNTAGGED", "olderThan": "1209600s"}
    assert repo["cleanupPolicyDryRun"] is False


# --- README ---------------------------------------------------------------------------------------

README_API_NAMES = {
    apis.COMPUTE: "Compute Engine", apis.SERVICE_NETWORKING: "Service Networking", apis.SQL_ADMIN: "Cloud SQL Admin",
    apis.REDIS: "Memorystore for Redis", apis.RUN: "Cloud Run", apis.IAM: "IAM", apis.PUBSUB: "Pub/Sub",
    apis.SECRET_MANAGER: "Secret Manager", apis.ARTIFACT_REGISTRY: "Artifact Registry",
    apis.STORAGE: "Cloud Storage", apis.RESOURCE_MANAGER: "Cloud Resource Manager",
}


def test_readme_names_every_api_the_programs_enable(full: Evaluation, shared: Evaluation) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## What a real project needs", 1)[1].split("\n## ", 1)[0]
    bullet = " ".join(next(b for b in section.split("\n- ") if b.startswith("**APIs**")).split())
    enabled = {r.inputs["service"] for r in of_type(full, API) + of_type(shared, API)}
    assert enabled <= set(README_API_NAMES), f"name the new API in the README: {enabled - set(README_API_NAMES)}"
    assert [api for api in enabled if README_API_NAMES[api] not in bullet] == []
