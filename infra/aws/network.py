"""The app's own VPC: two public and two private subnets in two AZs, and NAT only for services.

Each AWS stack owns its VPC (unlike GCP, where an environment's apps share one network stack):
RDS and ElastiCache need nothing more than subnets, so there is no peering to share. Databases and
caches live in the private subnets and the ALB in the public ones. Fargate tasks run in the private
subnets without public IPs, so pulling images and calling out needs a NAT gateway: made only when
the app has a service, since it is the one per-hour cost a data-only app would not use.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.aws.context import AwsContext, Vpc

VPC_CIDR = "10.0.0.0/16"
PUBLIC_CIDRS = ("10.0.0.0/20", "10.0.16.0/20")
PRIVATE_CIDRS = ("10.0.128.0/20", "10.0.144.0/20")
NETWORK_KINDS = ("service", "postgres", "mysql", "redis")


def zones(ctx: AwsContext) -> list[str]:
    found = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(provider=ctx.provider))
    return list(found.names)[:2]


def ensure_vpc(ctx: AwsContext) -> Vpc:
    if ctx.vpc is not None:
        return ctx.vpc
    azs = zones(ctx)
    vpc = aws.ec2.Vpc(ctx.name("vpc"), cidr_block=VPC_CIDR, enable_dns_hostnames=True, enable_dns_support=True,
                      tags={**ctx.tags, "Name": ctx.name("vpc")}, opts=ctx.opts())
    igw = aws.ec2.InternetGateway(ctx.name("igw"), vpc_id=vpc.id, tags=ctx.tags, opts=ctx.opts())
    public_rt = aws.ec2.RouteTable(ctx.name("public-rt"), vpc_id=vpc.id,
                                   routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
                                   tags=ctx.tags, opts=ctx.opts())
    public, private = [], []
    for i, (az, cidr) in enumerate(zip(azs, PUBLIC_CIDRS, strict=False), start=1):
        subnet = aws.ec2.Subnet(ctx.name(f"public-{i}"), vpc_id=vpc.id, cidr_block=cidr, availability_zone=az,
                                map_public_ip_on_launch=False, tags={**ctx.tags, "tier": "public"},
                                opts=ctx.opts())
        aws.ec2.RouteTableAssociation(ctx.name(f"public-{i}-rt"), subnet_id=subnet.id,
                                      route_table_id=public_rt.id, opts=ctx.opts())
        public.append(subnet.id)
    private_routes: list[dict[str, object]] = []
    if ctx.has("service"):
        eip = aws.ec2.Eip(ctx.name("nat-ip"), domain="vpc", tags=ctx.tags, opts=ctx.opts())
        nat = aws.ec2.NatGateway(ctx.name("nat"), allocation_id=eip.id, subnet_id=public[0], tags=ctx.tags,
                                 opts=ctx.opts(depends_on=[igw]))
        private_routes.append({"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id})
    private_rt = aws.ec2.RouteTable(ctx.name("private-rt"), vpc_id=vpc.id, routes=private_routes,
                                    tags=ctx.tags, opts=ctx.opts())
    for i, (az, cidr) in enumerate(zip(azs, PRIVATE_CIDRS, strict=False), start=1):
        subnet = aws.ec2.Subnet(ctx.name(f"private-{i}"), vpc_id=vpc.id, cidr_block=cidr, availability_zone=az,
                                tags={**ctx.tags, "tier": "private"}, opts=ctx.opts())
        aws.ec2.RouteTableAssociation(ctx.name(f"private-{i}-rt"), subnet_id=subnet.id,
                                      route_table_id=private_rt.id, opts=ctx.opts())
        private.append(subnet.id)
    app_sg = None
    if ctx.has("service"):
        # Ingress is added by the service builder (from its load balancer only).
        app_sg = aws.ec2.SecurityGroup(
            ctx.name("app-sg"), vpc_id=vpc.id, description=f"infrabot: {ctx.prefix} service tasks",
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            tags=ctx.tags, opts=ctx.opts(),
        ).id
    ctx.vpc = Vpc(vpc_id=vpc.id, cidr=VPC_CIDR, public_subnet_ids=public, private_subnet_ids=private,
                  app_security_group_id=app_sg)
    ctx.export("vpc_id", vpc.id)
    return ctx.vpc


def data_security_group(ctx: AwsContext, base: str, port: int, what: str) -> pulumi.Output[str]:
    """Admits the app's tasks on `port`, or, for an app without a service, the VPC's own range."""
    vpc = ensure_vpc(ctx)
    rule: dict[str, object] = {"protocol": "tcp", "from_port": port, "to_port": port,
                               "description": f"{what} from the app"}
    if vpc.app_security_group_id is not None:
        rule["security_groups"] = [vpc.app_security_group_id]
    else:
        rule["cidr_blocks"] = [vpc.cidr]
    return aws.ec2.SecurityGroup(ctx.name(base, "sg"), vpc_id=vpc.vpc_id,
                                 description=f"infrabot: {ctx.prefix} {what}", ingress=[rule],
                                 tags=ctx.tags, opts=ctx.opts()).id
