"""The app's private network, shared by Cloud SQL (private IP), Memorystore and Cloud Run egress.

Created once per program, and only when a component needs private addressing.
"""

from __future__ import annotations

import ipaddress

import pulumi_gcp as gcp

from infra import naming, sizes
from infra.components import apis
from infra.components.context import BuildContext, Network

# Cloud Run Direct VPC egress takes addresses in blocks of 16 and wants about twice the instance
# count. A /20 (4,096 addresses) covers the largest spec infrabot allows (10 large services of 50
# instances each = 1,000 addresses at 2x), with room for revisions rolling over. Growing from the
# /24 of earlier versions keeps the same base address, which GCP expands in place.
SUBNET_CIDR = "10.10.0.0/20"
PEERING_PREFIX_LENGTH = 20
NETWORK_APIS = (apis.COMPUTE, apis.SERVICE_NETWORKING)


def egress_addresses_needed(max_instances: int) -> int:
    """Addresses Direct VPC egress may hold for a service: twice the instances, in blocks of 16."""
    wanted = 2 * max_instances
    return -(-wanted // 16) * 16


def subnet_capacity() -> int:
    return ipaddress.ip_network(SUBNET_CIDR).num_addresses - 4  # GCP reserves four per subnet


def largest_egress_demand(max_services: int = 10) -> int:
    return max_services * egress_addresses_needed(sizes.SERVICE["large"]["max_instances"])


def ensure_network(ctx: BuildContext) -> Network:
    if ctx.network is not None:
        return ctx.network
    network = gcp.compute.Network(
        ctx.name("net"),
        name=naming.fit(ctx.name("net"), 63),
        auto_create_subnetworks=False,
        description="infrabot: private network for Cloud SQL, Memorystore and Cloud Run egress",
        opts=ctx.opts(needs=NETWORK_APIS),
    )
    # Cloud Run direct VPC egress needs a regional subnet to draw instance addresses from.
    subnetwork = gcp.compute.Subnetwork(
        ctx.name("subnet"),
        name=naming.fit(ctx.name("subnet"), 63),
        network=network.id,
        region=ctx.region,
        ip_cidr_range=SUBNET_CIDR,
        private_ip_google_access=True,
        opts=ctx.opts(needs=NETWORK_APIS),
    )
    peering_range = gcp.compute.GlobalAddress(
        ctx.name("psa-range"),
        name=naming.fit(ctx.name("psa-range"), 63),
        purpose="VPC_PEERING",
        address_type="INTERNAL",
        prefix_length=PEERING_PREFIX_LENGTH,
        network=network.id,
        labels=ctx.labels,
        opts=ctx.opts(needs=NETWORK_APIS),
    )
    connection = gcp.servicenetworking.Connection(
        ctx.name("psa"),
        network=network.id,
        service=apis.SERVICE_NETWORKING,
        reserved_peering_ranges=[peering_range.name],
        # Google keeps the producer side (Cloud SQL, Memorystore) for a while after they are deleted,
        # so a plain delete fails with "still using this connection". REMOVE_PEERING drops the
        # peering instead, which is what lets the network itself be deleted afterwards.
        deletion_policy="REMOVE_PEERING",
        opts=ctx.opts(needs=NETWORK_APIS),
    )
    ctx.network = Network(network, subnetwork, peering_range, connection)
    return ctx.network
