"""The slack-bolt AsyncApp: which Slack inputs reach the core, acknowledged at once.

With `process_before_response=False` Bolt answers Slack as soon as `ack()` runs (events are acked
automatically) and runs the listener body as an asyncio task, so Slack gets its response well within 3 s
no matter how long posting the replies takes. That fits a long-running server; it would not fit a
function-as-a-service host, where lazy listeners would be the choice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bots.runtime import AdapterSink, Runtime
from bots.slack.authorize import REFUSAL, make_authorize
from bots.slack.client import SlackClients
from bots.slack.handlers import COMMAND_HELP, SlackHandlers
from bots.slack.open_streams import OpenStreams
from bots.slack.places import PLATFORM
from bots.slack.render import ACTION_PREFIX
from bots.slack.replies import ReplySender
from bots.slack.sink import SlackStatusSink
from bots.slack.usergroups import UserGroupRoles
from jobs.stores.doc_lock import DocLocks
from jobs.stores.redis_state import RedisEventGate

log = logging.getLogger("infrabot.slack")

COMMAND = "/infra"


@dataclass
class SlackAdapter:
    app: AsyncApp
    handlers: SlackHandlers
    # None with SLACK_CARDS=relay: `infrabot relay` shows the cards, and this process only answers.
    sink: SlackStatusSink | None
    clients: SlackClients
    streams: OpenStreams

    def handoff(self) -> AdapterSink:
        """The status sink, clean-up and stream sweeper for the host to hand the runtime (bots/serve.py)."""
        if self.sink is None:
            # Said at start, since nothing else would: without a relay process the cards wait on Redis unseen.
            log.info("slack: status cards are left to `infrabot relay` (SLACK_CARDS=relay)")
            return AdapterSink(PLATFORM, None, (self.clients.aclose,), (self.streams.run,))
        return AdapterSink(PLATFORM, self.sink, (self.sink.close, self.clients.aclose), (self.streams.run,))


def build_adapter(runtime: Runtime, *, socket_mode: bool = False) -> SlackAdapter:
    """Builds the Bolt app on the runtime's core and stores; it only reads them, and changes nothing in the
    runtime: its sink joins the relay through the host."""
    settings = runtime.settings
    clients = SlackClients(settings)
    sender = ReplySender(clients)
    streams = OpenStreams(runtime.redis, sender)
    handlers = SlackHandlers(runtime.core, runtime.contexts, clients, sender, RedisEventGate(runtime.redis),
                             roles=UserGroupRoles(clients), streams=streams)
    sink = status_sink(runtime, clients) if settings.slack_cards == "chat" else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not socket_mode and not secret:
        raise RuntimeError("SLACK_SIGNING_SECRET is needed to receive Slack events over HTTP")
    app = AsyncApp(
        # Tokenless: `authorize` picks each request's token by its team (SLACK_BOT_TOKENS / SLACK_BOT_TOKEN).
        client=clients.base(),
        authorize=make_authorize(clients, runtime.audit),
        user_facing_authorize_error_message=REFUSAL,
        signing_secret=secret,
        # Socket Mode messages arrive over an authenticated websocket and carry no signature.
        request_verification_enabled=not socket_mode,
        process_before_response=False,
        logger=logging.getLogger("infrabot.slack.bolt"),
    )
    register_listeners(app, handlers)
    return SlackAdapter(app=app, handlers=handlers, sink=sink, clients=clients, streams=streams)


def status_sink(runtime: Runtime, clients: SlackClients) -> SlackStatusSink:
    """Slack's cards, shown by the process that serves Slack or by `infrabot relay` (SLACK_CARDS)."""
    return SlackStatusSink(clients, runtime.cards, lock=DocLocks(runtime.redis, lease_ms=30_000).hold)


async def cards_only(runtime: Runtime) -> AdapterSink:
    """What `infrabot relay` serves: Slack's cards, without the Bolt app that answers.

    A process that answers learns which workspace SLACK_BOT_TOKEN belongs to from its first event (bots/slack/
    authorize.py) and then serves no other with it; this one hears no events, so it asks `auth.test` at once,
    and a card for any other workspace is given up ("no Slack bot token") instead of tried with that token."""
    clients = SlackClients(runtime.settings)
    if clients.has_fallback():
        try:
            identity = await clients.client(None).auth_test()
            clients.learn_single_team(identity.get("team_id"))
        except Exception as exc:
            # Slack unreachable or the token refused: nothing can be shown until it is, and cards wait and retry.
            log.warning("slack: could not ask which workspace SLACK_BOT_TOKEN belongs to (%s)", exc)
    sink = status_sink(runtime, clients)
    return AdapterSink(PLATFORM, sink, (sink.close, clients.aclose))


def register_listeners(app: AsyncApp, handlers: SlackHandlers) -> None:
    @app.event("app_mention")
    async def on_mention(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await handlers.on_mention(body, context.bot_user_id)

    @app.event("message")
    async def on_message(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await handlers.on_message(body, context.bot_user_id)

    @app.command(COMMAND)
    async def on_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        if (body.get("text") or "").strip().lower() in ("", "help"):
            await ack(text=COMMAND_HELP, response_type="ephemeral")
            return
        await ack()
        refusal = await handlers.on_command(body)
        if refusal is not None:
            await respond(text=refusal.text, response_type="ephemeral", replace_original=False)

    @app.action(re.compile(f"^{ACTION_PREFIX}"))
    async def on_click(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await handlers.on_action(body, action)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        kind = body.get("type") or (body.get("command") and "command") or "?"
        log.error("slack: handling a %s failed: %s", kind, error, exc_info=error)
