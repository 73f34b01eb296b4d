"""ECS Fargate service behind an Application Load Balancer, with its own task role.

The task role may do exactly what the app's other components need, on those resources by ARN:
the statements the other builders left in the context, and nothing when there are none. The
execution role (used by ECS to start the task) reads only this app's ECS secrets.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from core.spec import Component
from infra import naming
from infra.aws import sizes
from infra.aws.context import AwsContext
from infra.aws.network import ensure_vpc

LB_NAME_MAX = 32
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
LOG_RETENTION_DAYS = 30
# TLS 1.3 and 1.2 only (AWS's recommended policy for new HTTPS listeners).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ASSUME_ECS_TASKS = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})


def task_policy(statements: list[dict[str, Any]]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


def _cluster(ctx: AwsContext) -> aws.ecs.Cluster:
    if "cluster" not in ctx.shared:
        ctx.shared["cluster"] = aws.ecs.Cluster(
            ctx.name("cluster"), settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=ctx.tags, opts=ctx.opts())
    return ctx.shared["cluster"]


def build(ctx: AwsContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("svc", index)
    t = sizes.tier("service", ctx.size(component))
    vpc = ensure_vpc(ctx)
    assert vpc.app_security_group_id is not None  # made with the VPC whenever the app has a service
    cluster = _cluster(ctx)

    task_role = aws.iam.Role(ctx.name(base, "task"), assume_role_policy=ASSUME_ECS_TASKS,
                             description=f"infrabot: {ctx.name(base)} tasks", tags=ctx.tags, opts=ctx.opts())
    if ctx.statements:
        aws.iam.RolePolicy(ctx.name(base, "task-access"), role=task_role.id, policy=task_policy(ctx.statements),
                           opts=ctx.opts())
    execution_role = aws.iam.Role(ctx.name(base, "exec"), assume_role_policy=ASSUME_ECS_TASKS,
                                  description=f"infrabot: ECS starts {ctx.name(base)}", tags=ctx.tags,
                                  opts=ctx.opts())
    aws.iam.RolePolicyAttachment(ctx.name(base, "exec-base"), role=execution_role.name,
                                 policy_arn=EXECUTION_POLICY, opts=ctx.opts())
    if ctx.secret_arns:
        aws.iam.RolePolicy(
            ctx.name(base, "exec-secrets"), role=execution_role.id,
            policy=task_policy([{"Sid": "EcsSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                                 "Resource": list(ctx.secret_arns)}]),
            opts=ctx.opts())

    logs = aws.cloudwatch.LogGroup(ctx.name(base, "logs"), name=f"/infrabot/{ctx.name(base)}",
                                   retention_in_days=LOG_RETENTION_DAYS, tags=ctx.tags, opts=ctx.opts())
    port = ctx.service.port
    certificate = ctx.service.certificate_for(ctx.region)
    container = {
        "name": "app",
        "image": ctx.service.image,
        "essential": True,
        "portMappings": [{"containerPort": port, "protocol": "tcp"}],
        "environment": [{"name": e["name"], "value": e["value"]} for e in ctx.env],
        "secrets": list(ctx.secrets),
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": logs.name, "awslogs-region": ctx.region, "awslogs-stream-prefix": "app"}},
    }
    task = aws.ecs.TaskDefinition(
        ctx.name(base),
        family=ctx.name(base),
        cpu=str(t["cpu"]),
        memory=str(t["memory"]),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        execution_role_arn=execution_role.arn,
        task_role_arn=task_role.arn,
        container_definitions=pulumi.Output.json_dumps([container]),
        tags=ctx.tags,
        opts=ctx.opts(),
    )

    lb_sg = aws.ec2.SecurityGroup(
        ctx.name(base, "lb-sg"), vpc_id=vpc.vpc_id, description=f"infrabot: {ctx.name(base)} load balancer",
        ingress=[{"protocol": "tcp", "from_port": p, "to_port": p, "cidr_blocks": ["0.0.0.0/0"]}
                 for p in ((80, 443) if certificate else (80,))],
        egress=[{"protocol": "tcp", "from_port": port, "to_port": port,
                 "cidr_blocks": [vpc.cidr]}],
        tags=ctx.tags, opts=ctx.opts())
    aws.vpc.SecurityGroupIngressRule(
        ctx.name(base, "from-lb"), security_group_id=vpc.app_security_group_id, ip_protocol="tcp",
        from_port=port, to_port=port, referenced_security_group_id=lb_sg.id,
        description="the load balancer", opts=ctx.opts())
    lb = aws.lb.LoadBalancer(
        ctx.name(base, "lb"), name=naming.fit(ctx.name(base), LB_NAME_MAX), load_balancer_type="application",
        internal=False, subnets=vpc.public_subnet_ids, security_groups=[lb_sg.id], drop_invalid_header_fields=True,
        enable_deletion_protection=ctx.prod, tags=ctx.tags, opts=ctx.opts())
    target = aws.lb.TargetGroup(
        ctx.name(base, "tg"), port=port, protocol="HTTP", target_type="ip", vpc_id=vpc.vpc_id,
        health_check={"path": "/", "matcher": "200-399"}, tags=ctx.tags, opts=ctx.opts())
    forward = {"type": "forward", "target_group_arn": target.arn}
    listeners: list[aws.lb.Listener] = []
    if certificate:
        listeners.append(aws.lb.Listener(
            ctx.name(base, "https"), load_balancer_arn=lb.arn, port=443, protocol="HTTPS", ssl_policy=TLS_POLICY,
            certificate_arn=certificate, default_actions=[forward], opts=ctx.opts()))
    # With a certificate, plain HTTP only sends browsers on to HTTPS.
    redirect = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}
    listeners.append(aws.lb.Listener(
        ctx.name(base, "http"), load_balancer_arn=lb.arn, port=80, protocol="HTTP",
        default_actions=[redirect if certificate else forward], opts=ctx.opts()))
    aws.ecs.Service(
        ctx.name(base),
        cluster=cluster.arn,
        task_definition=task.arn,
        desired_count=t["tasks"],
        launch_type="FARGATE",
        network_configuration={"subnets": vpc.private_subnet_ids, "security_groups": [vpc.app_security_group_id],
                               "assign_public_ip": False},
        load_balancers=[{"target_group_arn": target.arn, "container_name": "app",
                         "container_port": port}],
        propagate_tags="SERVICE",
        tags=ctx.tags,
        opts=ctx.opts(depends_on=listeners,
                      # The image is the team's to deploy; re-running infrabot must not roll it back.
                      ignore_changes=["taskDefinition"]),
    )
    scheme = "https" if certificate else "http"
    ctx.export(f"{base}_url", lb.dns_name.apply(lambda host: f"{scheme}://{host}"))
    ctx.export(f"{base}_task_role", task_role.arn)
