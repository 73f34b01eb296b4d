"""Web API clients pointed at Slack (or SLACK_API_URL), one set per workspace, with the retries each kind
of call can afford."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from config.settings import Settings

DEFAULT_API_URL = "https://slack.com/api/"
# Cache key of the client that SLACK_BOT_TOKEN serves every team not in SLACK_BOT_TOKENS with.
_FALLBACK = "*"


class UnknownTeam(LookupError):
    """No bot token is configured for this workspace (the message names the team, never a token)."""


def api_url(settings: Settings) -> str:
    url = settings.slack_api_url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def retry_handlers(*, retry_server_errors: bool = False) -> list[AsyncRetryHandler]:
    """A 429 means Slack did nothing, so waiting Retry-After and sending again is always safe.

    A 500 may come after Slack already acted, so only idempotent calls (chat.update) get the server-error
    retry; posting again after a 500 could show the same reply twice.
    """
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=3),
    ]
    if retry_server_errors:
        handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
    return handlers


def make_client(
    token: str | None, base_url: str, *, retry_server_errors: bool = False, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    client = AsyncWebClient(token=token, base_url=base_url, timeout=15, session=session)
    client.retry_handlers = retry_handlers(retry_server_errors=retry_server_errors)
    return client


class SlackClients:
    """Which bot token serves which workspace, and a small cache of clients made with it.

    A team listed in SLACK_BOT_TOKENS gets its own token; SLACK_BOT_TOKEN serves the one team it belongs to.
    Until `auth.test` has named that team (see authorize), SLACK_BOT_TOKEN is offered for any unlisted team:
    Slack itself refuses a token outside its own workspace, and inbound requests are checked by authorize.
    """

    def __init__(self, settings: Settings) -> None:
        self.base_url = api_url(settings)
        self._tokens = settings.slack_team_tokens
        self._fallback = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        if not self._tokens and self._fallback is None:
            raise RuntimeError("SLACK_BOT_TOKEN or SLACK_BOT_TOKENS is not set")
        self._clients: dict[tuple[str, bool], AsyncWebClient] = {}
        self._session: aiohttp.ClientSession | None = None
        self._fallback_team: str | None = None

    def session(self) -> aiohttp.ClientSession | None:
        """One connection pool for every call this process makes to Slack.

        Without it slack_sdk opens (and tears down) a new aiohttp session, and so a new connection, per call.
        It belongs to the running event loop; outside one there is none and each call makes its own.
        """
        if self._session is None or self._session.closed:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return None
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=15),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def has_fallback(self) -> bool:
        """Whether SLACK_BOT_TOKEN is set: the token for the one workspace not listed in SLACK_BOT_TOKENS."""
        return self._fallback is not None

    def learn_single_team(self, team: str | None) -> None:
        """The workspace SLACK_BOT_TOKEN belongs to, once `auth.test` said; no other team is served with it."""
        if team:
            self._fallback_team = team

    def listed(self, team: str | None) -> bool:
        """Whether `team` has its own token in SLACK_BOT_TOKENS (rather than the SLACK_BOT_TOKEN fallback)."""
        return bool(team) and team in self._tokens

    def token_for(self, team: str | None) -> str | None:
        if team and team in self._tokens:
            return self._tokens[team]
        if self._fallback_team is not None and team != self._fallback_team:
            return None
        return self._fallback

    def client(self, team: str | None, *, retry_server_errors: bool = False) -> AsyncWebClient:
        """The client carrying `team`'s token; raises UnknownTeam when no token serves it."""
        token = self.token_for(team)
        if token is None:
            raise UnknownTeam(f"no Slack bot token is configured for workspace {team or '(none)'}")
        key = (team if team and self.listed(team) else _FALLBACK, retry_server_errors)
        client = self._clients.get(key)
        session = self.session()
        if client is None or client.session is not session:
            client = self._clients[key] = make_client(
                token, self.base_url, retry_server_errors=retry_server_errors, session=session
            )
        return client

    def base(self) -> AsyncWebClient:
        """A client with no token, for Bolt to copy its URL, retry handlers and session into each request's."""
        return make_client(None, self.base_url, session=self.session())
