"""The app's private network, shared by Cloud SQL (private IP), Memorystore and Cloud Run egress.

Created once per program, and only when a component needs private addressing.
"""

from __future__ import annotations

import pulumi_gcp as gcp

from infra import naming
from infra.components.context import BuildContext, Network

SUBNET_CIDR = "10.10.0.0/24"
PEERING_PREFIX_LENGTH = 20


def ensure_network(ctx: BuildContext) -> Network:
    if ctx.network is not None:
        return ctx.network
    network = gcp.compute.Network(
        ctx.name("net"),
        name=naming.fit(ctx.name("net"), 63),
        auto_create_subnetworks=False,
        description="infrabot: private network for Cloud SQL, Memorystore and Cloud Run egress",
        opts=ctx.opts(),
    )
    # Cloud Run direct VPC egress needs a regional subnet to draw instance addresses from.
    subnetwork = gcp.compute.Subnetwork(
        ctx.name("subnet"),
        name=naming.fit(ctx.name("subnet"), 63),
        network=network.id,
        region=ctx.region,
        ip_cidr_range=SUBNET_CIDR,
        private_ip_google_access=True,
        opts=ctx.opts(),
    )
    peering_range = gcp.compute.GlobalAddress(
        ctx.name("psa-range"),
        name=naming.fit(ctx.name("psa-range"), 63),
        purpose="VPC_PEERING",
        address_type="INTERNAL",
        prefix_length=PEERING_PREFIX_LENGTH,
        network=network.id,
        labels=ctx.labels,
        opts=ctx.opts(),
    )
    connection = gcp.servicenetworking.Connection(
        ctx.name("psa"),
        network=network.id,
        service="servicenetworking.googleapis.com",
        reserved_peering_ranges=[peering_range.name],
        opts=ctx.opts(),
    )
    ctx.network = Network(network, subnetwork, peering_range, connection)
    return ctx.network
