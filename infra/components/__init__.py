"""One builder per component kind; each adds its resources and wiring to a shared BuildContext."""

from __future__ import annotations

from collections.abc import Callable

from core.spec import Component
from infra.components import bucket, queue, redis, registry, secret, service, sql
from infra.components.context import BuildContext
from infra.kinds import per_kind

Builder = Callable[[BuildContext, Component, int, int], None]

BUILDERS: dict[str, Builder] = per_kind(registry=registry.build, secret=secret.build, bucket=bucket.build,
                                        queue=queue.build, redis=redis.build, database=sql.build, service=service.build)
