"""What AWS would answer for the resources and look-ups the AWS program uses, for infra/mocks.py."""

from __future__ import annotations

import hashlib
from typing import Any

MOCK_ACCOUNT = "123456789012"


def _suffix(logical: str, length: int = 8) -> str:
    return hashlib.sha256(logical.encode()).hexdigest()[:length]


def _private_ip(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return f"10.0.{128 + digest[0] % 32}.{max(digest[1], 4)}"


def call(token: str, args: dict[str, Any], region: str) -> dict[str, Any] | None:
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        names = [f"{region}{z}" for z in "abc"]
        return {"id": region, "names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 4)], "groupNames": []}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": MOCK_ACCOUNT, "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/mock", "userId": "MOCK"}
    return None


def computed(typ: str, logical: str, inputs: dict[str, Any], region: str) -> dict[str, Any] | None:
    """Outputs for an `aws:` type token, or None for types it does not know."""
    if not typ.startswith("aws:"):
        return None
    acct = MOCK_ACCOUNT
    sfx = _suffix(logical)
    if typ == "aws:ec2/vpc:Vpc":
        vid = f"vpc-{sfx}"
        return {"id": vid, "arn": f"arn:aws:ec2:{region}:{acct}:vpc/{vid}"}
    if typ == "aws:ec2/subnet:Subnet":
        sid = f"subnet-{sfx}"
        return {"id": sid, "arn": f"arn:aws:ec2:{region}:{acct}:subnet/{sid}"}
    if typ == "aws:ec2/securityGroup:SecurityGroup":
        gid = f"sg-{sfx}"
        return {"id": gid, "arn": f"arn:aws:ec2:{region}:{acct}:security-group/{gid}"}
    if typ in ("aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
               "aws:ec2/routeTable:RouteTable", "aws:ec2/eip:Eip"):
        prefix = {"aws:ec2/internetGateway:InternetGateway": "igw", "aws:ec2/natGateway:NatGateway": "nat",
                  "aws:ec2/routeTable:RouteTable": "rtb", "aws:ec2/eip:Eip": "eipalloc"}[typ]
        out: dict[str, Any] = {"id": f"{prefix}-{sfx}"}
        if typ == "aws:ec2/eip:Eip":
            out["publicIp"] = f"203.0.113.{int(sfx[:2], 16) % 250 + 1}"
        return out
    if typ == "aws:rds/instance:Instance":
        ident = inputs.get("identifier") or f"{inputs.get('identifierPrefix', logical + '-')}{sfx}"
        port = 5432 if inputs.get("engine") == "postgres" else 3306
        host = f"{ident}.c{sfx[:10]}.{region}.rds.amazonaws.com"
        secret = f"arn:aws:secretsmanager:{region}:{acct}:secret:rds!db-{sfx}-{sfx[:6]}"
        return {
            "id": f"db-{sfx.upper()}", "identifier": ident, "address": host, "port": port,
            "endpoint": f"{host}:{port}", "arn": f"arn:aws:rds:{region}:{acct}:db:{ident}",
            "masterUserSecrets": [{"secretArn": secret, "secretStatus": "active", "kmsKeyId": ""}],
        }
    if typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        gid = inputs.get("replicationGroupId") or logical
        return {
            "id": gid, "arn": f"arn:aws:elasticache:{region}:{acct}:replicationgroup:{gid}",
            "primaryEndpointAddress": f"master.{gid}.{sfx[:6]}.{region[:3]}{region[-1]}.cache.amazonaws.com",
            "readerEndpointAddress": f"replica.{gid}.{sfx[:6]}.cache.amazonaws.com",
        }
    if typ == "aws:s3/bucket:Bucket":
        name = inputs.get("bucket") or f"{logical}-{sfx}"
        return {"id": name, "bucket": name, "arn": f"arn:aws:s3:::{name}",
                "bucketDomainName": f"{name}.s3.amazonaws.com", "region": region}
    if typ == "aws:sqs/queue:Queue":
        name = inputs.get("name") or f"{logical}-{sfx[:7]}"
        url = f"https://sqs.{region}.amazonaws.com/{acct}/{name}"
        return {"id": url, "name": name, "url": url, "arn": f"arn:aws:sqs:{region}:{acct}:{name}"}
    if typ == "aws:secretsmanager/secret:Secret":
        name = inputs.get("name") or f"{inputs.get('namePrefix', logical + '-')}{sfx}"
        arn = f"arn:aws:secretsmanager:{region}:{acct}:secret:{name}-{sfx[:6]}"
        return {"id": arn, "arn": arn, "name": name}
    if typ == "aws:secretsmanager/secretVersion:SecretVersion":
        return {"id": f"{inputs.get('secretId')}|v-{sfx}", "versionId": f"v-{sfx}", "arn": inputs.get("secretId")}
    if typ == "aws:ecr/repository:Repository":
        name = inputs.get("name") or logical
        return {"id": name, "name": name, "arn": f"arn:aws:ecr:{region}:{acct}:repository/{name}",
                "repositoryUrl": f"{acct}.dkr.ecr.{region}.amazonaws.com/{name}", "registryId": acct}
    if typ == "aws:iam/role:Role":
        name = inputs.get("name") or f"{logical}-{sfx[:7]}"
        return {"id": name, "name": name, "arn": f"arn:aws:iam::{acct}:role/{name}", "uniqueId": f"AROA{sfx.upper()}"}
    if typ == "aws:ecs/cluster:Cluster":
        name = inputs.get("name") or f"{logical}-{sfx[:7]}"
        arn = f"arn:aws:ecs:{region}:{acct}:cluster/{name}"
        return {"id": arn, "arn": arn, "name": name}
    if typ == "aws:ecs/taskDefinition:TaskDefinition":
        family = inputs.get("family") or logical
        arn = f"arn:aws:ecs:{region}:{acct}:task-definition/{family}:1"
        return {"id": family, "arn": arn, "revision": 1, "arnWithoutRevision": arn.rsplit(":", 1)[0]}
    if typ == "aws:ecs/service:Service":
        name = inputs.get("name") or f"{logical}-{sfx[:7]}"
        return {"id": f"arn:aws:ecs:{region}:{acct}:service/{name}", "name": name}
    if typ == "aws:lb/loadBalancer:LoadBalancer":
        name = inputs.get("name") or logical[:24]
        arn = f"arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/app/{name}/{sfx}"
        host = f"{name}-{int(sfx, 16) % 10**9}.{region}.elb.amazonaws.com"
        return {"id": arn, "arn": arn, "name": name, "dnsName": host,
                "zoneId": "Z35SXDOTRQ7X7K", "arnSuffix": f"app/{name}/{sfx}"}
    if typ == "aws:lb/targetGroup:TargetGroup":
        arn = f"arn:aws:elasticloadbalancing:{region}:{acct}:targetgroup/{logical[:20]}/{sfx}"
        return {"id": arn, "arn": arn, "name": logical[:32]}
    if typ == "aws:lb/listener:Listener":
        arn = f"arn:aws:elasticloadbalancing:{region}:{acct}:listener/app/{sfx}"
        return {"id": arn, "arn": arn}
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        name = inputs.get("name") or logical
        return {"id": name, "name": name, "arn": f"arn:aws:logs:{region}:{acct}:log-group:{name}"}
    if typ in ("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup"):
        name = inputs.get("name") or f"{logical}-{sfx[:7]}"
        return {"id": name, "name": name}
    return {"id": f"{logical}-{sfx}"}
