"""SQS queue whose messages go to a dead-letter queue after a few failed receives."""

from __future__ import annotations

import json

import pulumi_aws as aws

from core.spec import Component
from infra import naming
from infra.aws.context import AwsContext

MAX_RECEIVES = 5
RETENTION_SECONDS = 4 * 24 * 3600
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # the most SQS keeps messages


def build(ctx: AwsContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("queue", index)
    dlq = aws.sqs.Queue(ctx.name(base, "dlq"), message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
                        sqs_managed_sse_enabled=True, tags=ctx.tags, opts=ctx.opts())
    queue = aws.sqs.Queue(
        ctx.name(base),
        message_retention_seconds=RETENTION_SECONDS,
        sqs_managed_sse_enabled=True,
        redrive_policy=dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn,
                                                              "maxReceiveCount": MAX_RECEIVES})),
        tags=ctx.tags,
        opts=ctx.opts(),
    )
    aws.sqs.RedriveAllowPolicy(
        ctx.name(base, "dlq-allow"),
        queue_url=dlq.url,
        redrive_allow_policy=queue.arn.apply(lambda arn: json.dumps({"redrivePermission": "byQueue",
                                                                     "sourceQueueArns": [arn]})),
        opts=ctx.opts(),
    )
    ctx.allow(f"Queue{index}", ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                                "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
              [queue.arn])
    ctx.allow(f"Queue{index}DeadLetters", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
              [dlq.arn])
    prefix = "QUEUE" if index == 1 else f"QUEUE_{index}"
    ctx.env.extend([{"name": f"{prefix}_URL", "value": queue.url},
                    {"name": f"{prefix}_DLQ_URL", "value": dlq.url}])
    ctx.export(f"{base}_url", queue.url)
    ctx.export(f"{base}_dlq_url", dlq.url)
