"""Pulumi programs made of dynamic resources, for driving the real CLI without any provider plugin.

The provider runs in a Python process that the CLI starts (the first `python3` on PATH, or
PULUMI_PYTHON_CMD); dill pickles it by reference, so that process imports this module from the repo
root (tests put it on PYTHONPATH). Each component of a spec becomes one resource; a resource's
`delay` makes its create/update/delete take that long, so tests can catch an update mid-flight.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult
from pulumi.dynamic import Resource as DynamicResource

from core.spec import InfraSpec

PROVIDER_KEY = "__provider"
# Inputs whose change needs a new resource, like a bucket's location or a database's engine.
REPLACE_ON = ("location",)
# Not "dbPassword": the engine itself mints that one for database specs.
SECRET_CONFIG = "dbRootPassword"


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


class ThingProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(props.get("delay") or 0))
        if props.get("location") == "fail" and "password" in props:
            # Like a careless provider, the error names a secret input: the engine must scrub it.
            raise RuntimeError(f"quota exceeded creating a database with password {props['password']}")
        return CreateResult(id_=uuid.uuid4().hex[:12], outs={**_inputs(props), "pid": os.getpid()})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = (set(_inputs(olds)) | set(_inputs(news))) - {"pid", "delay"}
        changed = sorted(k for k in keys if olds.get(k) != news.get(k))
        return DiffResult(changes=bool(changed), replaces=[k for k in changed if k in REPLACE_ON],
                          delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        time.sleep(float(news.get("delay") or 0))
        return UpdateResult(outs={**_inputs(news), "pid": os.getpid()})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        time.sleep(float(props.get("delay") or 0))


class Bucket(DynamicResource, module="storage", name="Bucket"):
    def __init__(self, name: str, props: dict[str, Any]) -> None:
        super().__init__(ThingProvider(), name, props)


class Database(DynamicResource, module="sql", name="DatabaseInstance"):
    def __init__(self, name: str, props: dict[str, Any]) -> None:
        super().__init__(ThingProvider(), name, props)


class Topic(DynamicResource, module="pubsub", name="Topic"):
    def __init__(self, name: str, props: dict[str, Any]) -> None:
        super().__init__(ThingProvider(), name, props)


KINDS: dict[str, type[DynamicResource]] = {"bucket": Bucket, "postgres": Database, "queue": Topic}


def program_for(spec: InfraSpec, *, delay: float = 0.0) -> Callable[[], None]:
    """One resource per component; a database takes its password from the stack's secret config."""

    def program() -> None:
        config = pulumi.Config()
        for component in spec.components:
            cls = KINDS[component.kind]
            props: dict[str, Any] = {"size": spec.size_of(component), "location": spec.region, "delay": delay}
            if cls is Database:
                props["password"] = config.require_secret(SECRET_CONFIG)
            resource = cls(f"{spec.stack_name}-{component.kind}", props)
            pulumi.export(f"{component.kind}_id", resource.id)
            if cls is Database:
                pulumi.export("db_password", pulumi.Output.secret(props["password"]))
        pulumi.export("region", spec.region)

    return program
