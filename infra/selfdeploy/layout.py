"""What infrabot's own deployment is made of, and who may read which secret.

The security split lives here as data so that the program, the README and the tests agree on it:
only the worker's service account gets project roles, and each secret is readable by exactly the
services that mount it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# The worker creates and changes the teams' infrastructure (infra/components): nothing else may.
WORKER_PROJECT_ROLES: tuple[str, ...] = (
    "roles/run.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/resourcemanager.projectIamAdmin",
    "roles/cloudsql.admin",
    "roles/redis.admin",
    "roles/storage.admin",
    "roles/pubsub.admin",
    "roles/secretmanager.admin",
    "roles/artifactregistry.admin",
    "roles/compute.networkAdmin",
    "roles/servicenetworking.networksAdmin",
)

APIS: tuple[str, ...] = (
    "run.googleapis.com", "redis.googleapis.com", "secretmanager.googleapis.com",
    "artifactregistry.googleapis.com", "compute.googleapis.com", "sqladmin.googleapis.com",
    "pubsub.googleapis.com", "servicenetworking.googleapis.com", "iam.googleapis.com",
    "cloudresourcemanager.googleapis.com",
)

Process = Literal["web", "worker", "discord"]


@dataclass(frozen=True)
class SecretSpec:
    secret_id: str
    env: str
    mounted_by: tuple[Process, ...]
    # Filled by the program (REDIS_URL from Memorystore); the others get their value from the operator.
    generated: bool = False


@dataclass(frozen=True)
class DeployConfig:
    project: str
    region: str = "us-central1"
    prefix: str = "infrabot"
    image: str = ""
    worker_image: str = ""
    # "atlas": MONGODB_URL is a secret the operator fills; "firestore": Firestore with MongoDB
    # compatibility (Enterprise edition) is created too, and its connection string goes in the same secret.
    mongodb: Literal["atlas", "firestore"] = "atlas"
    slack: bool = True
    discord: bool = False
    web_min_instances: int = 1
    workers: int = 1
    labels: dict[str, str] = field(default_factory=lambda: {"managed-by": "infrabot", "app": "infrabot"})

    def __post_init__(self) -> None:
        if self.web_min_instances < 1:
            raise ValueError("the web front must keep at least one instance (Slack expects an answer in 3 s)")
        if self.workers < 1:
            raise ValueError("at least one worker is needed")

    def images(self) -> tuple[str, str]:
        """Chat and worker image; by default the Artifact Registry repository this program creates."""
        registry = f"{self.region}-docker.pkg.dev/{self.project}/{self.prefix}"
        return self.image or f"{registry}/infrabot:latest", self.worker_image or f"{registry}/infrabot-worker:latest"

    def secrets(self) -> list[SecretSpec]:
        chat: tuple[Process, ...] = ("web", "discord") if self.discord else ("web",)
        found = [
            SecretSpec("redis-url", "REDIS_URL", (*chat, "worker"), generated=True),
            SecretSpec("mongodb-url", "MONGODB_URL", (*chat, "worker")),
            SecretSpec("pulumi-config-passphrase", "PULUMI_CONFIG_PASSPHRASE", ("worker",)),
        ]
        if self.slack:
            found += [SecretSpec("slack-bot-token", "SLACK_BOT_TOKEN", ("web",)),
                      SecretSpec("slack-signing-secret", "SLACK_SIGNING_SECRET", ("web",))]
        if self.discord:
            found.append(SecretSpec("discord-token", "DISCORD_TOKEN", ("discord",)))
        return found

    def processes(self) -> list[Process]:
        return ["web", "worker", *(["discord"] if self.discord else [])]  # type: ignore[list-item]
