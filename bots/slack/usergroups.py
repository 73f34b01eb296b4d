"""Slack user groups as roles: who belongs to which group, per workspace, read from Slack and cached.

Slack has no roles of its own that an app can read, so the user groups (`@platform-admins`) stand in for
them, named by id (`TEAM/S0123ABCD`) because a handle or name can be changed by many people. One
`usergroups.list` call with its members serves a whole workspace for `ttl` seconds. When Slack can't be
asked (no `usergroups:read` scope, an outage), nobody has a role until it can: failing closed only ever
refuses someone, never lets them in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError, SlackClientError

from bots.slack.client import SlackClients, UnknownTeam

log = logging.getLogger("infrabot.slack")

DEFAULT_TTL = 300.0
# After a failed lookup, how long before Slack is asked again (each request would otherwise wait on it).
RETRY_AFTER_FAILURE = 30.0

Members = dict[str, frozenset[str]]


class UserGroupRoles:
    def __init__(self, clients: SlackClients, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clients = clients
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, Members]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._warned: set[str] = set()

    async def roles_of(self, team: str, user: str) -> tuple[str, ...]:
        """`TEAM/GROUP` for every enabled user group of `team` that `user` is in."""
        if not team or not user:
            return ()
        members = await self._members(team)
        return tuple(f"{team}/{group}" for group in sorted(members.get(user, ())))

    async def _members(self, team: str) -> Members:
        cached = self._cache.get(team)
        if cached and cached[0] > self.clock():
            return cached[1]
        async with self._locks.setdefault(team, asyncio.Lock()):
            cached = self._cache.get(team)  # another turn may have fetched it while this one waited
            if cached and cached[0] > self.clock():
                return cached[1]
            try:
                members, ttl = await self._fetch(team), self.ttl
            except (SlackApiError, SlackClientError, UnknownTeam, KeyError, TypeError) as exc:
                # Said once per workspace: a missing scope would otherwise repeat every half minute.
                level = logging.INFO if team in self._warned else logging.WARNING
                self._warned.add(team)
                log.log(level, "slack: can't read the user groups of workspace %s (%s), so nobody there has a "
                        "role for now; the bot needs the usergroups:read scope", team, _reason(exc))
                members, ttl = {}, RETRY_AFTER_FAILURE
            self._cache[team] = (self.clock() + ttl, members)
            return members

    async def _fetch(self, team: str) -> Members:
        client = self.clients.client(team)
        # Disabled groups are left out: a group someone switched off grants nothing.
        response = await client.usergroups_list(include_users=True)
        by_user: dict[str, set[str]] = {}
        for group in response["usergroups"]:
            users = group.get("users")
            if users is None:
                users = (await client.usergroups_users_list(usergroup=group["id"]))["users"]
            for user in users:
                by_user.setdefault(user, set()).add(group["id"])
        return {user: frozenset(groups) for user, groups in by_user.items()}


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return type(exc).__name__
