"""The plan as plain text lines for a chat reply, whatever the platform."""

from __future__ import annotations

import re

from core.plan import PlanResult, ResourceChange
from infra.pricing import PRICES_AS_OF

READABLE: dict[str, str] = {
    "gcp:cloudrunv2/service:Service": "Cloud Run service",
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": "Cloud Run public access",
    "gcp:serviceaccount/account:Account": "Service account",
    "gcp:sql/databaseInstance:DatabaseInstance": "Cloud SQL instance",
    "gcp:sql/database:Database": "Cloud SQL database",
    "gcp:sql/user:User": "Cloud SQL user",
    "gcp:redis/instance:Instance": "Memorystore Redis",
    "gcp:storage/bucket:Bucket": "Storage bucket",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "Bucket access grant",
    "gcp:pubsub/topic:Topic": "Pub/Sub topic",
    "gcp:pubsub/subscription:Subscription": "Pub/Sub subscription",
    "gcp:pubsub/topicIAMMember:TopicIAMMember": "Topic access grant",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": "Subscription access grant",
    "gcp:secretmanager/secret:Secret": "Secret Manager secret",
    "gcp:secretmanager/secretVersion:SecretVersion": "Secret version",
    "gcp:secretmanager/secretIamMember:SecretIamMember": "Secret access grant",
    "gcp:artifactregistry/repository:Repository": "Artifact Registry repository",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": "Registry access grant",
    "gcp:projects/iAMMember:IAMMember": "Project role grant",
    "gcp:compute/network:Network": "VPC network",
    "gcp:compute/subnetwork:Subnetwork": "VPC subnet",
    "gcp:compute/globalAddress:GlobalAddress": "Reserved private IP range",
    "gcp:servicenetworking/connection:Connection": "Private service connection",
    "gcp:projects/service:Service": "Google API enabled",
    "gcp:projects/serviceIdentity:ServiceIdentity": "Google service agent",
    "gcp:serviceaccount/iAMMember:IAMMember": "Service account grant",
    "random:index/randomPassword:RandomPassword": "Generated password",
    "gcp:cloudrunv2/workerPool:WorkerPool": "Cloud Run worker pool",
    "gcp:firestore/database:Database": "Firestore database",
    "aws:ecs/service:Service": "ECS Fargate service",
    "aws:ecs/cluster:Cluster": "ECS cluster",
    "aws:ecs/taskDefinition:TaskDefinition": "ECS task definition",
    "aws:iam/role:Role": "IAM role",
    "aws:iam/rolePolicy:RolePolicy": "IAM role policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM managed policy attachment",
    "aws:lb/loadBalancer:LoadBalancer": "Application Load Balancer",
    "aws:lb/targetGroup:TargetGroup": "ALB target group",
    "aws:lb/listener:Listener": "ALB listener",
    "aws:rds/instance:Instance": "RDS instance",
    "aws:rds/subnetGroup:SubnetGroup": "RDS subnet group",
    "aws:elasticache/replicationGroup:ReplicationGroup": "ElastiCache Redis",
    "aws:elasticache/subnetGroup:SubnetGroup": "ElastiCache subnet group",
    "aws:s3/bucket:Bucket": "S3 bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "S3 public access block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "S3 encryption",
    "aws:s3/bucketVersioning:BucketVersioning": "S3 versioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "S3 lifecycle rules",
    "aws:sqs/queue:Queue": "SQS queue",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": "SQS redrive allow policy",
    "aws:secretsmanager/secret:Secret": "Secrets Manager secret",
    "aws:secretsmanager/secretVersion:SecretVersion": "Secrets Manager secret value",
    "aws:ecr/repository:Repository": "ECR repository",
    "aws:ec2/vpc:Vpc": "VPC",
    "aws:ec2/subnet:Subnet": "VPC subnet",
    "aws:ec2/internetGateway:InternetGateway": "Internet gateway",
    "aws:ec2/natGateway:NatGateway": "NAT gateway",
    "aws:ec2/eip:Eip": "Elastic IP",
    "aws:ec2/routeTable:RouteTable": "Route table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "Route table association",
    "aws:ec2/securityGroup:SecurityGroup": "Security group",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "Security group rule",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch log group",
}
OP_WORDS = {"create": "create", "update": "update", "replace": "replace", "delete": "delete", "same": "keep"}
OP_MARKS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "same": "="}
OFFLINE_ENGINE = "offline engine (Pulumi mocks) — simulated, no cloud changes"
PULUMI_ENGINE = "pulumi engine"
MAX_LISTED = 40


def readable_type(token: str) -> str:
    if token in READABLE:
        return READABLE[token]
    last = token.rsplit(":", 1)[-1]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", last) or token


def resource_label(token: str, name: str) -> str:
    return f"{readable_type(token)} {name}"


def _line(change: ResourceChange) -> str:
    return f"  {OP_MARKS[change.op]} {OP_WORDS[change.op]} {resource_label(change.type, change.name)}"


def engine_label(plan: PlanResult) -> str:
    return OFFLINE_ENGINE if plan.simulated or plan.engine == "offline" else PULUMI_ENGINE


def render_plan(plan: PlanResult, max_listed: int | None = MAX_LISTED) -> list[str]:
    s = plan.summary
    lines = [
        f"Plan: {s.get('create', 0)} to create, {s.get('update', 0)} to update, "
        f"{s.get('replace', 0)} to replace, {s.get('delete', 0)} to delete"
    ]
    destructive = [c for c in plan.resources if c.op in ("delete", "replace")]
    if destructive:
        lines.append(f"WARNING: {len(destructive)} destructive change(s); data in these resources can be lost:")
        lines.extend(_line(c) for c in destructive)
    others = [c for c in plan.resources if c.op in ("create", "update")]
    unchanged = sum(1 for c in plan.resources if c.op == "same")
    if not destructive and not others:
        lines.append("No changes: the infrastructure already matches this request.")
    if others:
        lines.append("Changes:")
        shown = others if max_listed is None else others[:max_listed]
        lines.extend(_line(c) for c in shown)
        if len(others) > len(shown):
            lines.append(f"  … and {len(others) - len(shown)} more (say `plan` for the full list)")
    if unchanged:
        lines.append(f"{unchanged} resource(s) unchanged.")
    if plan.monthly_cost_usd is not None:
        lines.append(
            f"Estimated cost: about ${plan.monthly_cost_usd:,.2f}/month (approximate list prices as of {PRICES_AS_OF})"
        )
    lines.append(f"Engine: {engine_label(plan)}")
    return lines
