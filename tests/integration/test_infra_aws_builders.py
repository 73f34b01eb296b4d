"""The AWS builders evaluated under Pulumi's mock runtime: types, the arguments that matter per kind
and size, tags, and the task role's least-privilege wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.aws_service import PLACEHOLDER_IMAGE, ServiceOptions
from core.spec import Component, InfraSpec
from infra.aws import sizes
from infra.aws.ecs import TLS_POLICY
from infra.mocks import Evaluation, evaluate
from infra.program import make_program
from tests.integration.test_infra_builders import of_type, one

RDS = "aws:rds/instance:Instance"
S3 = "aws:s3/bucket:Bucket"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
SQS = "aws:sqs/queue:Queue"
SECRET = "aws:secretsmanager/secret:Secret"
ECR = "aws:ecr/repository:Repository"
ECS = "aws:ecs/service:Service"
TASKDEF = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
NAT = "aws:ec2/natGateway:NatGateway"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
LISTENER = "aws:lb/listener:Listener"
TARGETS = "aws:lb/targetGroup:TargetGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
FROM_LB = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f"
US_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/9f8e7d6c"
TAGS = {"app": "shop", "env": "dev", "managed-by": "infrabot", "requested-by": "bob"}
NOT_TAGGABLE = ("routeTableAssociation", "rolePolicy", "RolePolicyAttachment", "bucketPublicAccessBlock",
                "bucketServerSideEncryption", "bucketVersioning", "bucketLifecycle", "listener:", "redriveAllow",
                "secretVersion", "securityGroupIngressRule", "randomPassword", "pulumi:providers")


def run(*kinds: str, env: str = "dev", size: str = "small", region: str = "eu-west-1",
        service: ServiceOptions | None = None) -> Evaluation:
    spec = InfraSpec(app="shop", cloud="aws", environment=env, region=region, size=size,
                     components=[Component(kind=k) for k in kinds], requested_by="Bob")
    return evaluate(make_program(spec, aws_service=service), project="unused", region=spec.region,
                    stack=spec.stack_name)


def container(ev: Evaluation) -> dict[str, Any]:
    return json.loads(one(ev, TASKDEF).inputs["containerDefinitions"])[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", ["small", "medium", "large"])
@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_rds_per_size(kind: str, size: str) -> None:
    ev = run(kind, size=size)
    db = one(ev, RDS).inputs
    t = sizes.tier(kind, size)
    assert db["engine"] == kind and db["instanceClass"] == t["instance_class"]
    assert db["allocatedStorage"] == t["storage_gb"]
    assert db["manageMasterUserPassword"] is True and "password" not in db
    assert db["storageEncrypted"] is True and db["publiclyAccessible"] is False
    assert db["multiAz"] is (size == "large")
    assert db["deletionProtection"] is False and db["skipFinalSnapshot"] is True
    group = one(ev, "aws:rds/subnetGroup:SubnetGroup").inputs
    private = {r.outputs["id"] for r in of_type(ev, SUBNET) if r.inputs["tags"]["tier"] == "private"}
    assert set(group["subnetIds"]) == private and len(private) == 2
    assert not of_type(ev, NAT), "a database alone needs no egress"


def test_rds_in_prod_is_protected_and_backed_up() -> None:
    db = one(run("postgres", env="prod", size="medium"), RDS).inputs
    assert db["deletionProtection"] is True and db["backupRetentionPeriod"] == 7
    assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"]


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_redis_per_size(size: str) -> None:
    ev = run("redis", size=size)
    group = one(ev, REDIS).inputs
    t = sizes.tier("redis", size)
    assert group["nodeType"] == t["node_type"] and group["numCacheClusters"] == t["nodes"]
    assert group["transitEncryptionEnabled"] is True and group["atRestEncryptionEnabled"] is True
    assert group["authToken"] and group["automaticFailoverEnabled"] is (t["nodes"] > 1)
    assert len(of_type(ev, SECRET)) == 1, "the AUTH token is kept in Secrets Manager"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_bucket(env: str) -> None:
    ev = run("bucket", env=env)
    bucket = one(ev, S3).inputs
    assert bucket["forceDestroy"] is (env != "prod")
    block = one(ev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    sse = one(ev, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    versioning = of_type(ev, "aws:s3/bucketVersioning:BucketVersioning")
    assert bool(versioning) is (env == "prod")
    assert not of_type(ev, VPC), "a bucket needs no network"


def test_queue_has_a_dead_letter_queue() -> None:
    ev = run("queue")
    queues = {r.name: r for r in of_type(ev, SQS)}
    assert set(queues) == {"shop-dev-queue", "shop-dev-queue-dlq"}
    redrive = json.loads(queues["shop-dev-queue"].inputs["redrivePolicy"])
    assert redrive["deadLetterTargetArn"] == queues["shop-dev-queue-dlq"].outputs["arn"]
    assert redrive["maxReceiveCount"] == 5


def test_secret_and_registry() -> None:
    ev = run("secret", "registry")
    assert one(ev, SECRET).inputs["recoveryWindowInDays"] == 0
    repo = one(ev, ECR).inputs
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_service_per_size(size: str) -> None:
    ev = run("service", size=size)
    t = sizes.tier("service", size)
    task = one(ev, TASKDEF).inputs
    assert (task["cpu"], task["memory"]) == (str(t["cpu"]), str(t["memory"]))
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    service = one(ev, ECS).inputs
    assert service["desiredCount"] == t["tasks"] and service["launchType"] == "FARGATE"
    assert service["networkConfiguration"]["assignPublicIp"] is False
    assert one(ev, "aws:lb/loadBalancer:LoadBalancer").inputs["loadBalancerType"] == "application"
    assert len(of_type(ev, NAT)) == 1, "tasks in private subnets reach out through one NAT gateway"
    assert not of_type(ev, POLICY) or all("task-access" not in p.name for p in of_type(ev, POLICY)), \
        "a service alone gets a task role with no permissions"


def _ports_to_tasks(ev: Evaluation) -> set[int]:
    """Every port the load balancer side uses to reach the tasks."""
    lb_sg = next(r for r in of_type(ev, SG) if r.name.endswith("lb-sg"))
    ports = {e["fromPort"] for e in lb_sg.inputs["egress"]} | {e["toPort"] for e in lb_sg.inputs["egress"]}
    ports |= {r.inputs["fromPort"] for r in of_type(ev, FROM_LB)} | {r.inputs["toPort"] for r in of_type(ev, FROM_LB)}
    ports |= {one(ev, TARGETS).inputs["port"], container(ev)["portMappings"][0]["containerPort"]}
    ports |= {lb["containerPort"] for lb in one(ev, ECS).inputs["loadBalancers"]}
    return ports


def test_service_defaults_to_the_placeholder_on_port_80_over_http() -> None:
    ev = run("service")
    assert container(ev)["image"] == PLACEHOLDER_IMAGE
    assert _ports_to_tasks(ev) == {80}
    [listener] = of_type(ev, LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert listener.inputs["defaultActions"][0]["type"] == "forward"
    assert ev.outputs["svc_url"].startswith("http://")


def test_service_image_and_port_come_from_the_options() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.2"
    ev = run("service", service=ServiceOptions(image=image, port=8080))
    assert container(ev)["image"] == image
    assert _ports_to_tasks(ev) == {8080}, "every hop to the tasks uses the container's port, and only it"
    lb_sg = next(r for r in of_type(ev, SG) if r.name.endswith("lb-sg"))
    assert [i["fromPort"] for i in lb_sg.inputs["ingress"]] == [80], "the public side stays on port 80"


def test_https_with_the_certificate_of_the_stacks_region() -> None:
    ev = run("service", service=ServiceOptions(certificates=(US_CERT, CERT)))
    listeners = {r.inputs["port"]: r.inputs for r in of_type(ev, LISTENER)}
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert (https["protocol"], https["certificateArn"], https["sslPolicy"]) == ("HTTPS", CERT, TLS_POLICY)
    assert https["defaultActions"][0]["type"] == "forward"
    redirect = listeners[80]["defaultActions"][0]
    assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
    assert redirect["redirect"]["statusCode"] == "HTTP_301"
    lb_sg = next(r for r in of_type(ev, SG) if r.name.endswith("lb-sg"))
    assert sorted(i["fromPort"] for i in lb_sg.inputs["ingress"]) == [80, 443]
    assert ev.outputs["svc_url"].startswith("https://")
    assert one(ev, ECS).inputs["loadBalancers"][0]["containerPort"] == 80

    elsewhere = run("service", region="eu-central-1", service=ServiceOptions(certificates=(US_CERT, CERT)))
    [plain] = of_type(elsewhere, LISTENER)
    assert plain.inputs["protocol"] == "HTTP" and plain.inputs["defaultActions"][0]["type"] == "forward", \
        "a certificate from another region cannot serve this load balancer"
    assert elsewhere.outputs["svc_url"].startswith("http://")


def test_every_taggable_resource_is_tagged() -> None:
    ev = run("service", "postgres", "redis", "bucket", "queue", "secret", "registry")
    for r in ev.resources:
        if any(marker in r.type for marker in NOT_TAGGABLE):
            continue
        tags = r.inputs.get("tags")
        assert tags is not None, f"{r.type} {r.name} has no tags"
        assert {k: tags[k] for k in TAGS} == TAGS, r.name


def _statements(ev: Evaluation) -> list[dict[str, Any]]:
    task_access = [p for p in of_type(ev, POLICY) if p.name.endswith("task-access")]
    assert len(task_access) == 1
    return json.loads(task_access[0].inputs["policy"])["Statement"]  # type: ignore[no-any-return]


def test_task_role_names_only_the_apps_resources() -> None:
    ev = run("service", "postgres", "redis", "bucket", "queue", "secret", "registry")
    own = {r.outputs.get("arn") for r in ev.resources if r.outputs.get("arn")}
    statements = _statements(ev)
    resources = [res for s in statements for res in s["Resource"]]
    assert resources and "*" not in resources
    for res in resources:
        assert res in own or res.removesuffix("/*") in own, f"{res} is not one of the app's resources"
    bucket, queue = one(ev, S3).outputs["arn"], next(r for r in of_type(ev, SQS) if r.name == "shop-dev-queue")
    app_secret = next(r for r in of_type(ev, SECRET) if r.name == "shop-dev-secret")
    assert {bucket, f"{bucket}/*", queue.outputs["arn"], app_secret.outputs["arn"]} <= set(resources)
    assert all(s["Effect"] == "Allow" and "*" not in "".join(s["Action"]) for s in statements)
    task_role = next(r for r in of_type(ev, ROLE) if r.name == "shop-dev-svc-task")
    assert one(ev, TASKDEF).inputs["taskRoleArn"] == task_role.outputs["arn"]


def test_service_gets_names_as_env_and_passwords_as_ecs_secrets() -> None:
    ev = run("service", "postgres", "redis", "bucket", "queue")
    c = container(ev)
    env = {e["name"]: e["value"] for e in c["environment"]}
    assert env["BUCKET"] == one(ev, S3).outputs["bucket"]
    assert env["DB_HOST"] == one(ev, RDS).outputs["address"]
    assert env["REDIS_HOST"] == one(ev, REDIS).outputs["primaryEndpointAddress"]
    assert env["QUEUE_URL"].startswith("https://sqs.eu-west-1.amazonaws.com/")
    secrets = {s["name"]: s["valueFrom"] for s in c["secrets"]}
    db_secret = one(ev, RDS).outputs["masterUserSecrets"][0]["secretArn"]
    assert secrets["DB_PASSWORD"] == f"{db_secret}:password::"
    assert secrets["REDIS_AUTH"] == one(ev, SECRET).outputs["arn"]
    assert not any("PASSWORD" in k or "AUTH" in k for k in env), "secrets never travel as plain env"
    exec_policy = next(p for p in of_type(ev, POLICY) if p.name.endswith("exec-secrets"))
    allowed = json.loads(exec_policy.inputs["policy"])["Statement"][0]["Resource"]
    assert sorted(allowed) == sorted([db_secret, one(ev, SECRET).outputs["arn"]])


def test_data_stores_admit_only_the_service() -> None:
    ev = run("service", "postgres")
    app_sg = next(r for r in of_type(ev, "aws:ec2/securityGroup:SecurityGroup") if r.name == "shop-dev-app-sg")
    db_sg = next(r for r in of_type(ev, "aws:ec2/securityGroup:SecurityGroup") if r.name == "shop-dev-pg-sg")
    rule = db_sg.inputs["ingress"][0]
    assert rule["securityGroups"] == [app_sg.outputs["id"]] and rule["fromPort"] == 5432
    assert "cidrBlocks" not in rule


def test_readme_has_the_aws_tables() -> None:
    from pathlib import Path

    from infra.aws import pricing

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert sizes.size_table_markdown() in readme
    assert pricing.price_table_markdown() in readme
    assert pricing.PRICES_AS_OF in readme


def test_aws_estimate_counts_the_nat_only_with_a_service() -> None:
    from infra.aws import pricing

    data = InfraSpec(app="shop", cloud="aws", region="us-east-1", components=[Component(kind="postgres")])
    both = data.model_copy(update={"components": [Component(kind="postgres"), Component(kind="service")]})
    nat = pricing.NAT_HOURLY * pricing.HOURS_PER_MONTH
    service = pricing.component_monthly_cost("service", "small")
    assert pricing.estimate_monthly_cost(data) == round(pricing.component_monthly_cost("postgres", "small"), 2)
    assert pricing.estimate_monthly_cost(both) == round(pricing.estimate_monthly_cost(data) + service + nat, 2)
