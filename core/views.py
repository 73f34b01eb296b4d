"""Read-only answers about requests: status, outputs, the user's stacks and their history.

Pure formatting over request documents; every list is capped so a reply stays short in any chat.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core import texts
from core.draft import Draft
from core.job import JobStatus, Phase
from core.markup import Block, Bullets, Code, Inline, Message, Strong, line, spans
from core.messages import Reply
from core.request import LIVE, VOID, Request, Status, said
from core.spec import component_summary

MAX_LINES = 15
_NEVER = datetime.min.replace(tzinfo=UTC)

_NEXT: dict[Status, Inline] = {
    Status.PLANNING: spans("The plan will appear here in a moment."),
    Status.AWAITING_APPROVAL: spans("The plan is waiting for approval: say ", Code("apply"), " (or press Approve), "
                                    "or tell me a change."),
    Status.APPROVED: spans("It's approved and queued to apply; the status card follows along."),
    Status.APPLYING: spans("It's being applied now; the status card follows along."),
    Status.APPLIED: spans("It's live. Say ", Code("outputs"), " for its URLs and names."),
    Status.FAILED: spans("Say ", Code("plan"), " to try again."),
    Status.CANCELLED: spans("Nothing was changed. Tell me what you need to start again."),
    Status.SUPERSEDED: spans("A newer request for the same stack was applied, so this plan can no longer be "
                             "approved. Tell me what you need to plan it afresh."),
    Status.EXPIRED: spans("Its plan is too old to approve; say ", Code("plan again"), " for a fresh one."),
    Status.DESTROY_REQUESTED: spans("The destroy is waiting for someone else's approval."),
    Status.DESTROY_APPROVED: spans("Its destroy is approved and queued; say ", Code("cancel"), " to call it off "
                                   "before it starts."),
    Status.DESTROYING: spans("It's being destroyed now."),
    Status.DESTROYED: spans("Its resources are gone."),
}


_SIMULATED = "simulated by the offline engine, so nothing exists in the cloud"


def _cap_items(items: list[Inline], noun: str, budget: int = texts.MAX_REPLY_CHARS - 200) -> list[Block]:
    """A list of at most MAX_LINES items and `budget` characters, then a line saying how many were left out."""
    kept: list[Inline] = []
    used = 0
    for item in items[:MAX_LINES]:
        used += len(Message((Bullets((item,)),))) + 1
        if used > budget:
            break
        kept.append(item)
    blocks: list[Block] = [Bullets(tuple(kept))] if kept else []
    if len(kept) < len(items):
        blocks.append(line(f"… and {len(items) - len(kept)} more {noun}."))
    return blocks


def status_reply(request: Request | None, job: JobStatus | None, draft: Draft | None,
                 question: Message | None) -> Reply:
    if request is None:
        if draft is not None:
            so_far = spans("Nothing is planned yet; so far I have ", *draft.summary(), ". ")
            return Reply((question or Message()).prefixed(*so_far))
        return Reply(Message.of(line("Nothing has been requested in this thread yet. ",
                                     *texts.EXAMPLE_HINT)))
    spec = request.spec
    status = request.status
    progress = ""
    if job is not None and job.kind != "plan" and job.phase == Phase.APPLYING and job.total:
        progress = f", {job.done} of {job.total} resources"
    detail = _NEXT.get(status, ())
    if status == Status.APPLIED and request.simulated:
        detail = spans(f"It was {_SIMULATED}. Say ", Code("outputs"), " for the names it would have.")
    if status == Status.FAILED and request.error:
        detail = spans(f"What failed: {request.error}. ", *detail)
    revision = f", revision {request.revision}" if request.revision > 1 else ""
    # Only a built stack "has" anything: a pending request asks for it, a destroyed one had it.
    has = {Status.APPLIED: "It has", Status.DESTROY_REQUESTED: "It has", Status.DESTROY_APPROVED: "It has",
           Status.DESTROYING: "It has",
           Status.DESTROYED: "It had"}.get(status, "It asks for")
    said_line = f": {said(status)}{progress}{revision}. {has} {component_summary(spec)} in {spec.location}."
    return Reply(Message.of(line(Strong(spec.stack_name), said_line, " " if detail else "", *detail)),
                 request_id=request.id)


def outputs_reply(request: Request | None) -> Reply:
    if request is None:
        return Reply(Message.of(line("There are no outputs yet: they appear once a request has been applied. ",
                                     *texts.EXAMPLE_HINT)))
    outputs = request.outputs
    if request.status in (*VOID, Status.DESTROYED):
        return Reply(Message.of(line(Strong(request.stack), f" was {said(request.status)}, so it has no outputs.")),
                     request_id=request.id)
    if request.status != Status.APPLIED or not outputs:
        return Reply(Message.of(line(Strong(request.stack), f" is {said(request.status)}, so it has no outputs "
                                     "yet: they appear once it has been applied.")), request_id=request.id)
    items = [spans(f"{name}: ", Code(str(value))) for name, value in sorted(outputs.items())]
    note = f" ({_SIMULATED})" if request.simulated else ""
    head = line("Outputs of ", Strong(request.stack), f"{note} on {request.spec.location}:")
    return Reply(Message.of(head, *_cap_items(items, "outputs")), request_id=request.id)


def list_reply(mine: list[Request]) -> Reply:
    """One line per stack, most recently touched first; `mine` is in creation order."""
    if not mine:
        return Reply(Message.of(line("You haven't requested anything yet. ", *texts.EXAMPLE_HINT)))
    latest: dict[str, Request] = {}
    live: dict[str, Request] = {}
    for request in mine:
        latest[request.stack] = request
        if request.status in LIVE:
            live[request.stack] = request
        elif request.status == Status.DESTROYED:
            live.pop(request.stack, None)
    items = []
    for stack, request in sorted(latest.items(), key=lambda kv: kv[1].created_at or _NEVER, reverse=True):
        earlier = "; the earlier version is still live" if stack in live and live[stack] is not request else ""
        items.append(spans(Strong(stack), f": {said(request.status)} ({component_summary(request.spec)}) on "
                                          f"{request.spec.location}{earlier}"))
    return Reply(Message.of(line("Your apps and stacks:"), *_cap_items(items, "stacks")))


def history_reply(mine: list[Request]) -> Reply:
    if not mine:
        return Reply(Message.of(line("No requests from you yet. ", *texts.EXAMPLE_HINT)))
    items = [
        spans(f"{r.created_at:%Y-%m-%d %H:%M} ", Strong(r.stack), f": {component_summary(r.spec)}; {said(r.status)}")
        for r in reversed(mine)
    ]
    return Reply(Message.of(line("Your recent requests, newest first:"), *_cap_items(items, "requests")))
