"""Pub/Sub topic with a subscription that dead-letters after a few failed deliveries."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra import naming
from infra.components.context import BuildContext, Grant

MAX_DELIVERY_ATTEMPTS = 5


def _grant(make_binding: type, target_arg: str, target: pulumi.Input[str], role: str, suffix: str) -> Grant:
    def make(name: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return make_binding(name, role=role, member=member, opts=opts, **{target_arg: target})

    return Grant(suffix=suffix, role=role, make=make)


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = naming.numbered("queue", index, total)
    labels = ctx.labels
    topic = gcp.pubsub.Topic(ctx.name(base), name=ctx.name(base), labels=labels, opts=ctx.opts())
    dead_letter = gcp.pubsub.Topic(ctx.name(base, "dlq"), name=ctx.name(base, "dlq"), labels=labels, opts=ctx.opts())
    subscription = gcp.pubsub.Subscription(
        ctx.name(base, "sub"),
        name=ctx.name(base, "sub"),
        topic=topic.id,
        ack_deadline_seconds=60,
        dead_letter_policy={
            "dead_letter_topic": dead_letter.id,
            "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
        },
        retry_policy={"minimum_backoff": "10s", "maximum_backoff": "600s"},
        labels=labels,
        opts=ctx.opts(),
    )
    # Dead letters are kept in their own subscription so nobody loses them while investigating.
    gcp.pubsub.Subscription(
        ctx.name(base, "dlq-sub"),
        name=ctx.name(base, "dlq-sub"),
        topic=dead_letter.id,
        message_retention_duration="604800s",
        labels=labels,
        opts=ctx.opts(),
    )

    # Pub/Sub's own service agent forwards dead letters: it must publish to the dead-letter topic
    # and acknowledge on the source subscription.
    project = gcp.organizations.get_project_output(
        project_id=ctx.project, opts=pulumi.InvokeOutputOptions(provider=ctx.provider)
    )
    agent = project.number.apply(lambda n: f"serviceAccount:service-{n}@gcp-sa-pubsub.iam.gserviceaccount.com")
    gcp.pubsub.TopicIAMMember(
        ctx.name(base, "dlq-agent-pub"),
        topic=dead_letter.name,
        role="roles/pubsub.publisher",
        member=agent,
        opts=ctx.opts(),
    )
    gcp.pubsub.SubscriptionIAMMember(
        ctx.name(base, "sub-agent"),
        subscription=subscription.name,
        role="roles/pubsub.subscriber",
        member=agent,
        opts=ctx.opts(),
    )

    ctx.grants.append(
        _grant(gcp.pubsub.TopicIAMMember, "topic", topic.name, "roles/pubsub.publisher", f"{base}-publish")
    )
    ctx.grants.append(
        _grant(
            gcp.pubsub.SubscriptionIAMMember,
            "subscription",
            subscription.name,
            "roles/pubsub.subscriber",
            f"{base}-subscribe",
        )
    )
    suffix = "" if total == 1 else f"_{index}"
    ctx.env.extend(
        [
            {"name": f"TOPIC{suffix}", "value": topic.name},
            {"name": f"SUBSCRIPTION{suffix}", "value": subscription.name},
        ]
    )
    ctx.export(f"{base}_topic", topic.name)
    ctx.export(f"{base}_subscription", subscription.name)
    ctx.export(f"{base}_dead_letter_topic", dead_letter.name)
