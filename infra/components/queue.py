"""Pub/Sub topic with a subscription that dead-letters after a few failed deliveries.

The consumer: when the app has a Cloud Run service, the subscription pushes to it (to
`{service URL}/pubsub/{queue}`), signed with an OIDC token of a push-only service account that may
invoke that service and nothing else. A pull subscription would need an always-on puller, and the
service scales to zero with request-based CPU, so nothing would read the queue while it is idle.
Without a service the subscription stays pull, for whatever consumer the team runs.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from core.spec import Component
from infra.components import apis
from infra.components.context import BuildContext, BuiltService, Grant
from infra.components.service import account_id

MAX_DELIVERY_ATTEMPTS = 5
NEVER_EXPIRE = {"ttl": ""}  # without it an idle subscription is deleted after 31 days
DEAD_LETTER_RETENTION = "2678400s"  # 31 days, the most Pub/Sub keeps messages
QUEUE_APIS = (apis.PUBSUB,)


def _grant(make_binding: type, target_arg: str, target: pulumi.Input[str], role: str, parts: tuple[str, ...]) -> Grant:
    def make(name: str, member: pulumi.Input[str], opts: pulumi.ResourceOptions) -> pulumi.Resource:
        return make_binding(name, role=role, member=member, opts=opts, **{target_arg: target})

    return Grant(parts=parts, role=role, make=make)


def push_path(base: str) -> str:
    return f"/pubsub/{base}"


def _pubsub_agent(ctx: BuildContext) -> gcp.projects.ServiceIdentity:
    """Pub/Sub's service agent. In a fresh project it only exists once asked for, so it is made
    (idempotently) before any role is granted to it."""
    key = "pubsub-agent"
    if key not in ctx.shared:
        ctx.shared[key] = gcp.projects.ServiceIdentity(
            ctx.name(key), project=ctx.project, service=apis.PUBSUB, opts=ctx.opts(needs=QUEUE_APIS)
        )
    return ctx.shared[key]


def _pusher(ctx: BuildContext, target: BuiltService) -> gcp.serviceaccount.Account:
    """One push identity per app stack, allowed to invoke the consuming service only."""
    key = "push"
    if key not in ctx.shared:
        account = gcp.serviceaccount.Account(
            ctx.name("push-sa"),
            account_id=account_id(ctx, "push"),
            display_name=f"infrabot: Pub/Sub push to {ctx.prefix}",
            opts=ctx.opts(needs=(apis.IAM,)),
        )
        gcp.cloudrunv2.ServiceIamMember(
            ctx.name("push-invoker"),
            name=target.service.name,
            location=ctx.region,
            role="roles/run.invoker",
            member=account.member,
            opts=ctx.opts(),
        )
        # Projects made before April 2021 still need this for Pub/Sub to mint the OIDC token.
        gcp.serviceaccount.IAMMember(
            ctx.name("push-token"),
            service_account_id=account.name,
            role="roles/iam.serviceAccountTokenCreator",
            member=_pubsub_agent(ctx).member,
            opts=ctx.opts(),
        )
        ctx.shared[key] = account
    return ctx.shared[key]


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = ctx.base("queue", index, total)
    labels = ctx.labels
    topic = gcp.pubsub.Topic(ctx.name(base), name=ctx.name(base), labels=labels, opts=ctx.opts(needs=QUEUE_APIS))
    dead_letter = gcp.pubsub.Topic(
        ctx.name(base, "dlq"), name=ctx.name(base, "dlq"), labels=labels, opts=ctx.opts(needs=QUEUE_APIS)
    )
    # Dead letters are kept in their own subscription so nobody loses them while investigating.
    gcp.pubsub.Subscription(
        ctx.name(base, "dlq-sub"),
        name=ctx.name(base, "dlq-sub"),
        topic=dead_letter.id,
        message_retention_duration=DEAD_LETTER_RETENTION,
        expiration_policy=NEVER_EXPIRE,
        labels=labels,
        opts=ctx.opts(needs=QUEUE_APIS),
    )
    # Pub/Sub's own service agent forwards dead letters: it must publish to the dead-letter topic
    # and acknowledge on the source subscription.
    agent = _pubsub_agent(ctx)
    gcp.pubsub.TopicIAMMember(ctx.name(base, "dlq-agent-pub"), topic=dead_letter.name,
                              role="roles/pubsub.publisher", member=agent.member, opts=ctx.opts())
    ctx.grants.append(
        _grant(gcp.pubsub.TopicIAMMember, "topic", topic.name, "roles/pubsub.publisher", (base, "publish"))
    )
    sub_name = ctx.name(base, "sub")
    consumer = ctx.count_of("service") > 0

    def subscribe() -> None:
        target = ctx.services[0] if ctx.services else None
        push: dict[str, object] | None = None
        if target is not None:
            pusher = _pusher(ctx, target)
            push = {
                "push_endpoint": target.service.uri.apply(lambda uri: f"{uri}{push_path(base)}"),
                "oidc_token": {"service_account_email": pusher.email, "audience": target.service.uri},
            }
        subscription = gcp.pubsub.Subscription(
            sub_name,
            name=sub_name,
            topic=topic.id,
            ack_deadline_seconds=60,
            dead_letter_policy={
                "dead_letter_topic": dead_letter.id,
                "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
            },
            retry_policy={"minimum_backoff": "10s", "maximum_backoff": "600s"},
            expiration_policy=NEVER_EXPIRE,
            push_config=push,
            labels=labels,
            opts=ctx.opts(needs=QUEUE_APIS),
        )
        gcp.pubsub.SubscriptionIAMMember(ctx.name(base, "sub-agent"), subscription=subscription.name,
                                         role="roles/pubsub.subscriber", member=agent.member, opts=ctx.opts())
        ctx.export(f"{base}_subscription", subscription.name)

    ctx.after_services.append(subscribe)
    suffix = "" if index == 1 else f"_{index}"
    ctx.env.extend(
        [
            {"name": f"TOPIC{suffix}", "value": topic.name},
            {"name": f"SUBSCRIPTION{suffix}", "value": sub_name},
        ]
    )
    if consumer:
        ctx.env.append({"name": f"QUEUE{suffix}_PUSH_PATH", "value": push_path(base)})
    ctx.export(f"{base}_topic", topic.name)
    ctx.export(f"{base}_dead_letter_topic", dead_letter.name)
