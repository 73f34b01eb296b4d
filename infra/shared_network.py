"""One private network per project and environment, shared by that environment's apps.

Why a stack of its own: a network used by several app stacks must not belong to any one of them,
or destroying that app would delete (or fail to delete) what the others still use. So the network,
its private-services range and peering, and one Cloud Run egress subnet per region live in the
stack `infrabot-net-{env}`, set up once by a platform admin (`python -m infra.network_cli`), and
never destroyed by infrabot. App programs only look it up by its fixed names.

This spends one VPC network and one private-services range per environment instead of one per
app, which is what the project's network quota and Google's peering limits expect.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra import sizes
from infra.components import apis

NETWORK_STACK_PREFIX = "infrabot-net"
# Subnets get 10.{64 + i}.0.0/18 by the region's place in this append-only list, so adding a region
# never moves another's range; the private-services range sits apart at 10.200.0.0/16.
REGIONS: tuple[str, ...] = (
    "us-central1", "us-east1", "us-east4", "us-west1", "europe-west1", "europe-west2", "europe-west3",
    "europe-west4", "asia-northeast1", "asia-southeast1", "australia-southeast1", "us-west2", "us-south1",
    "europe-north1", "europe-west6", "europe-west9", "asia-east1", "asia-south1", "southamerica-east1",
    "northamerica-northeast1",
)
SUBNET_PREFIX_LENGTH = 18
PSA_ADDRESS, PSA_PREFIX_LENGTH = "10.200.0.0", 16


@dataclass(frozen=True)
class NetworkNames:
    network: str
    peering_range: str

    def subnet(self, region: str) -> str:
        return f"{self.network}-{region}"


def names(environment: str) -> NetworkNames:
    return NetworkNames(network=f"infrabot-{environment}", peering_range=f"infrabot-{environment}-psa")


def stack_name(environment: str) -> str:
    return f"{NETWORK_STACK_PREFIX}-{environment}"


def subnet_cidr(region: str) -> str:
    if region not in REGIONS:
        raise ValueError(f"no subnet range is assigned to region {region!r}; add it to REGIONS")
    return f"10.{64 + REGIONS.index(region)}.0.0/{SUBNET_PREFIX_LENGTH}"


def egress_addresses_needed(max_instances: int) -> int:
    """Addresses Direct VPC egress may hold for a service: twice the instances, in blocks of 16."""
    return -(-2 * max_instances // 16) * 16


def subnet_capacity() -> int:
    return ipaddress.ip_network(subnet_cidr(REGIONS[0])).num_addresses - 4  # GCP keeps four per subnet


def largest_app_egress(max_services: int = 10) -> int:
    """The most one app can hold: 10 large services of 50 instances at 2x, in blocks of 16."""
    return max_services * egress_addresses_needed(sizes.SERVICE["large"]["max_instances"])


def make_network_program(project: str, environment: str, regions: Sequence[str]) -> Callable[[], None]:
    def program() -> None:
        provider = gcp.Provider("gcp", project=project, region=regions[0])
        n = names(environment)
        enabled = [
            apis.enable(f"{n.network}-api-{apis.short(api)}", project, api, provider)
            for api in (apis.COMPUTE, apis.SERVICE_NETWORKING)
        ]
        opts = pulumi.ResourceOptions(provider=provider, depends_on=enabled)
        network = gcp.compute.Network(
            n.network,
            name=n.network,
            auto_create_subnetworks=False,
            description=f"infrabot: shared private network for {environment} apps",
            opts=opts,
        )
        for region in regions:
            # Cloud Run Direct VPC egress draws instance addresses from here.
            gcp.compute.Subnetwork(
                n.subnet(region),
                name=n.subnet(region),
                network=network.id,
                region=region,
                ip_cidr_range=subnet_cidr(region),
                private_ip_google_access=True,
                opts=opts,
            )
        peering_range = gcp.compute.GlobalAddress(
            n.peering_range,
            name=n.peering_range,
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            address=PSA_ADDRESS,
            prefix_length=PSA_PREFIX_LENGTH,
            network=network.id,
            opts=opts,
        )
        gcp.servicenetworking.Connection(
            f"{n.network}-psa",
            network=network.id,
            service=apis.SERVICE_NETWORKING,
            reserved_peering_ranges=[peering_range.name],
            # A plain delete fails while Cloud SQL or Memorystore still hold the peering (Google keeps
            # them a while after deletion); REMOVE_PEERING drops the peering so the network can go.
            deletion_policy="REMOVE_PEERING",
            opts=opts,
        )
        pulumi.export("network", network.id)
        pulumi.export("peering_range", peering_range.name)

    return program
