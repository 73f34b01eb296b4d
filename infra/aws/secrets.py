"""Secrets Manager: app secrets the team fills in, and the generated Redis AUTH token."""

from __future__ import annotations

import pulumi_aws as aws

from core.spec import Component
from infra import naming
from infra.aws.context import AwsContext

# Outside prod a deleted secret goes at once, so re-creating the stack can reuse the name.
PROD_RECOVERY_DAYS = 30


def make_secret(ctx: AwsContext, logical: str) -> aws.secretsmanager.Secret:
    return aws.secretsmanager.Secret(
        logical,
        name_prefix=f"infrabot/{naming.fit(logical, 200)}-",
        description=f"infrabot: {logical}",
        recovery_window_in_days=PROD_RECOVERY_DAYS if ctx.prod else 0,
        tags=ctx.tags,
        opts=ctx.opts(),
    )


def build(ctx: AwsContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("secret", index)
    secret = make_secret(ctx, ctx.name(base))
    # Starts empty, so it is not an ECS secret (a task would fail to start without a value): the
    # service gets its ARN and may read exactly this secret at run time.
    ctx.allow(f"ReadSecret{index}", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
              [secret.arn])
    env_name = "APP_SECRET" if index == 1 else f"APP_SECRET_{index}"
    ctx.env.append({"name": f"{env_name}_ARN", "value": secret.arn})
    ctx.export(f"{base}_arn", secret.arn)
