"""Read-only answers about requests: status, outputs, the user's stacks and their history.

Pure formatting over request documents; every list is capped so a reply stays short in any chat.
"""

from __future__ import annotations

from typing import Any

from core import texts
from core.dialog import Draft
from core.flow import describe
from core.messages import Reply
from core.spec import InfraSpec
from core.status import JobStatus, Phase

MAX_LINES = 15
_LIVE = ("applied", "destroy_requested")

_NEXT: dict[str, str] = {
    "planning": "The plan will appear here in a moment.",
    "awaiting_approval": "The plan is waiting for approval: say `apply` (or press Approve), or tell me a "
                         "change.",
    "applying": "It's being applied now; the status card follows along.",
    "applied": "It's live. Say `outputs` for its URLs and names.",
    "failed": "Say `plan` to try again.",
    "cancelled": "Nothing was changed. Tell me what you need to start again.",
    "destroy_requested": "The destroy is waiting for someone else's approval.",
    "destroying": "It's being destroyed now.",
    "destroyed": "Its resources are gone.",
}


def said(status: str) -> str:
    return status.replace("_", " ")


_SIMULATED = "simulated by the offline engine, so nothing exists in the cloud"


def simulated(request: dict[str, Any]) -> bool:
    """An offline-engine request was only ever simulated: no answer may call it live."""
    return bool((request.get("plan") or {}).get("simulated"))


def spec_of(request: dict[str, Any]) -> InfraSpec:
    return InfraSpec(**request["spec"])


def _capped(lines: list[str], noun: str, budget: int = texts.MAX_REPLY_CHARS - 200) -> list[str]:
    """At most MAX_LINES lines and `budget` characters, then a line saying how many were left out."""
    kept: list[str] = []
    used = 0
    for line in lines[:MAX_LINES]:
        used += len(line) + 1
        if used > budget:
            break
        kept.append(line)
    if len(kept) < len(lines):
        kept.append(f"… and {len(lines) - len(kept)} more {noun}.")
    return kept


def status_reply(request: dict[str, Any] | None, job: JobStatus | None, draft: Draft | None,
                 question: str) -> Reply:
    if request is None:
        if draft is not None:
            return Reply(f"Nothing is planned yet; so far I have {draft.summary()}. {question}")
        return Reply("Nothing has been requested in this thread yet. " + texts.EXAMPLE_HINT)
    spec = spec_of(request)
    status = request["status"]
    progress = ""
    if job is not None and job.kind != "plan" and job.phase == Phase.APPLYING and job.total:
        progress = f", {job.done} of {job.total} resources"
    detail = _NEXT.get(status, "")
    if status == "applied" and simulated(request):
        detail = f"It was {_SIMULATED}. Say `outputs` for the names it would have."
    if status == "failed" and request.get("error"):
        detail = f"What failed: {request['error']}. {detail}"
    revision = f", revision {request['revision']}" if int(request.get("revision", 1)) > 1 else ""
    # Only a built stack "has" anything: a pending request asks for it, a destroyed one had it.
    has = {"applied": "It has", "destroy_requested": "It has", "destroying": "It has",
           "destroyed": "It had"}.get(status, "It asks for")
    return Reply(
        f"*{spec.stack_name}*: {said(status)}{progress}{revision}. {has} {describe(spec)} "
        f"in {spec.region}. {detail}".strip(),
        request_id=request["_id"],
    )


def outputs_reply(request: dict[str, Any] | None) -> Reply:
    if request is None:
        return Reply("There are no outputs yet: they appear once a request has been applied. "
                     + texts.EXAMPLE_HINT)
    outputs = request.get("outputs") or {}
    if request["status"] in ("cancelled", "destroyed"):
        return Reply(f"*{request['stack']}* was {said(request['status'])}, so it has no outputs.",
                     request_id=request["_id"])
    if request["status"] != "applied" or not outputs:
        return Reply(f"*{request['stack']}* is {said(request['status'])}, so it has no outputs yet: they "
                     "appear once it has been applied.", request_id=request["_id"])
    lines = _capped([f"• {name}: `{value}`" for name, value in sorted(outputs.items())], "outputs")
    note = f" ({_SIMULATED})" if simulated(request) else ""
    return Reply(f"Outputs of *{request['stack']}*{note}:\n" + "\n".join(lines), request_id=request["_id"])


def list_reply(mine: list[dict[str, Any]]) -> Reply:
    """One line per stack, most recently touched first; `mine` is in creation order."""
    if not mine:
        return Reply("You haven't requested anything yet. " + texts.EXAMPLE_HINT)
    latest: dict[str, dict[str, Any]] = {}
    live: dict[str, dict[str, Any]] = {}
    for request in mine:
        latest[request["stack"]] = request
        if request["status"] in _LIVE:
            live[request["stack"]] = request
        elif request["status"] == "destroyed":
            live.pop(request["stack"], None)
    lines = []
    for stack, request in sorted(latest.items(), key=lambda kv: kv[1]["created_at"], reverse=True):
        line = f"• *{stack}*: {said(request['status'])} ({describe(spec_of(request))})"
        if stack in live and live[stack] is not request:
            line += "; the earlier version is still live"
        lines.append(line)
    return Reply("Your apps and stacks:\n" + "\n".join(_capped(lines, "stacks")))


def history_reply(mine: list[dict[str, Any]]) -> Reply:
    if not mine:
        return Reply("No requests from you yet. " + texts.EXAMPLE_HINT)
    lines = [
        f"• {r['created_at']:%Y-%m-%d %H:%M} *{r['stack']}*: {describe(spec_of(r))}; {said(r['status'])}"
        for r in reversed(mine)
    ]
    return Reply("Your recent requests, newest first:\n" + "\n".join(_capped(lines, "requests")))
