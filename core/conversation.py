"""The chat pipeline every adapter calls: validate, de-duplicate, remember, understand, answer."""

from __future__ import annotations

import logging
import re
from typing import Any

from core import texts
from core.dialog import Draft
from core.flow import OPEN, Actor, RequestFlow, parse_button_ref
from core.messages import ActionEvent, IncomingMessage, Reply, ThreadRef
from core.ports import ContextStore, EventGate, HistoryStore, RequestStore
from core.questions import ask_app, ask_template, template_answer
from core.spec import InfraSpec
from core.understanding.model import Parsed, Planner

log = logging.getLogger("infrabot.conversation")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def clean(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


class Conversation:
    def __init__(
        self,
        *,
        gate: EventGate,
        contexts: ContextStore,
        history: HistoryStore,
        requests: RequestStore,
        flow: RequestFlow,
        planner: Planner,
        max_chars: int = 4000,
    ) -> None:
        self.gate = gate
        self.contexts = contexts
        self.history = history
        self.requests = requests
        self.flow = flow
        self.planner = planner
        self.max_chars = max_chars

    async def handle_message(self, message: IncomingMessage) -> list[Reply]:
        key = message.event_key()
        if not await self.gate.claim(key):
            log.info("duplicate event dropped: %s", key)
            return []
        try:
            return await self._turn(message)
        except Exception:
            # Releasing lets the platform's own retry through; the user's words are already stored.
            log.exception("failed to handle event %s", key)
            await self.gate.release(key)
            return [Reply(texts.ERROR)]

    async def handle_action(self, action: ActionEvent) -> list[Reply]:
        key = action.event_key()
        if not await self.gate.claim(key):
            log.info("duplicate action dropped: %s", key)
            return []
        actor = Actor(action.thread, action.user, action.roles, key)
        request_id, plan_hash = parse_button_ref(action.request_id)
        try:
            request = await self.requests.get(request_id)
            if request is None:
                log.warning("action %s for unknown request %s", action.action, action.request_id)
                return [Reply("I can't find that request any more.", ephemeral=True)]
            if action.action == "approve":
                reply = await self.flow.approve(actor, request, plan_hash)
            elif action.action == "cancel":
                reply = await self.flow.cancel(actor, request)
            else:
                log.warning("unknown action %r", action.action)
                reply = Reply("I don't know that button.", ephemeral=True)
            await self.history.append(action.thread, "bot", reply.text, key=f"out:{key}:0",
                                      meta={"action": action.action, "user": action.user})
            return [reply]
        except Exception:
            log.exception("failed to handle action %s", key)
            await self.gate.release(key)
            return [Reply(texts.ERROR, ephemeral=True)]

    async def _turn(self, message: IncomingMessage) -> list[Reply]:
        thread = message.thread
        key = message.event_key()
        text = clean(message.text)
        await self.history.append(thread, "user", text[: self.max_chars], key=f"in:{key}",
                                  meta={"user": message.user, "length": len(text)})
        if not text:
            log.info("empty message in %s", thread.key())
            replies = [Reply(texts.EMPTY)]
        elif len(text) > self.max_chars:
            log.info("oversized message (%d chars) in %s", len(text), thread.key())
            replies = [Reply(texts.too_long(len(text), self.max_chars))]
        else:
            loaded = await self.contexts.load(thread)
            expired = loaded is None and await self.contexts.known(thread)
            context = loaded or {}
            replies = []
            if expired:
                replies.append(Reply(texts.EXPIRED))
                await self._recover(thread, context)
            actor = Actor(thread, message.user, message.roles, key)
            replies += await self._route(actor, text, context)
            await self.contexts.save(thread, context)
        for i, reply in enumerate(replies):
            await self.history.append(thread, "bot", reply.text, key=f"out:{key}:{i}",
                                      meta={"request_id": reply.request_id})
        return replies

    async def _recover(self, thread: ThreadRef, context: dict[str, Any]) -> None:
        """After the context expired, the thread's latest request is still the one people mean."""
        latest = await self.requests.latest_in_thread(thread)
        if latest:
            context["request_id"] = latest["_id"]

    async def _current(self, actor: Actor, context: dict[str, Any]) -> dict[str, Any] | None:
        request_id = context.get("request_id")
        return await self.requests.get(request_id) if request_id else None

    async def _route(self, actor: Actor, text: str, context: dict[str, Any]) -> list[Reply]:
        parsed = self.planner.parse(text)
        awaiting = context.get("awaiting")
        if awaiting == "destroy":
            reply = await self._confirm_destroy(actor, text, parsed, context)
            if reply:
                return [reply]
        if awaiting == "template":
            template_answer(parsed, text)
        if awaiting == "app" and not parsed.app and not parsed.app_problem and parsed.intent in ("unknown",
                                                                                               "create"):
            answer = self.planner.parse(f"app {text}")
            parsed.app, parsed.app_problem, parsed.suggested_app = (
                answer.app, answer.app_problem, answer.suggested_app)
            if parsed.app or parsed.app_problem:
                parsed.intent = "create"
        if awaiting in ("app", "template") and (parsed.components or parsed.app) and parsed.intent in (
            "unknown", "apply"
        ):
            parsed.intent = "create"

        intent = parsed.intent
        if intent == "create":
            return [await self._create(actor, parsed, context)]
        if intent == "help":
            return [Reply(texts.HELP)]
        request = await self._current(actor, context)
        if intent == "apply":
            if request is None and context.get("draft"):
                return [Reply("Nothing is planned yet: " + self._question(context))]
            return [await self.flow.approve(actor, request)]
        if intent == "cancel":
            if context.get("draft") and (request is None or request["status"] not in OPEN):
                context.clear()
                return [Reply("OK, I've dropped that request. Nothing was created.")]
            context.pop("awaiting", None)
            return [await self.flow.cancel(actor, request)]
        if intent == "plan":
            if request is None:
                return [Reply("There's no request in this thread yet. " + texts.EXAMPLE_HINT)]
            return [await self.flow.replan(actor, request)]
        if intent == "status":
            return [await self._status(actor, request)]
        if intent == "outputs":
            return [self._outputs(request)]
        if intent == "list":
            return [await self._list(actor)]
        if intent == "history":
            return [await self._history(actor)]
        if intent == "destroy":
            return [await self._destroy(actor, parsed, request, context)]
        if context.get("awaiting"):
            return [Reply("Sorry, I didn't get that. " + self._question(context))]
        return [Reply(texts.UNKNOWN)]

    def _question(self, context: dict[str, Any]) -> str:
        draft = Draft.from_dict(context.get("draft"))
        return ask_app(draft) if "app" in draft.missing() else ask_template(draft)

    async def _create(self, actor: Actor, parsed: Parsed, context: dict[str, Any]) -> Reply:
        request = await self._current(actor, context)
        if parsed.app_problem:
            draft = Draft.from_dict(context.get("draft"))
            parsed.app = None
            draft.merge(parsed)
            context.update(draft=draft.as_dict(), awaiting="app")
            hint = f" How about `{parsed.suggested_app}`?" if parsed.suggested_app else ""
            return Reply(f"{parsed.app_problem}{hint}")
        is_change = bool(request and request["status"] in OPEN and not context.get("draft"))
        if is_change and request and (not parsed.app or parsed.app == request["spec"]["app"]):
            draft = Draft.from_spec(_spec(request))
            if not draft.merge(parsed):
                return Reply("That's already what the plan has. Say `apply` to build it or tell me a change.")
            if not draft.components:
                return Reply("That would leave nothing to build. Say `cancel` to drop the request instead.")
            return await self.flow.revise(actor, request, draft)
        draft = Draft.from_dict(context.get("draft"))
        draft.merge(parsed)
        missing = draft.missing()
        if missing:
            context.update(draft=draft.as_dict(), awaiting=missing[0] if missing[0] == "app" else "template")
            return Reply(ask_app(draft) if missing[0] == "app" else ask_template(draft))
        request_id, reply = await self.flow.start(actor, draft, " ".join(parsed.model_dump_json().split()))
        if request_id:
            context.clear()
            context["request_id"] = request_id
        return reply

    async def _status(self, actor: Actor, request: dict[str, Any] | None) -> Reply:
        if request is None:
            return Reply("Nothing has been requested in this thread yet. " + texts.EXAMPLE_HINT)
        spec = _spec(request)
        return Reply(
            f"*{spec.stack_name}*: {request['status'].replace('_', ' ')} "
            f"({len(spec.components)} component kinds, region {spec.region}).",
            request_id=request["_id"],
        )

    def _outputs(self, request: dict[str, Any] | None) -> Reply:
        outputs = (request or {}).get("outputs") or {}
        if not outputs:
            return Reply("There are no outputs yet: they appear once a request has been applied.")
        lines = [f"• {name}: `{value}`" for name, value in sorted(outputs.items())]
        return Reply(f"Outputs of *{request['stack']}*:\n" + "\n".join(lines),  # type: ignore[index]
                     request_id=request["_id"])  # type: ignore[index]

    async def _list(self, actor: Actor) -> Reply:
        t = actor.thread
        mine = await self.requests.for_user(t.platform, t.workspace, actor.user)
        if not mine:
            return Reply("You haven't requested anything yet. " + texts.EXAMPLE_HINT)
        latest: dict[str, dict[str, Any]] = {}
        for request in mine:
            latest[request["stack"]] = request
        lines = [f"• *{stack}*: {r['status'].replace('_', ' ')}" for stack, r in sorted(latest.items())]
        return Reply("Your apps and stacks:\n" + "\n".join(lines))

    async def _history(self, actor: Actor) -> Reply:
        t = actor.thread
        mine = await self.requests.for_user(t.platform, t.workspace, actor.user)
        if not mine:
            return Reply("No requests from you yet. " + texts.EXAMPLE_HINT)
        lines = [
            f"• {r['created_at']:%Y-%m-%d %H:%M} *{r['stack']}*: {r['status'].replace('_', ' ')}"
            for r in mine[-15:]
        ]
        return Reply("Your recent requests:\n" + "\n".join(lines))

    async def _destroy(
        self, actor: Actor, parsed: Parsed, request: dict[str, Any] | None, context: dict[str, Any]
    ) -> Reply:
        stack = parsed.stack
        if not stack and parsed.app:
            stack = f"{parsed.app}-{parsed.environment or 'dev'}"
        if not stack and request and request["status"] == "applied":
            stack = request["stack"]
        if not stack:
            return Reply("Which stack should I destroy? Name it like `shop-staging` (say `list` to see yours).")
        live = await self.requests.live_stack(stack)
        if live is None:
            return Reply(f"I don't know a live stack called `{stack}`. Say `list` to see yours.")
        context.update(awaiting="destroy", destroy_stack=stack)
        return Reply(
            f"This deletes every resource in *{stack}*. To confirm, type the stack name `{stack}` "
            "(or `cancel`)."
        )

    async def _confirm_destroy(
        self, actor: Actor, text: str, parsed: Parsed, context: dict[str, Any]
    ) -> Reply | None:
        stack = context.get("destroy_stack", "")
        if text.strip().strip("`") == stack:
            context.pop("awaiting", None)
            context.pop("destroy_stack", None)
            live = await self.requests.live_stack(stack)
            if live is None:
                return Reply(f"`{stack}` is no longer live; nothing to destroy.")
            context["request_id"] = live["_id"]
            return await self.flow.request_destroy(actor, live)
        if parsed.intent == "cancel":
            context.pop("awaiting", None)
            context.pop("destroy_stack", None)
            return Reply(f"OK, `{stack}` stays as it is.")
        return Reply(f"The name didn't match. Type `{stack}` exactly to destroy it, or `cancel`.")


def _spec(request: dict[str, Any]) -> InfraSpec:
    return InfraSpec(**request["spec"])
