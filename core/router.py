"""One user turn: read it in the light of the thread's context, then act on the request lifecycle.

The thread context (kept in Redis by the ContextStore, expiring when the thread goes quiet) holds:

* ``request_id``: the request this thread is about (latest started).
* ``draft``: what the user has described while something is still missing; gone once a request starts.
* ``awaiting``: the one question pending: ``template``, ``app`` or ``destroy``.
* ``suggested_app``: the valid name offered after an invalid one, so `yes` can accept it.
* ``destroy_stack``: the stack whose name must be typed to confirm a destroy.

A change said while a request is open revises that request (new plan, earlier approval void). A change
said after it was applied or failed starts a new request from its spec, so an update never drops what the
stack already has.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from core import texts, views
from core.draft import (
    UNCLEAR_APPROVAL,
    CountCues,
    Draft,
    ask_next,
    count_cues,
    hesitant,
    looks_like_name,
    name_candidate,
    template_answer,
)
from core.markup import Code, Message, Strong, line, say
from core.messages import Reply, stored_message
from core.ports import Planner, RequestStore
from core.request import BUILT_ON, BUSY, REVISABLE, Request, Status
from core.requests import Actor, RequestService, workspace_of
from core.understanding.clouds import cloud_label, shaped_like, unknown_region_text
from core.understanding.components import MAX_COUNT
from core.understanding.fallback import LLMFallback
from core.understanding.intents import thanks_only
from core.understanding.model import Parsed
from core.understanding.normalize import fold, strip_chat_formatting

log = logging.getLogger("infrabot.conversation")

_DRAFT_KEYS = ("draft", "awaiting", "suggested_app")
_RENAME = re.compile(r"\b(?:renam\w*|call\s+it|name\s+it|change\s+(?:the\s+)?(?:app\s+)?name)\b", re.I)
_MAX_RECORDED_TEXT = 500
_NUMBER = re.compile(r"(?<![\w.-])(\d{1,6})(?![\w.-])")
_AGAIN = re.compile(r"\b(?:again|re-?plan\w*|re-?run|refresh|fresh|new plan|re-?preview)\b", re.I)


def _noted(before: Draft, after: Draft) -> str:
    """The change the user just made, said back in a few words."""
    parts = [f"{name} {getattr(after, name)}" for name in ("app", "environment", "region", "size")
             if getattr(after, name) != getattr(before, name) and getattr(after, name)]
    old = {c["kind"]: c.get("count", 1) for c in before.components}
    new = {c["kind"]: c.get("count", 1) for c in after.components}
    added = [f"{new[k]}× {k}" if new[k] > 1 else k for k in new if new[k] != old.get(k)]
    removed = [k for k in old if k not in new]
    parts += [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    return f"Got it: {', '.join(parts)}. " if parts else ""


def _noting_cap(reply: Reply, parsed: Parsed, text: str) -> Reply:
    """Says so when a count was asked for beyond what one request builds, rather than trimming it silently."""
    asked = [int(n) for n in _NUMBER.findall(text) if int(n) > MAX_COUNT]
    if asked and any(c.count == MAX_COUNT for c in parsed.components):
        reply.body = reply.body.append_to_last_line(
            f" (I build at most {MAX_COUNT} of one kind per request, so I took {MAX_COUNT}, not {asked[0]}.)")
    return reply


def _shown(request: Request | None) -> str | None:
    """What a typed `apply` in the request's thread approves: the plan last shown there, or the destroy asked."""
    if request is None:
        return None
    return request.destroy_id if request.status == Status.DESTROY_REQUESTED else request.shown_plan_hash


class Router:
    def __init__(self, requests: RequestStore, request_service: RequestService, planner: Planner,
                 fallback: LLMFallback | None = None) -> None:
        self.requests = requests
        self.request_service = request_service
        self.planner = planner
        self.fallback = fallback

    async def current(self, context: dict[str, Any]) -> Request | None:
        request_id = context.get("request_id")
        return await self.requests.get(request_id) if request_id else None

    async def route(self, actor: Actor, text: str, context: dict[str, Any], expired: bool = False) -> Reply:
        parsed = self.planner.parse(text)
        awaiting = context.get("awaiting")
        if self.fallback is not None and not awaiting:
            parsed = await self._second_opinion(actor, text, parsed)
        if awaiting == "destroy":
            reply = await self._confirm_destroy(actor, text, parsed, context)
            if reply:
                return reply
        elif awaiting:
            early = self._read_answer(awaiting, text, parsed, context)
            if early:
                return early
        intent = parsed.intent
        log.info("turn in %s: intent=%s awaiting=%s", actor.thread.key(), intent, awaiting)
        if intent == "create":
            return await self._create(actor, parsed, text, context)
        if intent == "help":
            return Reply(texts.help_text(self.request_service.policy.clouds))
        if intent == "unknown":
            log.info("unrecognised message in %s (%d chars)", actor.thread.key(), len(text))
            if context.get("draft"):
                return Reply(self._question(context).prefixed("Sorry, I didn't get that. "))
            if parsed.unclear_approval:
                pending = await self.current(context)
                if pending is not None and pending.status == Status.AWAITING_APPROVAL:
                    log.info("unclear approval in %s not taken as one", actor.thread.key())
                    return Reply(UNCLEAR_APPROVAL, request_id=pending.id)
            if thanks_only(fold(strip_chat_formatting(text))):
                return Reply(texts.WELCOME)
            return Reply(texts.AFTER_EXPIRY if expired else texts.UNKNOWN)
        request = await self.current(context)
        if intent == "apply":
            if context.get("draft"):
                return Reply(self._question(context).prefixed("Nothing is planned yet. "))
            if request is not None and hesitant(text):
                log.info("hesitant consent in %s not taken as approval", actor.thread.key())
                return Reply(UNCLEAR_APPROVAL, request_id=request.id)
            return await self.request_service.approve(actor, request, _shown(request), typed=True)
        if intent == "cancel":
            return await self._cancel(actor, request, context)
        if intent == "plan":
            return await self._plan(actor, request, context, text)
        if intent == "status":
            latest_job = request.latest_job if request else None
            job = await self.request_service.jobs.get(latest_job) if latest_job else None
            draft = Draft.from_dict(context["draft"]) if context.get("draft") else None
            return views.status_reply(request, job, draft, self._question(context) if draft else None)
        if intent == "outputs":
            return views.outputs_reply(request)
        if intent in ("list", "history"):
            t = actor.thread
            mine = await self.requests.for_user(t.platform, t.workspace, actor.user)
            return views.list_reply(mine) if intent == "list" else views.history_reply(mine)
        if intent == "destroy":
            return await self._destroy(actor, parsed, request, context)
        log.warning("intent %r has no handler", intent)
        return Reply(texts.UNKNOWN)

    async def _second_opinion(self, actor: Actor, text: str, parsed: Parsed) -> Parsed:
        """The optional model's reading (bounded in time, never an approval), audited as its source."""
        assert self.fallback is not None
        better = await self.fallback.refine(text, parsed)
        if better.source == "llm":
            t = actor.thread
            await self.request_service.audit.record(
                "understood", source="llm", intent=better.intent, rules=parsed.intent,
                platform=t.platform, workspace=t.workspace, thread=t.key(), user=actor.user)
        return better

    def _question(self, context: dict[str, Any]) -> Message:
        asked = ask_next(Draft.from_dict(context.get("draft")), context.get("suggested_app"))
        # A complete draft is one the policy turned down: only a change can move it on.
        return asked[1] if asked else Message.of(line("Tell me a change to try again, or say ", Code("cancel"),
                                                      " to drop it."))

    def _read_answer(self, awaiting: str, text: str, parsed: Parsed, context: dict[str, Any]) -> Reply | None:
        """Reads `text` as the answer to the pending question, adjusting `parsed` in place."""
        suggestion = context.get("suggested_app")
        if parsed.deny and parsed.intent == "cancel" and (awaiting == "template" or suggestion):
            # "no" to a question that offered a default turns the default down, not the whole request.
            context.pop("suggested_app", None)
            return Reply(self._question(context).prefixed("No problem. "))
        if awaiting == "template" and parsed.intent in ("unknown", "apply", "create"):
            if template_answer(parsed, text):
                parsed.intent = "create"
        elif awaiting == "app" and not parsed.app and not parsed.app_problem:
            if parsed.affirm and suggestion:
                parsed.app, parsed.intent = suggestion, "create"
            elif parsed.intent == "unknown" and looks_like_name(text):
                answer = self.planner.parse(name_candidate(text))
                parsed.app, parsed.app_problem, parsed.suggested_app = (
                    answer.app, answer.app_problem, answer.suggested_app)
                if parsed.app or parsed.app_problem:
                    parsed.intent = "create"
        return None

    async def _create(self, actor: Actor, parsed: Parsed, text: str, context: dict[str, Any]) -> Reply:
        had_draft = bool(context.get("draft"))
        request = None if had_draft else await self.current(context)
        if request is not None and not (
                not parsed.app or parsed.app == request.spec.app or _RENAME.search(text)):
            request = None  # another app: a new request alongside this one
        if parsed.app_problem:
            return self._bad_name(parsed, text, context, renaming=bool(request and request.status in REVISABLE))
        if parsed.region_problem:
            return self._bad_region(parsed, text, context, request)
        cues = count_cues(text)
        status = request.status if request else None
        if request is not None and status in REVISABLE:
            return _noting_cap(await self._revise(actor, request, parsed, cues), parsed, text)
        if request is not None and status in BUSY:
            return Reply(say(Strong(request.stack), f" is {views.said(status or '')} right now; tell me the "
                             "change again once that has finished."), request_id=request.id)
        if request is not None and status in BUILT_ON:
            before = Draft.from_spec(request.spec)
        else:
            before = Draft.from_dict(context.get("draft"))
        draft = Draft.from_dict(before.as_dict())
        changed = draft.merge(parsed, cues)
        if request is not None and status in BUILT_ON and draft.cloud != before.cloud:
            # A stack lives on one cloud: moving it would mean building a second copy elsewhere.
            return Reply(say(Strong(request.stack), f" is built on {cloud_label(before.cloud or '')}; a stack "
                             "can't move to another cloud. Say ", Code(f"destroy {request.stack}"),
                             f" first, then ask again on {cloud_label(draft.cloud or '')}."), request_id=request.id)
        if request is not None and status == Status.APPLIED and not changed:
            return Reply(say("That's what ", Strong(request.stack), " already has. Tell me a change, or say ",
                             Code("outputs"), " for its URLs and names."), request_id=request.id)
        asked = ask_next(draft)
        if asked:
            context.pop("suggested_app", None)
            context.update(draft=draft.as_dict(), awaiting=asked[0])
            noted = _noted(before, draft) if had_draft or status in BUILT_ON else ""
            return Reply(asked[1].prefixed(noted))
        return _noting_cap(await self._start(actor, draft, text, context), parsed, text)

    async def _start(self, actor: Actor, draft: Draft, text: str, context: dict[str, Any]) -> Reply:
        request_id, reply = await self.request_service.start(actor, draft, text[:_MAX_RECORDED_TEXT])
        if request_id:
            for key in (*_DRAFT_KEYS, "destroy_stack"):
                context.pop(key, None)
            context["request_id"] = request_id
        else:
            # Refused by policy: keep what was said so a change ("use staging") can fix it.
            context["draft"] = draft.as_dict()
            context.pop("awaiting", None)
        return reply

    async def _revise(self, actor: Actor, request: Request, parsed: Parsed, cues: CountCues) -> Reply:
        draft = Draft.from_spec(request.spec)
        if not draft.merge(parsed, cues):
            return Reply(say("That's already what the plan has. Say ", Code("apply"),
                             " to build it or tell me a change."),
                         request_id=request.id)
        if not draft.components:
            return Reply(say("That would leave nothing to build. Say ", Code("cancel"),
                             " to drop the request instead."),
                         request_id=request.id)
        return await self.request_service.revise(actor, request, draft)

    def _bad_region(
        self, parsed: Parsed, text: str, context: dict[str, Any], request: Request | None
    ) -> Reply:
        """Planning in the default region instead of the one asked for would build in the wrong place."""
        log.info("unknown region in %s", text[:80])
        draft = Draft.from_dict(context.get("draft"))
        problem = parsed.region_problem
        if parsed.unknown_region:
            # The regions of the cloud the request is for: said now, else the thread's, else the id's look.
            cloud = (parsed.cloud or (request.spec.cloud if request else None) or draft.cloud
                     or shaped_like(parsed.unknown_region))
            if cloud not in self.request_service.policy.clouds:
                cloud = self.request_service.policy.default_cloud
            problem = unknown_region_text(parsed.unknown_region, cloud)
        if request is not None:
            return Reply(say(*(problem or ()), " Nothing changed."), request_id=request.id)
        draft.merge(parsed, count_cues(text))
        context["draft"] = draft.as_dict()
        context.pop("awaiting", None)
        return Reply(say(*(problem or ()), " Which region should it be?"))

    def _bad_name(self, parsed: Parsed, text: str, context: dict[str, Any], renaming: bool) -> Reply:
        log.info("invalid app name offered: %s", parsed.suggested_app)
        suggestion = parsed.suggested_app
        if renaming:
            hint = (" Say ", Code(f"call it {suggestion}"), " to use that instead.") if suggestion else ()
            return Reply(say(*(parsed.app_problem or ()), *hint))
        draft = Draft.from_dict(context.get("draft"))
        parsed.app = None
        draft.merge(parsed, count_cues(text))
        context.update(draft=draft.as_dict(), awaiting="app")
        if suggestion:
            context["suggested_app"] = suggestion
            return Reply(say(*(parsed.app_problem or ()), " How about ", Code(suggestion), "? Say ",
                             Code("yes"), " to use it, or give another name."))
        context.pop("suggested_app", None)
        return Reply(say(*(parsed.app_problem or ()), " What should it be called?"))

    async def _cancel(self, actor: Actor, request: Request | None, context: dict[str, Any]) -> Reply:
        if context.get("draft"):
            for key in _DRAFT_KEYS:
                context.pop(key, None)
            return Reply(say("OK, I've dropped that request. Nothing was created."))
        context.pop("awaiting", None)
        return await self.request_service.cancel(actor, request)

    async def _full_plan(self, request: Request) -> Reply:
        """Every planned change, which the card may have had to shorten; showing it voids nothing."""
        job = await self.request_service.jobs.get(request.latest_job) if request.latest_job else None
        result = job.result if job else {}
        if job is not None and job.plan_hash and job.plan_hash == request.plan_hash:
            await self.requests.update(request.id, {"shown_plan_hash": job.plan_hash},
                                       expect={"plan.hash": job.plan_hash})
        lines = result.get("full_lines") or result.get("lines") or []
        # The worker stores the plan's lines in the core's notation.
        return Reply(
            say("The full plan for ", Strong(request.stack), ":") + stored_message("\n".join(lines))
            + say("Say ", Code("apply"), " (or press Approve) to build it, or ", Code("plan again"),
                  " for a fresh preview."),
            request_id=request.id, long=True,
        )

    async def _plan(
        self, actor: Actor, request: Request | None, context: dict[str, Any], text: str
    ) -> Reply:
        if context.get("draft"):
            return Reply(self._question(context).prefixed("There's nothing to plan yet. "))
        if request is None:
            return Reply(Message.of(line("There's no request in this thread yet. ", *texts.EXAMPLE_HINT)))
        status = request.status
        if status == Status.PLANNING:
            return Reply(say("The plan is still being prepared; it will appear here in a moment."),
                         request_id=request.id)
        if status == Status.AWAITING_APPROVAL and not _AGAIN.search(text):
            return await self._full_plan(request)
        if status in (Status.AWAITING_APPROVAL, Status.EXPIRED):
            reply = await self.request_service.replan(actor, request)
            after = await self.requests.get(request.id)
            if after and after.revision > request.revision:
                # Nothing changed but the plan itself: say that, rather than the request service's "Updated".
                reply.body = say("Planning ", Strong(request.stack), " again; the new plan replaces the one "
                                 "above, which can no longer be approved.")
            return reply
        if status == Status.FAILED:
            return await self._start(actor, Draft.from_spec(request.spec), "plan again", context)
        if status == Status.APPLIED:
            return Reply(say(Strong(request.stack), " is already built as planned. Tell me a change (e.g. ",
                             Code("add a redis"), ") and I'll plan it."), request_id=request.id)
        return Reply(Message.of(line(f"That request is {views.said(status)}, so there's nothing to plan. ",
                                     *texts.EXAMPLE_HINT)), request_id=request.id)

    async def _live(self, actor: Actor, stack: str) -> Request | None:
        """The live request behind `stack`, if this workspace owns it; other teams' stacks stay invisible."""
        live = await self.requests.live_stack(stack)
        if live is None or workspace_of(live.thread) != workspace_of(actor.thread):
            return None
        return live

    async def _destroy(
        self, actor: Actor, parsed: Parsed, request: Request | None, context: dict[str, Any]
    ) -> Reply:
        stack = parsed.stack
        if not stack and parsed.app:
            stack = f"{parsed.app}-{parsed.environment or 'dev'}"
        if not stack and request and request.status == Status.APPLIED:
            stack = request.stack
        if not stack:
            return Reply(say("Which stack should I destroy? Name it like ", Code("shop-staging"), " (say ",
                             Code("list"), " to see yours)."))
        if await self._live(actor, stack) is None:
            return Reply(say("I don't know a live stack called ", Code(stack), ". Say ", Code("list"),
                             " to see yours."))
        context.update(awaiting="destroy", destroy_stack=stack)
        return Reply(say("This deletes every resource in ", Strong(stack), ". To confirm, type the stack name ",
                         Code(stack), " (or ", Code("cancel"), ")."))

    async def _confirm_destroy(
        self, actor: Actor, text: str, parsed: Parsed, context: dict[str, Any]
    ) -> Reply | None:
        """None when the message is about something else: the confirmation is dropped and it is routed."""
        stack = context.pop("destroy_stack", "")
        context.pop("awaiting", None)
        if text.strip().strip("`") == stack:
            live = await self._live(actor, stack)
            if live is None:
                return Reply(say(Code(stack), " is no longer live; nothing to destroy."))
            context["request_id"] = live.id
            return await self.request_service.request_destroy(actor, live)
        if parsed.intent == "cancel":
            return Reply(say("OK, ", Code(stack), " stays as it is."))
        if parsed.intent in ("unknown", "apply", "destroy"):
            context.update(awaiting="destroy", destroy_stack=stack)
            return Reply(say("The name didn't match. Type ", Code(stack), " exactly to destroy it, or ",
                             Code("cancel"), "."))
        return None
