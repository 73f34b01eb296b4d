"""Web API clients pointed at Slack (or SLACK_API_URL), with the retries each kind of call can afford."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from config.settings import Settings

DEFAULT_API_URL = "https://slack.com/api/"


def api_url(settings: Settings) -> str:
    url = settings.slack_api_url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def bot_token(settings: Settings) -> str:
    if settings.slack_bot_token is None:
        raise RuntimeError("SLACK_BOT_TOKEN is not set")
    return settings.slack_bot_token.get_secret_value()


def make_client(settings: Settings, *, retry_server_errors: bool = False) -> AsyncWebClient:
    """A 429 means Slack did nothing, so waiting Retry-After and sending again is always safe.

    A 500 may come after Slack already acted, so only idempotent calls (chat.update) get the server-error
    retry; posting again after a 500 could show the same reply twice.
    """
    client = AsyncWebClient(token=bot_token(settings), base_url=api_url(settings), timeout=15)
    handlers = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
    if retry_server_errors:
        handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
    client.retry_handlers = handlers
    return client
