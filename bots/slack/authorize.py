"""Bolt's `authorize`: which bot token answers a request, chosen by the team it came from.

Slack sends every workspace's events to the same URL (or socket), so the token is picked per request. Only
the teams in SLACK_BOT_TOKENS, or the one team SLACK_BOT_TOKEN was issued for (asked of `auth.test`), are
served. Any other is refused here, before any listener runs: nothing is posted to it and nothing is acted
on, and the refusal is logged and audited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError

from bots.slack.client import SlackClients
from bots.slack.places import PLATFORM
from core.ports import AuditLog

log = logging.getLogger("infrabot.slack")

Authorize = Callable[..., Awaitable[AuthorizeResult | None]]
REFUSAL = ("infrabot is not set up for this workspace: ask whoever runs it to add this workspace's bot token "
           "to SLACK_BOT_TOKENS.")


def make_authorize(clients: SlackClients, audit: AuditLog | None = None) -> Authorize:
    # auth.test once per token: the bot's user id (needed to spot its own mentions) and the token's own
    # workspace never change.
    identities: dict[str, dict[str, Any]] = {}

    async def refuse(team_id: str | None, user_id: str | None, why: str) -> None:
        if audit is None:
            return
        try:
            await audit.record("refused", reason=why, action="slack request", platform=PLATFORM,
                               workspace=team_id or "", user=user_id or "", thread="")
        except Exception:
            log.warning("slack: could not write the audit row for a refused workspace", exc_info=True)

    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> AuthorizeResult | None:
        # A plain function, not a method: Bolt passes arguments by the parameter names it finds.
        token = clients.token_for(team_id)
        if token is None:
            log.warning("slack: refused a request from workspace %s: no bot token is configured for it "
                        "(add it to SLACK_BOT_TOKENS)", team_id or "(none)")
            await refuse(team_id, user_id, "workspace has no bot token")
            return None
        listed = clients.listed(team_id)
        key = team_id if listed else "*"
        identity = identities.get(key)
        if identity is None:
            try:
                response = await clients.client(team_id).auth_test()
            except SlackApiError as exc:
                log.error("slack: Slack refused the bot token for workspace %s (%s)", team_id,
                          exc.response.get("error"))
                return None
            identity = dict(response.data) if isinstance(response.data, dict) else {}
            if listed and identity.get("team_id") not in (None, team_id):
                # Answering with another workspace's token would post there: refuse until the setting is fixed.
                log.error("slack: SLACK_BOT_TOKENS lists a token under %s that belongs to workspace %s; "
                          "refusing requests from %s", team_id, identity.get("team_id"), team_id)
                return None
            identities[key] = identity
            if not listed:
                clients.learn_single_team(identity.get("team_id"))
        if not listed and (not team_id or team_id != identity.get("team_id")):
            # SLACK_BOT_TOKEN serves the one workspace it was issued for; any other that can reach this
            # endpoint (another installation of the same app) is not ours to act for.
            log.warning("slack: refused a request from workspace %s: SLACK_BOT_TOKEN belongs to workspace %s "
                        "(list other workspaces in SLACK_BOT_TOKENS)", team_id or "(none)", identity.get("team_id"))
            await refuse(team_id, user_id, "workspace is not the one SLACK_BOT_TOKEN belongs to")
            return None
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
