"""The Pulumi program for infrabot itself on GCP.

Web (chat page and Slack HTTP endpoint) runs on Cloud Run with at least one instance and CPU always
allocated, so Slack's 3-second deadline never meets a cold start. The worker, and the Discord bot when
enabled, are Cloud Run worker pools: no ingress at all. Both reach Memorystore over Direct VPC egress.
Each process has its own service account; only the worker's has project roles, and each secret can be
read by exactly the services that mount it (layout.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.selfdeploy.layout import APIS, WORKER_PROJECT_ROLES, DeployConfig, Process

PULUMI_PROJECT = "infrabot-self"
METRICS_PORT = 9464
SUBNET_RANGE = "10.8.0.0/24"


def _redis_url(args: list[Any]) -> str:
    host, port, auth = args
    # Under mocks (preview) the AUTH string is not known yet; Memorystore fills it on a real apply.
    return f"redis://:{auth}@{host}:{port}/0" if auth else f"redis://{host}:{port}/0"


def make_program(cfg: DeployConfig) -> Callable[[], None]:
    def program() -> None:
        provider = gcp.Provider("gcp", project=cfg.project, region=cfg.region)

        def opts(**kwargs: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(provider=provider, **kwargs)

        def name(*parts: str) -> str:
            return "-".join([cfg.prefix, *parts])

        wanted = [*APIS, *(["firestore.googleapis.com"] if cfg.mongodb == "firestore" else [])]
        apis = [gcp.projects.Service(name("api", api.split(".")[0]), service=api, disable_on_destroy=False,
                                     opts=opts()) for api in wanted]
        after_apis = opts(depends_on=apis)
        chat_image, worker_image = cfg.images()

        registry = gcp.artifactregistry.Repository(
            name("images"), repository_id=cfg.prefix, format="DOCKER", location=cfg.region, labels=cfg.labels,
            opts=after_apis,
        )
        # Where the workers keep the teams' Pulumi state: every worker, and a restarted one, sees the same.
        state = gcp.storage.Bucket(
            name("pulumi-state"), name=f"{cfg.project}-{cfg.prefix}-pulumi-state", location=cfg.region,
            uniform_bucket_level_access=True, public_access_prevention="enforced",
            versioning={"enabled": True}, force_destroy=False, labels=cfg.labels,
            opts=opts(protect=True),
        )
        network = gcp.compute.Network(name("vpc"), name=name("vpc"), auto_create_subnetworks=False,
                                      opts=after_apis)
        subnet = gcp.compute.Subnetwork(
            name("subnet"), name=name("subnet"), network=network.id, region=cfg.region, ip_cidr_range=SUBNET_RANGE,
            private_ip_google_access=True, opts=opts(),
        )
        redis = gcp.redis.Instance(
            name("redis"), name=name("redis"), tier="BASIC", memory_size_gb=1, region=cfg.region,
            redis_version="REDIS_7_2", authorized_network=network.id, connect_mode="DIRECT_PEERING",
            auth_enabled=True, labels=cfg.labels, opts=after_apis,
        )
        if cfg.mongodb == "firestore":
            gcp.firestore.Database(
                name("mongodb"), name=cfg.prefix, location_id=cfg.region, type="FIRESTORE_NATIVE",
                database_edition="ENTERPRISE", delete_protection_state="DELETE_PROTECTION_ENABLED",
                opts=after_apis,
            )

        accounts = {
            process: gcp.serviceaccount.Account(
                name(process, "sa"), account_id=f"{cfg.prefix}-{process}"[:30],
                display_name=f"infrabot {process}", opts=after_apis,
            )
            for process in cfg.processes()
        }
        members = {p: a.email.apply(lambda email: f"serviceAccount:{email}") for p, a in accounts.items()}
        grants: list[pulumi.Resource] = [
            gcp.projects.IAMMember(name("worker", role.removeprefix("roles/").replace(".", "-").lower()),
                                   project=cfg.project, role=role, member=members["worker"], opts=opts())
            for role in WORKER_PROJECT_ROLES
        ]
        grants.append(gcp.storage.BucketIAMMember(
            name("worker", "state"), bucket=state.name, role="roles/storage.objectAdmin",
            member=members["worker"], opts=opts(),
        ))

        secrets: dict[str, gcp.secretmanager.Secret] = {}
        readers: dict[Process, list[pulumi.Resource]] = {p: [] for p in cfg.processes()}
        for spec in cfg.secrets():
            secret = gcp.secretmanager.Secret(
                name("secret", spec.secret_id), secret_id=f"{cfg.prefix}-{spec.secret_id}",
                replication={"auto": {}}, labels=cfg.labels, opts=after_apis,
            )
            secrets[spec.secret_id] = secret
            for process in spec.mounted_by:
                readers[process].append(gcp.secretmanager.SecretIamMember(
                    name(process, "reads", spec.secret_id), secret_id=secret.id,
                    role="roles/secretmanager.secretAccessor", member=members[process], opts=opts(),
                ))
        redis_version = gcp.secretmanager.SecretVersion(
            name("secret", "redis-url", "value"), secret=secrets["redis-url"].id,
            secret_data=pulumi.Output.secret(
                pulumi.Output.all(redis.host, redis.port, redis.auth_string).apply(_redis_url)
            ),
            opts=opts(),
        )

        plain = {"ENGINE": "pulumi", "LOG_FORMAT": "json", "GCP_PROJECT": cfg.project, "MONGODB_DB": "infrabot",
                 "SHUTDOWN_GRACE_SECONDS": "25"}

        def envs(process: Process, extra: dict[str, pulumi.Input[str]] | None = None) -> list[dict[str, Any]]:
            values = [{"name": k, "value": v} for k, v in {**plain, **(extra or {})}.items()]
            mounted = [
                {"name": s.env, "value_source": {"secret_key_ref": {"secret": secrets[s.secret_id].secret_id,
                                                                    "version": "latest"}}}
                for s in cfg.secrets() if process in s.mounted_by
            ]
            return values + mounted

        # Direct VPC egress: private ranges (Memorystore) through the VPC, the internet as usual.
        vpc = {"egress": "PRIVATE_RANGES_ONLY",
               "network_interfaces": [{"network": network.id, "subnetwork": subnet.id}]}

        web = gcp.cloudrunv2.Service(
            name("web"), name=name("web"), location=cfg.region, ingress="INGRESS_TRAFFIC_ALL",
            deletion_protection=False, labels=cfg.labels,
            template={
                "service_account": accounts["web"].email,
                "scaling": {"min_instance_count": cfg.web_min_instances, "max_instance_count": 10},
                "vpc_access": vpc,
                "containers": [{
                    "image": chat_image, "args": ["infrabot", "web"],
                    "ports": {"container_port": 8000},
                    "envs": envs("web"),
                    # cpu_idle=False: CPU always allocated, so the status relay keeps running between requests.
                    "resources": {"cpu_idle": False, "startup_cpu_boost": True,
                                  "limits": {"cpu": "1", "memory": "512Mi"}},
                    "startup_probe": {"http_get": {"path": "/readyz"}, "period_seconds": 5, "failure_threshold": 12},
                    "liveness_probe": {"http_get": {"path": "/livez"}, "period_seconds": 15},
                }],
            },
            opts=opts(depends_on=[*readers["web"], redis_version, registry]),
        )
        if cfg.slack:
            # Slack posts events and button presses to /slack/events from the internet.
            gcp.cloudrunv2.ServiceIamMember(name("web", "public"), name=web.name, location=cfg.region,
                                            role="roles/run.invoker", member="allUsers", opts=opts())

        def pool(process: Process, image: str, extra: dict[str, pulumi.Input[str]], depends: list[pulumi.Resource],
                 count: int, memory: str) -> gcp.cloudrunv2.WorkerPool:
            return gcp.cloudrunv2.WorkerPool(
                name(process), name=name(process), location=cfg.region, launch_stage="BETA",
                deletion_protection=False, labels=cfg.labels,
                scaling={"scaling_mode": "MANUAL", "manual_instance_count": count},
                template={
                    "service_account": accounts[process].email,
                    "vpc_access": vpc,
                    "containers": [{"image": image, "args": ["infrabot", process], "envs": envs(process, extra),
                                    "resources": {"limits": {"cpu": "1", "memory": memory}}}],
                },
                opts=opts(depends_on=[*readers[process], *depends, redis_version, registry]),
            )

        worker = pool("worker", worker_image,
                      {"PULUMI_BACKEND_URL": state.url, "METRICS_PORT": str(METRICS_PORT)}, grants, cfg.workers, "2Gi")
        if cfg.discord:
            pool("discord", chat_image, {"METRICS_PORT": str(METRICS_PORT)}, [], 1, "512Mi")

        pulumi.export("web_url", web.uri)
        pulumi.export("worker_pool", worker.name)
        pulumi.export("state_bucket", state.url)
        pulumi.export("registry", registry.name.apply(
            lambda repo: f"{cfg.region}-docker.pkg.dev/{cfg.project}/{repo}"))
        pulumi.export("redis_host", redis.host)
        pulumi.export("accounts", {p: a.email for p, a in accounts.items()})

    return program
