"""Keeps cloud credentials out of chat-facing processes."""

from __future__ import annotations

import os
from collections.abc import Mapping

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


def found_credentials(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    return [name for name in CLOUD_CREDENTIAL_VARS if env.get(name)]


def refuse_credentials(process: str, env: Mapping[str, str] | None = None) -> None:
    """Stops a bot/web process that was started with cloud credentials in its environment."""
    found = found_credentials(env)
    if found:
        raise SystemExit(
            f"infrabot {process}: refusing to start: cloud credentials found in the environment "
            f"({', '.join(found)}). Only `infrabot worker` may hold them; remove them from this process."
        )
