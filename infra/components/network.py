"""The environment's shared private network, as an app stack sees it: looked up, never owned.

Cloud SQL (private IP), Memorystore and Cloud Run egress all use it. The network, its subnets and
its private-services peering belong to the `infrabot-net-{env}` stack (infra/shared_network.py), so
no app's destroy can take them away from the others. Only apps with a database or a cache need it.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import shared_network
from infra.components.context import BuildContext, Network


class NetworkMissing(pulumi.RunError):
    """The environment's network has not been set up yet; the message says how."""


def ensure_network(ctx: BuildContext) -> Network:
    if ctx.network is not None:
        return ctx.network
    names = shared_network.names(ctx.spec.environment)
    invoke = pulumi.InvokeOptions(provider=ctx.provider)
    try:
        network = gcp.compute.get_network(name=names.network, project=ctx.project, opts=invoke)
        subnet = gcp.compute.get_subnetwork(
            name=names.subnet(ctx.region), region=ctx.region, project=ctx.project, opts=invoke
        )
    except Exception as err:  # the provider reports a missing network as a plain invoke error
        raise NetworkMissing(
            f"the shared {ctx.spec.environment} network ({names.network}, subnet {names.subnet(ctx.region)}) "
            f"is not set up in project {ctx.project}: a platform admin runs "
            f"`python -m infra.network_cli {ctx.spec.environment} --region {ctx.region} --apply` once "
            f"({str(err).splitlines()[0][:200] if str(err) else type(err).__name__})"
        ) from None
    ctx.network = Network(network_id=network.id, subnetwork_id=subnet.id, peering_range=names.peering_range)
    return ctx.network
