"""Bolt's `authorize`: which bot token answers a request, chosen by the team it came from.

Slack sends every workspace's events to the same URL (or socket), so the token is picked per request. A
team with no token configured is refused here, before any listener runs, and nothing is posted to it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError

from bots.slack.client import SlackClients

log = logging.getLogger("infrabot.slack")

Authorize = Callable[..., Awaitable[AuthorizeResult | None]]
REFUSAL = ("infrabot is not set up for this workspace: ask whoever runs it to add this workspace's bot token "
           "to SLACK_BOT_TOKENS.")


def make_authorize(clients: SlackClients) -> Authorize:
    # auth.test once per token: the bot's user id (needed to spot its own mentions) never changes.
    identities: dict[str, dict[str, Any]] = {}

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult | None:
        # A plain function, not a method: Bolt passes arguments by the parameter names it finds.
        token = clients.token_for(team_id)
        if token is None:
            log.warning("slack: refused a request from workspace %s: no bot token is configured for it "
                        "(add it to SLACK_BOT_TOKENS)", team_id or "(none)")
            return None
        key = team_id if clients.listed(team_id) else "*"
        identity = identities.get(key)
        if identity is None:
            try:
                response = await clients.client(team_id).auth_test()
            except SlackApiError as exc:
                log.error("slack: Slack refused the bot token for workspace %s (%s)", team_id,
                          exc.response.get("error"))
                return None
            identity = dict(response.data) if isinstance(response.data, dict) else {}
            if key != "*" and identity.get("team_id") not in (None, team_id):
                # Answering with another workspace's token would post there: refuse until the setting is fixed.
                log.error("slack: SLACK_BOT_TOKENS lists a token under %s that belongs to workspace %s; "
                          "refusing requests from %s", team_id, identity.get("team_id"), team_id)
                return None
            identities[key] = identity
        return AuthorizeResult(
            enterprise_id=enterprise_id or identity.get("enterprise_id"),
            team_id=team_id or identity.get("team_id"),
            team=identity.get("team"),
            url=identity.get("url"),
            bot_id=identity.get("bot_id"),
            bot_user_id=identity.get("user_id"),
            bot_token=token,
        )

    return authorize
