"""Keeps cloud credentials out of chat-facing processes.

Only `infrabot worker` may hold them. `infrabot web|slack|discord` stop at start-up when they find
any in their environment or in their settings (`.env`), and `infrabot run` hands them to the worker
alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings

CLOUD_CREDENTIAL_VARS: tuple[str, ...] = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CREDENTIALS",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
    "GOOGLE_GHA_CREDS_PATH",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_SHARED_CREDENTIALS_FILE",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
)

# Chat-side secrets: the worker (and the Pulumi CLI and plugins it runs) must never hold them.
CHAT_SECRET_PREFIXES: tuple[str, ...] = ("SLACK_", "DISCORD_")
CHAT_SECRET_VARS: tuple[str, ...] = ("WEB_CHAT_TOKEN",)
CHAT_ONLY_SETTINGS: tuple[str, ...] = (
    "slack_bot_token", "slack_bot_tokens", "slack_signing_secret", "slack_app_token", "discord_token",
    "web_chat_token",
)

# Settings fields only the worker needs, which a chat process would otherwise read from `.env`.
WORKER_ONLY_SETTINGS: tuple[str, ...] = ("pulumi_config_passphrase",)


def found_credentials(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    return [name for name in CLOUD_CREDENTIAL_VARS if env.get(name)]


def found_in_settings(settings: Settings) -> list[str]:
    found = []
    for name in WORKER_ONLY_SETTINGS:
        value = getattr(settings, name, None)
        secret = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if secret:
            found.append(name.upper())
    return found


def refuse_credentials(
    process: str, env: Mapping[str, str] | None = None, settings: Settings | None = None
) -> None:
    """Stops a bot/web process that was started with cloud credentials; names them, never their values."""
    found = found_credentials(env)
    if found:
        raise SystemExit(
            f"infrabot {process}: refusing to start: cloud credentials found in the environment "
            f"({', '.join(found)}). Only `infrabot worker` may hold them; remove them from this process."
        )
    in_settings = found_in_settings(settings) if settings is not None else []
    if in_settings:
        raise SystemExit(
            f"infrabot {process}: refusing to start: {', '.join(in_settings)} is set in the settings (.env). "
            "Only `infrabot worker` may hold it; give it to the worker's environment instead."
        )


def split_env(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(chat process env, worker env) for `infrabot run`: credentials go to the worker only, chat tokens
    to the chat processes only.

    The chat side gets worker-only settings set to empty, so that a shared `.env` cannot hand
    them back (an environment variable, even empty, wins over `.env`).
    """
    worker = worker_env(env)
    chat = {k: v for k, v in env.items() if k not in CLOUD_CREDENTIAL_VARS}
    chat.update({name.upper(): "" for name in WORKER_ONLY_SETTINGS})
    return chat, worker


def chat_secret_names(env: Mapping[str, str] | None = None) -> list[str]:
    """Names (never values) of the chat tokens and settings present in `env`."""
    env = os.environ if env is None else env
    return sorted(
        name for name in env if name.startswith(CHAT_SECRET_PREFIXES) or name in CHAT_SECRET_VARS
    )


def worker_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without chat tokens: what a worker process, and everything it starts, may see."""
    drop = set(chat_secret_names(env))
    return {k: v for k, v in env.items() if k not in drop}


def drop_chat_secrets(settings: Settings, environ: MutableMapping[str, str] | None = None) -> Settings:
    """For `infrabot worker`: forget chat tokens from the environment and from the settings (`.env`).

    The mirror of `refuse_credentials`: a shared `.env` is normal in local runs, so the worker strips
    what it must not hold instead of refusing to start. Returns the settings without them.
    """
    environ = os.environ if environ is None else environ
    for name in chat_secret_names(environ):
        environ.pop(name, None)
    present = {name: None for name in CHAT_ONLY_SETTINGS if getattr(settings, name, None) is not None}
    return settings.model_copy(update=present) if present else settings
