"""Destroy through the web chat: named confirmation, second person in prod, what was removed, the audit trail."""

from __future__ import annotations

import asyncio

import httpx

from bots.runtime import Runtime
from bots.web.app import web_thread
from core.request import Request
from core.requests import destroy_job
from tests.support import eventually
from tests.web_chat import card, chat, press, say

DEV = "create a postgres database and a bucket for my app shop"
PROD = "create a postgres database and a bucket for my app shop in prod"


async def built(client: httpx.AsyncClient, runtime: Runtime, thread: str, text: str, approver: str) -> str:
    """Requests, plans and applies; returns the request id."""
    await say(client, thread, text)
    [request] = [Request.from_doc(r)
                 async for r in runtime.db.requests.find({"thread_key": web_thread(thread).key()})]
    rid = str(request.id)
    shown = await card(runtime, thread, f"plan-{rid}-1", "awaiting_approval")
    [ref] = [b["request_id"] for b in shown["buttons"] if b["action"] == "approve"]
    assert "Approved by" in await press(client, thread, ref, approver)
    plan_hash = (await runtime.requests.get(rid)).plan.hash  # type: ignore[union-attr]
    await card(runtime, thread, f"apply-{rid}-{plan_hash}", "succeeded")
    return rid


async def test_destroy_needs_the_stack_named_and_lists_what_was_removed(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    rid = await built(client, runtime, "dev", DEV, approver="ana")

    asked = await say(client, "dev", "destroy shop-dev")
    assert "type the stack name `shop-dev`" in asked
    wrong = await say(client, "dev", "shop-staging")
    assert "didn't match" in wrong and "`shop-dev`" in wrong
    assert (await runtime.requests.get(rid)).status == "applied"  # type: ignore[union-attr]
    assert await runtime.db.jobs.count_documents({"kind": "destroy"}) == 0

    going = await say(client, "dev", "shop-dev")
    assert "Destroying *shop-dev* now" in going
    done = await card(runtime, "dev", destroy_job(await runtime.requests.get(rid)), "succeeded")
    assert done["title"] == "Destroyed shop-dev"
    assert "removed" in done["text"] and "simulated" in done["text"].lower()
    removed = done["resources"]
    assert any(r.startswith("Cloud SQL instance") for r in removed), removed
    assert any(r.startswith("Storage bucket") for r in removed), removed
    assert all(f"• {r}" in done["text"] for r in removed), "the chat lists every removed resource"
    request = await runtime.requests.get(rid)
    assert request is not None and request.status == "destroyed" and request.outputs == {}
    assert "don't know a live stack" in await say(client, "dev", "destroy shop-dev")

    # The audit trail: exactly these records, each saying who, which plan, which engine and the result.
    rows = await runtime.audit.list(request_id=rid)
    assert [r["event"] for r in rows] == [
        "requested", "planned", "approved", "applied", "destroy_approved", "destroyed"]
    requested, planned, approved, applied, destroy_ok, destroyed = rows
    plan_hash = request.plan.hash
    assert (requested["user"], requested["stack"], requested["spec"]["app"]) == ("ana", "shop-dev", "shop")
    assert (planned["engine"], planned["plan_hash"]) == ("offline", plan_hash)
    assert (approved["user"], approved["requested_by"], approved["plan_hash"], approved["engine"]) == (
        "ana", "ana", plan_hash, "offline")
    assert (applied["engine"], applied["plan_hash"], applied["approved_by"], applied["result"]) == (
        "offline", plan_hash, "ana", "succeeded")
    assert (destroy_ok["user"], destroy_ok["stack"]) == ("ana", "shop-dev")
    assert (destroyed["engine"], destroyed["result"]) == ("offline", "succeeded")
    assert len(destroyed["removed"]) == len(removed)
    assert all(r["ts"] for r in rows)


async def test_prod_destroy_needs_a_second_person_and_deletion_protection_says_so(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    rid = await built(client, runtime, "prod", PROD, approver="bob")

    await say(client, "prod", "destroy shop-prod")
    waiting = await chat(client, "prod", "shop-prod")
    assert "needs approval from someone else" in waiting["reply"]
    assert (await runtime.requests.get(rid)).status == "destroy_requested"  # type: ignore[union-attr]
    [ref] = [b["request_id"] for r in waiting["replies"] for b in r["buttons"] if b["action"] == "approve"]

    own = await press(client, "prod", ref, "ana")
    assert "someone other than whoever asked for it" in own
    assert await runtime.db.jobs.count_documents({"kind": "destroy"}) == 0

    # Two approvers at once: one starts the destroy, the other is told; one job either way.
    answers = await asyncio.gather(press(client, "prod", ref, "bob"), press(client, "prod", ref, "carol"))
    assert sorted("Destroying *shop-prod* now" in a for a in answers) == [False, True], answers
    assert any("a moment ago" in a for a in answers), answers
    failed = await card(runtime, "prod", destroy_job(await runtime.requests.get(rid)), "failed")
    assert failed["title"] == "Destroying shop-prod failed"
    assert "nothing was removed: deletion protection is on for" in failed["text"]
    assert failed["text"].count("deletion protection is on") == 1, failed["text"]
    assert "Cloud SQL instance" in failed["error"]
    # The worker ends the job (the card above) and then moves the request back: one write behind the card.
    async def back_to_applied() -> Request | None:
        found = await runtime.requests.get(rid)
        return found if found is not None and found.status == "applied" else None

    assert await eventually(back_to_applied), "the stack is still there"
    # Its live-stack pointer, dropped while it was destroying, is written right after that status.
    assert await eventually(lambda: runtime.requests.live_stack("shop-prod")) is not None

    rows = await runtime.audit.list(request_id=rid)
    events = [r["event"] for r in rows]
    assert events == ["requested", "planned", "approved", "applied", "destroy_requested", "refused",
                      "destroy_approved", "destroy_failed"], events
    [refusal] = [r for r in rows if r["event"] == "refused"]
    assert (refusal["user"], refusal["action"], refusal["environment"]) == ("ana", "approve_destroy", "prod")
    [asked, approved] = [r for r in rows if r["event"] in ("destroy_requested", "destroy_approved")]
    assert asked["user"] == "ana" and approved["user"] in ("bob", "carol")
    assert await runtime.db.jobs.count_documents({"kind": "destroy"}) == 1
    [failure] = [r for r in rows if r["event"] == "destroy_failed"]
    assert failure["engine"] == "offline" and "deletion protection" in failure["error"]
