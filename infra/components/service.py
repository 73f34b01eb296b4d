"""Cloud Run v2 service with its own service account, wired to everything else in the app."""

from __future__ import annotations

import pulumi_gcp as gcp

from core.spec import Component
from infra import naming, sizes
from infra.components import apis
from infra.components.context import BuildContext, BuiltService, Grant

PLACEHOLDER_IMAGE = "us-docker.pkg.dev/cloudrun/container/hello"
SERVICE_NAME_MAX = 49
ACCOUNT_ID_MIN, ACCOUNT_ID_MAX = 6, 30
SERVICE_APIS = (apis.RUN, apis.IAM)


def account_id(ctx: BuildContext, base: str) -> str:
    return naming.fit(ctx.name(base), ACCOUNT_ID_MAX, ACCOUNT_ID_MIN, filler="run")


def _unique(grants: list[Grant]) -> list[Grant]:
    seen: dict[tuple[str, ...], Grant] = {}
    for grant in grants:
        seen.setdefault(grant.parts, grant)
    return list(seen.values())


def build(ctx: BuildContext, component: Component, index: int, total: int) -> None:
    base = ctx.base("svc", index, total)
    tier = sizes.tier("service", ctx.size(component))
    account = gcp.serviceaccount.Account(
        ctx.name(base, "sa"),
        account_id=account_id(ctx, base),
        display_name=f"infrabot: Cloud Run {ctx.name(base)}",
        opts=ctx.opts(needs=(apis.IAM,)),
    )
    member = account.email.apply(lambda email: f"serviceAccount:{email}")
    bindings = [grant.make(ctx.name(base, *grant.parts), member, ctx.opts()) for grant in _unique(ctx.grants)]

    template: dict[str, object] = {
        "service_account": account.email,
        "scaling": {"min_instance_count": 0, "max_instance_count": tier["max_instances"]},
        "containers": [
            {
                "image": PLACEHOLDER_IMAGE,
                "resources": {"limits": {"cpu": tier["cpu"], "memory": tier["memory"]}},
                "envs": list(ctx.env),
            }
        ],
    }
    if ctx.network is not None:
        # Direct VPC egress: only private ranges go through the VPC, so the public internet still works.
        template["vpc_access"] = {
            "egress": "PRIVATE_RANGES_ONLY",
            "network_interfaces": [{"network": ctx.network.network_id, "subnetwork": ctx.network.subnetwork_id}],
        }

    service = gcp.cloudrunv2.Service(
        ctx.name(base),
        name=naming.fit(ctx.name(base), SERVICE_NAME_MAX),
        location=ctx.region,
        deletion_protection=ctx.prod,
        ingress="INGRESS_TRAFFIC_ALL",
        labels=ctx.labels,
        template=template,
        opts=ctx.opts(
            needs=SERVICE_APIS,
            depends_on=[*bindings, *ctx.service_depends_on],
            # The image is the team's to deploy; re-running infrabot must not roll it back to the placeholder.
            ignore_changes=["template.containers[0].image", "client", "client_version"],
        ),
    )
    ctx.services.append(BuiltService(base=base, service=service, account=account))
    if ctx.public_services:
        gcp.cloudrunv2.ServiceIamMember(
            ctx.name(base, "public"),
            name=service.name,
            location=ctx.region,
            role="roles/run.invoker",
            member="allUsers",
            opts=ctx.opts(),
        )
    ctx.export(f"{base}_url", service.uri)
    ctx.export(f"{base}_account", account.email)
