"""Builds the guardrails and role rules from settings."""

from __future__ import annotations

from config.settings import Settings
from core.policy import Policy


def policy_from_settings(settings: Settings) -> Policy:
    return Policy()
