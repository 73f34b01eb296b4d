"""Keeps cloud credentials out of chat-facing processes.

Only `infrabot worker` may hold them. `infrabot web|slack|discord` stop at start-up when they find
any in their environment or in their settings (`.env`), and `infrabot run` hands them to the worker
alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
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
    """(chat process env, worker env) for `infrabot run`: credentials go to the worker only.

    The chat side gets worker-only settings set to empty, so that a shared `.env` cannot hand
    them back (an environment variable, even empty, wins over `.env`).
    """
    worker = dict(env)
    chat = {k: v for k, v in env.items() if k not in CLOUD_CREDENTIAL_VARS}
    chat.update({name.upper(): "" for name in WORKER_ONLY_SETTINGS})
    return chat, worker
