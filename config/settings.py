"""All runtime configuration, read from the environment and an optional `.env` file."""

from __future__ import annotations

import re
import shutil
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.aws_service import PLACEHOLDER_IMAGE, ServiceOptions, check_image, parse_certificate_arns


def _default_engine() -> str:
    return "pulumi" if shutil.which("pulumi") else "offline"


MIN_WEB_CHAT_TOKEN = 24
_SLACK_TEAM = re.compile(r"[TE][A-Z0-9]{2,}")
_SLACK_BOT_TOKEN = re.compile(r"xoxb-[A-Za-z0-9-]+")


def parse_slack_bot_tokens(value: str) -> dict[str, str]:
    """`T0123=xoxb-...,T0456=xoxb-...` to {team id: bot token}.

    Errors name the entry by position only: a malformed entry may well be a bare token.
    """
    tokens: dict[str, str] = {}
    entries = [e.strip() for e in value.split(",") if e.strip()]
    if not entries:
        raise ValueError("has no TEAM_ID=xoxb-... entries")
    for n, entry in enumerate(entries, start=1):
        team, sep, token = (part.strip() for part in entry.partition("="))
        if not sep or not _SLACK_TEAM.fullmatch(team) or not _SLACK_BOT_TOKEN.fullmatch(token):
            raise ValueError(f"entry {n} of {len(entries)} is not TEAM_ID=xoxb-... "
                             "(team ids look like T0123ABCD; entries are separated by commas)")
        if team in tokens:
            raise ValueError(f"team {team} is listed twice")
        tokens[team] = token
    return tokens


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    redis_url: str | None = None
    mongodb_url: str | None = None
    mongodb_db: str = "infrabot"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    context_ttl_seconds: int = Field(default=1800, ge=1, le=7 * 24 * 3600)
    engine: Literal["offline", "pulumi"] = Field(default_factory=_default_engine)
    data_dir: str = ".data"
    local_redis_port: int = Field(default=6390, ge=1, le=65535)
    local_mongodb_port: int = Field(default=27027, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # /metrics, /livez and /readyz for the worker, Slack Socket Mode and Discord processes (web uses PORT).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # On SIGTERM: how long chat turns and running jobs get to finish before the process exits.
    shutdown_grace_seconds: float = Field(default=25.0, ge=0, le=3600)
    max_message_chars: int = Field(default=4000, ge=100)
    worker_poll_delay: float = Field(default=0.05, gt=0, le=5)
    # `infrabot worker` lowers its own CPU priority by this much (Unix nice) at start: on a machine it shares
    # with chat processes, plans and applies then wait for a free core instead of a user waiting for a reply.
    # 0 keeps the priority it was started with.
    worker_nice: int = Field(default=10, ge=0, le=19)
    job_timeout_seconds: int = Field(default=1800, ge=30)
    job_lease_seconds: float = Field(default=30.0, gt=0, le=600)
    # A job not finished this long after it was queued is failed by the reconciler, with a message.
    job_deadline_seconds: int = Field(default=6 * 3600, ge=60)
    # Seconds the offline engine spends per resource (preview and apply), so demos and fault tests look
    # like real changes; 0 is instant.
    offline_step_seconds: float = Field(default=0.0, ge=0, le=60)

    pulumi_backend_url: str | None = None
    pulumi_config_passphrase: SecretStr | None = None
    # A file:// backend is one machine's disk: a second worker or a new container would not see the state.
    allow_local_pulumi_state: bool = False
    gcp_project: str = "infrabot-demo"
    # The AWS `service` kind (README, AWS): the image its tasks start with until the team deploys its own,
    # the port that image listens on, and ACM certificates for HTTPS at the load balancer, one per region
    # at most; a stack in a region without one is served over plain HTTP.
    aws_service_image: str = PLACEHOLDER_IMAGE
    aws_service_port: int = Field(default=80, ge=1, le=65535)
    aws_certificate_arns: str = ""

    slack_bot_token: SecretStr | None = None
    # Several workspaces from one deployment: `T0123=xoxb-...,T0456=xoxb-...` (README, Slack section).
    slack_bot_tokens: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    # Who shows Slack's status cards: `chat`, the process that serves Slack; `relay`, `infrabot relay`, a
    # process of its own (`infrabot run` starts one and sets this), so that card edits never wait in the
    # same event loop as a reply, nor a reply behind them.
    slack_cards: Literal["chat", "relay"] = "chat"
    # `infrabot relay` can lower its own CPU priority by this much (Unix nice). 0 by default: under the Slack
    # benchmark at 50 conversations, nice 5 made cards slower (any phase p99 0.9-1.6 s against 0.8-1.1 s)
    # and replies no faster.
    relay_nice: int = Field(default=0, ge=0, le=19)

    # Needed to reach the web chat when HOST is not a loopback address (README, "Security model").
    web_chat_token: SecretStr | None = None

    discord_token: SecretStr | None = None
    discord_guild_ids: str = ""
    discord_message_content: bool = False

    # Guardrails and roles (formats in config/policy.py); unset means "use POLICY_FILE, then the default".
    allowed_regions: str | None = None
    clouds: str = "gcp,aws"
    default_cloud: Literal["gcp", "aws"] = "gcp"
    allowed_clouds: str | None = None
    max_size: str | None = None
    min_size: str | None = None
    allowed_components: str | None = None
    approval_environments: str | None = None
    role_rules: str | None = None
    max_monthly_cost_usd: str | None = None
    max_components: str | None = None
    policy_file: str | None = None
    # A plan older than this can no longer be approved: the stack and prices may have moved on.
    plan_ttl_seconds: int = Field(default=24 * 3600, ge=60)

    # Optional language-model fallback for messages the rules can't place (OpenAI-compatible endpoint).
    llm_url: str | None = None
    llm_model: str = ""
    llm_api_key: SecretStr | None = None

    @field_validator(
        "allowed_regions", "max_size", "min_size", "allowed_components", "approval_environments",
        "role_rules", "max_monthly_cost_usd", "max_components", "allowed_clouds", "policy_file",
    )
    @classmethod
    def _policy_parses(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Parsing here makes a malformed rule stop start-up with one line naming the variable.
        from config.policy import check_setting

        check_setting(str(info.field_name), value)
        return value

    @field_validator("aws_service_image")
    @classmethod
    def _aws_image(cls, value: str) -> str:
        return check_image(value)

    @field_validator("aws_certificate_arns")
    @classmethod
    def _aws_certificates(cls, value: str) -> str:
        parse_certificate_arns(value)
        return value

    @property
    def aws_service(self) -> ServiceOptions:
        return ServiceOptions(image=self.aws_service_image, port=self.aws_service_port,
                              certificates=parse_certificate_arns(self.aws_certificate_arns))

    @field_validator("slack_bot_tokens", mode="before")
    @classmethod
    def _slack_bot_tokens_parse(cls, value: object) -> object:
        # Checked before the value becomes a SecretStr so a mistake stops start-up, with no token in the line.
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            if not value.strip():
                return None
            parse_slack_bot_tokens(value)
        return value

    @field_validator("discord_guild_ids")
    @classmethod
    def _guild_ids_are_ids(cls, value: str) -> str:
        if any(not g.isdigit() for g in value.replace(" ", "").split(",") if g):
            raise ValueError("must be Discord server ids separated by commas, like 112233445566778899,998877665544")
        return value

    @field_validator("web_chat_token", mode="before")
    @classmethod
    def _web_chat_token_strong(cls, value: object) -> object:
        # The message never repeats the value: it is a secret even when it is a bad one.
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if len(value) < MIN_WEB_CHAT_TOKEN or any(c.isspace() for c in value):
                raise ValueError(f"must be at least {MIN_WEB_CHAT_TOKEN} characters with no spaces "
                                 "(for example the output of `openssl rand -hex 32`)")
        return value

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _blank_port_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url", "mongodb_url", "slack_api_url", "pulumi_backend_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("mongodb_url")
    @classmethod
    def _mongo_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("must start with mongodb:// or mongodb+srv://")
        return value

    @property
    def slack_team_tokens(self) -> dict[str, str]:
        """Bot token per team id from SLACK_BOT_TOKENS (empty when unset)."""
        return parse_slack_bot_tokens(self.slack_bot_tokens.get_secret_value()) if self.slack_bot_tokens else {}

    @property
    def slack_enabled(self) -> bool:
        has_token = self.slack_bot_token is not None or self.slack_bot_tokens is not None
        return has_token and (self.slack_signing_secret is not None or self.slack_app_token is not None)

    @property
    def discord_enabled(self) -> bool:
        return self.discord_token is not None

    @property
    def guild_ids(self) -> list[int]:
        return [int(g) for g in self.discord_guild_ids.replace(" ", "").split(",") if g]


class SettingsError(SystemExit):
    """Raised with one readable line naming the offending variable."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"infrabot: invalid setting {name}: {message}") from None

