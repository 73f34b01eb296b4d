"""The whole app program: resource graph, IAM wiring, counts, GCP name limits, labels, speed."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from core.spec import Component, InfraSpec
from infra import naming
from infra.mocks import Evaluation, MockedResource, evaluate
from infra.program import DEFAULT_GCP_PROJECT, gcp_project, make_program

PROJECT = "acme-test"
FULL = ("service", "postgres", "redis", "bucket", "queue", "secret", "registry")


def run(spec: InfraSpec, project: str = PROJECT) -> Evaluation:
    return evaluate(make_program(spec), project=project, region=spec.region, stack=spec.stack_name)


def env_names(resource: MockedResource) -> set[str]:
    return {e["name"] for e in resource.inputs["template"]["containers"][0]["envs"]}


def full_spec(**extra: object) -> InfraSpec:
    return InfraSpec(app="shop", environment="staging", components=[Component(kind=k) for k in FULL], **extra)


def test_full_app_graph() -> None:
    ev = run(full_spec())
    counts = Counter(r.type.split(":")[1] for r in ev.resources if not r.type.startswith("pulumi:"))
    assert counts == {
        "projects/service": 9,
        "projects/serviceIdentity": 1,
        "index/randomPassword": 1,
        "cloudrunv2/service": 1,
        "cloudrunv2/serviceIamMember": 1,  # the queue's push identity may invoke the service
        "serviceaccount/account": 2,  # the service's own, and the queue's push identity
        "serviceaccount/iAMMember": 1,
        "sql/databaseInstance": 1,
        "sql/database": 1,
        "sql/user": 1,
        "secretmanager/secret": 4,
        "secretmanager/secretVersion": 3,
        "secretmanager/secretIamMember": 4,
        "redis/instance": 1,
        "storage/bucket": 1,
        "storage/bucketIAMMember": 1,
        "pubsub/topic": 2,
        "pubsub/subscription": 2,
        "pubsub/topicIAMMember": 2,
        "pubsub/subscriptionIAMMember": 1,
        "artifactregistry/repository": 1,
        "projects/iAMMember": 1,
    }
    assert len({(r.type, r.name) for r in ev.resources}) == len(ev.resources)


def test_service_account_is_granted_exactly_what_it_needs() -> None:
    ev = run(full_spec())
    email = next(r for r in ev.resources if r.name == "shop-staging-svc-sa").outputs["email"]
    member = f"serviceAccount:{email}"
    grants = {r.name: r.inputs for r in ev.resources if r.inputs.get("member") == member}
    targets = ("bucket", "topic", "subscription", "secretId", "repository", "project")
    by_role = {(g["role"], next(g[t] for t in targets if t in g)) for g in grants.values()}
    secret_ids = {r.name: r.outputs["id"] for r in ev.resources if r.type.endswith("secret:Secret")}
    bucket = next(r for r in ev.resources if r.type.endswith("bucket:Bucket")).outputs["name"]
    # No registry reader (Cloud Run's agent pulls images) and no subscriber (the queue pushes).
    assert by_role == {
        ("roles/cloudsql.client", PROJECT),
        ("roles/storage.objectAdmin", bucket),
        ("roles/pubsub.publisher", "shop-staging-queue"),
        ("roles/secretmanager.secretAccessor", secret_ids["shop-staging-pg-password"]),
        ("roles/secretmanager.secretAccessor", secret_ids["shop-staging-redis-auth"]),
        ("roles/secretmanager.secretAccessor", secret_ids["shop-staging-redis-ca"]),
        ("roles/secretmanager.secretAccessor", secret_ids["shop-staging-secret"]),
    }
    instance = next(r for r in ev.resources if r.type.endswith("databaseInstance:DatabaseInstance"))
    sql_client = next(g for g in grants.values() if g["role"] == "roles/cloudsql.client")
    assert f'resource.name == "projects/{PROJECT}/instances/{instance.outputs["name"]}"' in (
        sql_client["condition"]["expression"]
    )


def test_service_environment_and_network() -> None:
    ev = run(full_spec())
    service = next(r for r in ev.resources if r.type == "gcp:cloudrunv2/service:Service")
    envs = {e["name"]: e.get("value") for e in service.inputs["template"]["containers"][0]["envs"]}
    instance = next(r for r in ev.resources if r.type.endswith("databaseInstance:DatabaseInstance"))
    redis = next(r for r in ev.resources if r.type == "gcp:redis/instance:Instance")
    bucket = next(r for r in ev.resources if r.type.endswith("bucket:Bucket"))
    assert envs["DB_CONNECTION_NAME"] == instance.outputs["connectionName"]
    assert envs["DB_CONNECTION_NAME"] == f"{PROJECT}:us-central1:{instance.outputs['name']}"
    assert envs["DB_HOST"] == instance.outputs["privateIpAddress"]
    assert envs["DB_NAME"] == "shop" and envs["DB_USER"] == "shop"
    assert envs["DB_PASSWORD"] is None
    assert envs["BUCKET"] == bucket.outputs["name"]
    assert envs["TOPIC"] == "shop-staging-queue"
    assert envs["REDIS_HOST"] == redis.outputs["host"] and envs["REDIS_PORT"] == "6378"
    assert envs["APP_SECRET_NAME"] == f"projects/{PROJECT}/secrets/shop-staging-secret"
    vpc = service.inputs["template"]["vpcAccess"]
    # The environment's shared network, looked up rather than owned by the app.
    assert vpc["networkInterfaces"][0] == {
        "network": f"projects/{PROJECT}/global/networks/infrabot-staging",
        "subnetwork": f"projects/{PROJECT}/regions/us-central1/subnetworks/infrabot-staging-us-central1",
    }
    assert not [r for r in ev.resources if r.type.startswith("gcp:compute/")]
    assert vpc["egress"] == "PRIVATE_RANGES_ONLY"


def test_stack_outputs_are_references_not_secrets() -> None:
    ev = run(full_spec())
    out = ev.outputs
    assert out["svc_url"].startswith("https://shop-staging-svc-") and out["svc_url"].endswith(".run.app")
    assert out["pg_connection_name"].startswith(f"{PROJECT}:us-central1:shop-staging-pg")
    assert out["bucket_name"].startswith("shop-staging-")
    assert out["queue_topic"] == "shop-staging-queue"
    assert re.fullmatch(r"10\.\d+\.\d+\.\d+", out["redis_host"])
    for key in ("pg_password_secret", "secret_name"):
        assert re.fullmatch(rf"projects/{PROJECT}/secrets/[a-z0-9-]+", out[key])
    assert not ev.secret_outputs


def test_counts_create_numbered_resources() -> None:
    spec = InfraSpec(
        app="shop",
        components=[
            Component(kind="bucket", count=2),
            Component(kind="service", count=2),
            Component(kind="queue"),
        ],
    )
    ev = run(spec)
    buckets = [r for r in ev.resources if r.type == "gcp:storage/bucket:Bucket"]
    assert sorted(r.name for r in buckets) == ["shop-dev-bucket", "shop-dev-bucket-2"]
    assert len({r.inputs["name"] for r in buckets}) == 2
    services = sorted(r.name for r in ev.resources if r.type == "gcp:cloudrunv2/service:Service")
    assert services == ["shop-dev-svc", "shop-dev-svc-2"]
    accounts = {r.inputs["accountId"] for r in ev.resources if r.type == "gcp:serviceaccount/account:Account"}
    assert len(accounts) == 3  # two services and the queue's push identity
    # Each service's own account gets both buckets and the queue.
    for base in ("svc", "svc-2"):
        prefix = f"shop-dev-{base}-"
        owned = {r.name.removeprefix(prefix) for r in ev.resources if r.name.startswith(prefix)}
        # shop-dev-svc-2-* belong to the second service, not the first.
        assert {g for g in owned if base != "svc" or not (g == "2" or g.startswith("2-"))} == {
            "sa",
            "bucket-objects",
            "bucket-2-objects",
            "queue-publish",
        }
    envs = env_names(next(r for r in ev.resources if r.name == "shop-dev-svc"))
    assert {"BUCKET", "BUCKET_2", "TOPIC"} <= envs


def test_separate_components_of_one_kind_number_together() -> None:
    spec = InfraSpec(app="shop", components=[Component(kind="bucket"), Component(kind="bucket", size="large")])
    names = sorted(r.name for r in run(spec).resources if r.type == "gcp:storage/bucket:Bucket")
    assert names == ["shop-dev-bucket", "shop-dev-bucket-2"]


def test_postgres_and_mysql_together_keep_env_apart() -> None:
    spec = InfraSpec(app="shop", components=[Component(kind=k) for k in ("service", "postgres", "mysql")])
    ev = run(spec)
    envs = env_names(next(r for r in ev.resources if r.type == "gcp:cloudrunv2/service:Service"))
    # The first database the spec lists owns DB_*; the other kind gets its own prefix.
    assert {"DB_CONNECTION_NAME", "MYSQL_CONNECTION_NAME", "DB_PASSWORD", "MYSQL_PASSWORD"} <= envs
    networks = {r.inputs["settings"]["ipConfiguration"]["privateNetwork"] for r in ev.resources
                if r.type == "gcp:sql/databaseInstance:DatabaseInstance"}
    assert networks == {f"projects/{PROJECT}/global/networks/infrabot-dev"}
    # One connect grant per instance, each limited to its own instance.
    assert sum(1 for r in ev.resources if r.type == "gcp:projects/iAMMember:IAMMember") == 2


SA_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$")
RESOURCE_ID = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


@pytest.mark.parametrize("app", ["a", "x9", "a-really-long-application-name-that-goes-on-and-on-forever"])
def test_physical_names_within_gcp_limits(app: str) -> None:
    kinds = ("service", "postgres", "redis", "bucket", "queue", "secret", "registry")
    spec = InfraSpec(
        app=app,
        environment="staging",
        components=[Component(kind=k, count=3) for k in kinds],
        requested_by="Zoë O'Brien <ZOE@example.com> " * 4,
    )
    ev = run(spec)
    seen: dict[str, set[str]] = {}
    for r in ev.resources:
        i = r.inputs
        if r.type == "gcp:serviceaccount/account:Account":
            assert SA_ID.match(i["accountId"]), i["accountId"]
            seen.setdefault("sa", set()).add(i["accountId"])
        if r.type == "gcp:storage/bucket:Bucket":
            assert BUCKET_NAME.match(i["name"]) and len(i["name"]) <= 63, i["name"]
            seen.setdefault("bucket", set()).add(i["name"])
        if r.type == "gcp:redis/instance:Instance":
            assert RESOURCE_ID.match(i["name"]) and len(i["name"]) <= 40, i["name"]
            seen.setdefault("redis", set()).add(i["name"])
        if r.type == "gcp:cloudrunv2/service:Service":
            assert RESOURCE_ID.match(i["name"]) and len(i["name"]) <= 49, i["name"]
            seen.setdefault("run", set()).add(i["name"])
        if r.type.endswith("repository:Repository"):
            assert RESOURCE_ID.match(i["repositoryId"]) and len(i["repositoryId"]) <= 63
        if r.type.startswith("gcp:compute/"):
            assert RESOURCE_ID.match(i["name"]) and len(i["name"]) <= 63, i["name"]
        labels = i.get("labels") or (i.get("settings") or {}).get("userLabels")
        if labels:
            assert all(LABEL_VALUE.match(v) for v in labels.values()), labels
    assert {k: len(v) for k, v in seen.items()} == {"sa": 4, "bucket": 3, "redis": 3, "run": 3}


def test_label_sanitising() -> None:
    assert naming.label_value("Alice.Smith@Example.COM") == "alice_smith_example_com"
    assert naming.label_value("") == "unknown"
    assert len(naming.label_value("x" * 200)) == 63
    labels = naming.labels_for(InfraSpec(app="Shop", components=[], requested_by="U123ABC"))
    assert labels == {"app": "shop", "env": "dev", "managed-by": "infrabot", "requested-by": "u123abc"}


def test_fit_keeps_cut_names_unique() -> None:
    a = naming.fit("averyveryverylongname-number-one", 20)
    b = naming.fit("averyveryverylongname-number-two", 20)
    assert len(a) <= 20 and len(b) <= 20 and a != b
    assert naming.fit("ab", 30, 6).startswith("ab") and len(naming.fit("ab", 30, 6)) >= 6


def test_project_from_env_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    assert gcp_project() == DEFAULT_GCP_PROJECT
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    assert gcp_project() == "from-env"


def test_a_repeated_run_registers_the_same_resources() -> None:
    spec = InfraSpec(app="shop", components=[Component(kind=k) for k in ("service", "bucket", "queue")])
    first = {(r.type, r.name) for r in run(spec).resources}
    assert {(r.type, r.name) for r in run(spec).resources} == first
    assert len([t for t, _ in first if not t.startswith("pulumi:")]) >= 12


def test_many_sequential_runs_do_not_leak_into_each_other() -> None:
    specs = [InfraSpec(app=f"app{i}", components=[Component(kind="bucket" if i % 2 else "queue")]) for i in range(12)]
    for i, spec in enumerate(specs):
        ev = run(spec)
        names = {r.name for r in ev.resources if not r.type.startswith("pulumi:")}
        assert names and all(n.startswith(f"app{i}-dev-") for n in names), names
        has_bucket = any(r.type == "gcp:storage/bucket:Bucket" for r in ev.resources)
        assert has_bucket is bool(i % 2)
        assert set(ev.outputs) >= ({"bucket_name"} if i % 2 else {"queue_topic"})
