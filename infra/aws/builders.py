"""AWS builders, one per component kind, sharing an AwsContext like the GCP ones share a BuildContext."""

from __future__ import annotations

from collections.abc import Callable

from core.spec import Component
from infra.aws import ecr, ecs, elasticache, rds, s3, secrets, sqs
from infra.aws.context import AwsContext
from infra.kinds import per_kind

AwsBuilder = Callable[[AwsContext, Component, int, int], None]

BUILDERS: dict[str, AwsBuilder] = per_kind(registry=ecr.build, secret=secrets.build, bucket=s3.build, queue=sqs.build,
                                            redis=elasticache.build, database=rds.build, service=ecs.build)
