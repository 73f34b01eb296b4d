"""Runs a Pulumi program against Pulumi's own mock runtime: no CLI, no plugins, no cloud.

The Python runtime keeps its settings (monitor, stack, root resource, config) in context variables.
Each evaluation therefore runs on a fresh thread inside an empty `contextvars.Context` with its own
event loop, so nothing leaks from one run into the next; a process-wide lock keeps runs one at a
time because a few runtime pieces (callback server, default values of those variables) are global.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func

from infra import aws_mocks

_EVALUATION_LOCK = threading.Lock()


def project_number(project: str) -> str:
    return str(int(hashlib.sha256(project.encode()).hexdigest(), 16))[:12]


def _private_ip(seed: str, third: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return f"10.{third}.{digest[0]}.{max(digest[1], 2)}"


@dataclass(frozen=True)
class MockedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class Evaluation:
    resources: list[MockedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)


class InfraMocks(pulumi.runtime.Mocks):
    """Answers like GCP (and, through infra/aws_mocks.py, AWS) would, closely enough that every output
    the program exports is realistic."""

    def __init__(self, project: str, region: str) -> None:
        self.project = project
        self.region = region
        self.resources: list[MockedResource] = []
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        computed = self._computed(args.typ, args.name, inputs)
        outputs = {**inputs, **computed}
        with self._lock:
            self.resources.append(MockedResource(args.typ, args.name, inputs, outputs))
        return str(computed.get("id") or f"{args.name}-id"), outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        answer = aws_mocks.call(args.token, dict(args.args), self.region)
        if answer is not None:
            return answer, []
        if args.token == "gcp:organizations/getProject:getProject":
            project = args.args.get("projectId") or self.project
            return {"number": project_number(project), "projectId": project, "name": project}, []
        # The environment's shared network, as if its stack had been set up (infra/shared_network.py).
        if args.token == "gcp:compute/getNetwork:getNetwork":
            project = args.args.get("project") or self.project
            path = f"projects/{project}/global/networks/{args.args['name']}"
            link = f"https://www.googleapis.com/compute/v1/{path}"
            return {"id": path, "name": args.args["name"], "selfLink": link}, []
        if args.token == "gcp:compute/getSubnetwork:getSubnetwork":
            project = args.args.get("project") or self.project
            region = args.args.get("region") or self.region
            path = f"projects/{project}/regions/{region}/subnetworks/{args.args['name']}"
            return {"id": path, "name": args.args["name"], "region": region}, []
        return {}, []

    def _computed(self, typ: str, logical: str, inputs: dict[str, Any]) -> dict[str, Any]:
        aws_outputs = aws_mocks.computed(typ, logical, inputs, self.region)
        if aws_outputs is not None:
            return aws_outputs
        project = inputs.get("project") or self.project
        region = inputs.get("region") or inputs.get("location") or self.region
        name = inputs.get("name") or f"{logical}-{hashlib.sha256(logical.encode()).hexdigest()[:7]}"
        if typ == "random:index/randomPassword:RandomPassword":
            # Random per evaluation, like a first apply; the offline diff never compares its value.
            length = int(inputs.get("length", 32))
            return {"result": secrets.token_urlsafe(length)[:length], "id": "none"}
        if typ == "gcp:projects/serviceIdentity:ServiceIdentity":
            service = inputs["service"]
            agent = f"service-{project_number(project)}@gcp-sa-{service.split('.')[0]}.iam.gserviceaccount.com"
            return {"email": agent, "member": f"serviceAccount:{agent}", "id": f"projects/{project}/services/{service}"}
        if typ == "gcp:projects/service:Service":
            return {"id": f"{project}/{inputs['service']}"}
        if typ == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            return {
                "email": email,
                "member": f"serviceAccount:{email}",
                "name": f"projects/{project}/serviceAccounts/{email}",
                "id": email,
            }
        if typ == "gcp:cloudrunv2/service:Service":
            uri = f"https://{name}-{project_number(project)}.{region}.run.app"
            return {
                "name": name,
                "uri": uri,
                "urls": [uri],
                "id": f"projects/{project}/locations/{region}/services/{name}",
            }
        if typ == "gcp:sql/databaseInstance:DatabaseInstance":
            return {
                "name": name,
                "connectionName": f"{project}:{region}:{name}",
                "privateIpAddress": _private_ip(name, 20),
                "id": name,
                "selfLink": f"https://sqladmin.googleapis.com/sql/v1beta4/projects/{project}/instances/{name}",
            }
        if typ == "gcp:redis/instance:Instance":
            tls = inputs.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
            out: dict[str, Any] = {
                "name": name,
                "host": _private_ip(name, 30),
                "port": 6378 if tls else 6379,
                "id": f"projects/{project}/locations/{region}/instances/{name}",
            }
            if inputs.get("authEnabled"):
                out["authString"] = secrets.token_hex(16)
            if tls:
                pem = f"-----BEGIN CERTIFICATE-----\nmock-{name}\n-----END CERTIFICATE-----"
                out["serverCaCerts"] = [{"cert": pem}]
            return out
        if typ == "gcp:storage/bucket:Bucket":
            return {
                "name": name,
                "url": f"gs://{name}",
                "id": name,
                "selfLink": f"https://www.googleapis.com/storage/v1/b/{name}",
            }
        if typ == "gcp:pubsub/topic:Topic":
            return {"name": name, "id": f"projects/{project}/topics/{name}"}
        if typ == "gcp:pubsub/subscription:Subscription":
            return {"name": name, "id": f"projects/{project}/subscriptions/{name}"}
        if typ == "gcp:secretmanager/secret:Secret":
            path = f"projects/{project}/secrets/{inputs['secretId']}"
            return {"name": path, "id": path}
        if typ == "gcp:secretmanager/secretVersion:SecretVersion":
            path = f"{inputs.get('secret')}/versions/1"
            return {"name": path, "id": path, "version": "1"}
        if typ == "gcp:artifactregistry/repository:Repository":
            repo = inputs["repositoryId"]
            return {"name": repo, "id": f"projects/{project}/locations/{region}/repositories/{repo}"}
        if typ == "gcp:compute/network:Network":
            path = f"projects/{project}/global/networks/{name}"
            return {"name": name, "id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}
        if typ == "gcp:compute/subnetwork:Subnetwork":
            path = f"projects/{project}/regions/{region}/subnetworks/{name}"
            return {"name": name, "id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}
        if typ == "gcp:compute/globalAddress:GlobalAddress":
            return {
                "name": name,
                "address": "10.100.0.0",
                "id": f"projects/{project}/global/addresses/{name}",
            }
        if typ == "gcp:servicenetworking/connection:Connection":
            return {"peering": "servicenetworking-googleapis-com"}
        if typ.endswith("IAMMember") or typ.endswith("IamMember"):
            return {"etag": "BwY" + hashlib.sha256(logical.encode()).hexdigest()[:9]}
        return {}


def _resolve_outputs(root: Any) -> Any:
    async def resolve() -> tuple[dict[str, Any], set[str]]:
        values: dict[str, Any] = {}
        secret: set[str] = set()
        for key, value in dict(getattr(root, "outputs", {}) or {}).items():
            output = pulumi.Output.from_input(value)
            values[key] = await output.future() if await output.is_known() else None
            if await output.is_secret():
                secret.add(key)
        return values, secret

    return resolve()


def _run_isolated(
    program: Callable[[], None],
    mocks: InfraMocks,
    stack: str,
    project_name: str,
    config: dict[str, str],
    preview: bool,
) -> tuple[dict[str, Any], set[str]]:
    worker_loops: list[asyncio.AbstractEventLoop] = []

    def init_worker() -> None:
        # The mock monitor runs on the executor's threads and needs an event loop there; owning
        # those loops lets us close them instead of leaving them to the garbage collector.
        worker_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(worker_loop)
        worker_loops.append(worker_loop)

    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(max_workers=4, initializer=init_worker, thread_name_prefix="pulumi-mock")
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.set_mocks(mocks, project=project_name, stack=stack, preview=preview)
        set_all_config(dict(config))
        root = runtime_settings.get_root_resource()

        async def drive() -> tuple[dict[str, Any], set[str]]:
            await run_pulumi_func(program)
            return await _resolve_outputs(root)

        return loop.run_until_complete(drive())
    finally:
        executor.shutdown(wait=True)
        for worker_loop in worker_loops:
            worker_loop.close()
        loop.close()
        asyncio.set_event_loop(None)


def evaluate(
    program: Callable[[], None],
    *,
    project: str,
    region: str,
    stack: str,
    project_name: str = "infrabot",
    config: dict[str, str] | None = None,
    preview: bool = True,
) -> Evaluation:
    """Runs `program` under mocks and returns what it registered. Blocking; safe from any thread."""
    mocks = InfraMocks(project, region)
    full_config = {"gcp:project": project, "gcp:region": region, **(config or {})}
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = contextvars.Context().run(
                _run_isolated, program, mocks, stack, project_name, full_config, preview
            )
        except BaseException as exc:
            box["error"] = exc

    with _EVALUATION_LOCK:
        thread = threading.Thread(target=target, name="pulumi-mock-eval", daemon=True)
        thread.start()
        thread.join()
    if "error" in box:
        raise box["error"]
    outputs, secret = box["result"]
    resources = sorted(mocks.resources, key=lambda r: (r.name, r.type))
    return Evaluation(resources=resources, outputs=outputs, secret_outputs=secret)
